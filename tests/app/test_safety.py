"""Safe by default: loopback unless a token (or --no-auth) is given, the token enforced, bodies
capped, strict browser headers, Host checks, CORS off unless configured; and ``molmtl serve``'s refusals."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from webhelp import settings_for

from molmtl.app.main import create_app
from molmtl.app.security import CONTENT_SECURITY_POLICY
from molmtl.app.settings import ServerSettings
from molmtl.cli import main
from molmtl.errors import InputError

TOKEN = "s3cret-token-for-tests"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory, qm9):
    settings = settings_for(tmp_path_factory.mktemp("guarded"), start_workers=False, host="0.0.0.0", token=TOKEN,
                            cors_origins=("https://lab.example",))
    with TestClient(create_app(settings, qm9=qm9), base_url="http://192.0.2.10:8000") as client:
        yield client


def test_another_address_needs_a_token_or_no_auth():
    with pytest.raises(InputError, match="--token T"):
        ServerSettings(host="0.0.0.0")
    assert ServerSettings(host="0.0.0.0", no_auth=True).no_auth
    assert ServerSettings(host="10.1.2.3", token=TOKEN).token == TOKEN
    assert ServerSettings().host == "127.0.0.1" and ServerSettings(host="localhost").loopback
    with pytest.raises(InputError, match="at least 8"):
        ServerSettings(token="short")
    with pytest.raises(InputError, match="contradict"):
        ServerSettings(token=TOKEN, no_auth=True)


@pytest.mark.parametrize(("argv", "words"), [
    (["serve", "--host", "0.0.0.0"], "--token T"),
    (["serve", "--token", "short"], "at least 8"),
    (["serve", "--xtb-jobs", "0"], "at least 1"),
    (["serve", "--port", "70000"], "0..65535"),
])
def test_serve_refuses_unsafe_or_impossible_settings_in_one_line(argv, words, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and words in err and err.count("\n") == 1


def test_without_the_token_nothing_answers(guarded):
    for path in ("/api/health", "/api/methods", "/openapi.json"):
        r = guarded.get(path)
        assert r.status_code == 401 and "token" in r.json()["detail"] and r.headers["www-authenticate"] == "Bearer"
    assert guarded.get("/").status_code == 401 and guarded.get("/static/app.js").status_code == 401
    assert guarded.post("/api/predict", json={"molecule": {"query": "C"}}).status_code == 401
    assert guarded.get("/api/health", headers={"Authorization": "Bearer wrong-token-123"}).status_code == 401


def test_the_token_opens_the_api_and_the_page(guarded):
    r = guarded.get("/api/health", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200
    page = guarded.get(f"/?token={TOKEN}&q=CCO", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/?q=CCO"  # the token leaves the address
    cookie = page.headers["set-cookie"]
    assert "molmtl_token=" in cookie and "HttpOnly" in cookie and "samesite=strict" in cookie.lower()
    with_cookie = guarded.get("/?q=CCO", cookies={"molmtl_token": TOKEN})
    assert with_cookie.status_code == 200 and "molmtl" in with_cookie.text


def test_cors_only_for_configured_origins(guarded, api):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    allowed = guarded.get("/api/health", headers={**auth, "Origin": "https://lab.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://lab.example"
    other = guarded.get("/api/health", headers={**auth, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    default = api.get("/api/health", headers={"Origin": "https://lab.example"})
    assert "access-control-allow-origin" not in default.headers  # CORS is off unless configured


def test_a_body_over_1_mb_is_413(api):
    big = {"molecule": {"xyz": "1\n\n" + "C 0 0 0\n" * 140_000}}
    r = api.post("/api/predict", json=big)
    assert r.status_code == 413 and "larger than this server takes" in r.json()["detail"]
    streamed = api.post("/api/molecule", content=(b"x" * 65536 for _ in range(20)), headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413  # no Content-Length: counted as it arrives


def test_pages_carry_a_strict_content_security_policy(api):
    for path in ("/", "/docs", "/api/health", "/static/app.js"):
        r = api.get(path)
        assert r.status_code == 200, path
        assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert r.headers["x-content-type-options"] == "nosniff" and r.headers["referrer-policy"] == "no-referrer"
    assert "script-src 'self';" in CONTENT_SECURITY_POLICY and "unsafe-inline" not in CONTENT_SECURITY_POLICY.split("style-src")[0]
    assert api.get("/api/health").headers["cache-control"] == "no-store"


def test_the_page_loads_nothing_from_elsewhere(api):
    page = api.get("/").text
    docs = api.get("/docs").text
    for html in (page, docs):
        assert "http://" not in html and "https://" not in html and "//cdn" not in html
        for src in ("/static/vendor/3Dmol-min.js", "/static/app.js") if html is page else ("/static/vendor/swagger-ui-bundle.js",):
            assert src in html and api.get(src).status_code == 200
    assert api.get("/static/vendor/3Dmol.LICENSE.txt").status_code == 200


def test_a_loopback_server_answers_only_its_own_host_names(api):
    assert api.get("/api/health", headers={"Host": "127.0.0.1:8000"}).status_code == 200
    assert api.get("/api/health", headers={"Host": "localhost"}).status_code == 200
    assert api.get("/api/health", headers={"Host": "attacker.example"}).status_code == 400  # DNS rebinding


def test_static_files_never_leave_the_static_folder(api):
    for path in ("/static/../main.py", "/static/%2e%2e/main.py", "/static/..%2fmain.py", "/static/vendor/../../settings.py"):
        r = api.get(path)
        assert r.status_code == 404, path
        assert "ServerSettings" not in r.text
