"""The page (``/``, and ``/jobs/{id}`` for a job's own URL) and the API docs (``/docs``), all
served from the package: no script, style or font from elsewhere."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from molmtl import __version__
from molmtl.app.molecules import COMMON_NAMES

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parents[1] / "templates"))  # autoescapes .html

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def page(request: Request):
    """The page: a molecule in, the methods side by side (``?q=SMILES`` or ``?m=ID`` opens one)."""
    return TEMPLATES.TemplateResponse(request, "index.html", {"version": __version__, "names": sorted(COMMON_NAMES)})


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, job_id: str):
    """The page, opened on a job (the script reads the id from the address)."""
    return TEMPLATES.TemplateResponse(request, "index.html", {"version": __version__, "names": sorted(COMMON_NAMES)})


@router.get("/docs", response_class=HTMLResponse)
def docs(request: Request):
    """Swagger UI over ``/openapi.json``, from the package's vendored copy."""
    return TEMPLATES.TemplateResponse(request, "docs.html", {"version": __version__})
