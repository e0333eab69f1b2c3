// Swagger UI over this server's OpenAPI document (a file, not an inline script: the page's CSP allows no inline script).
window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
