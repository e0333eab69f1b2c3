"""Fixtures of the web tests: applications on temporary stores, one Dask cluster for the session,
a live ``molmtl serve`` for the browser, and Debian's Chromium driven by Playwright.

Browser tests skip, with the reason, where ``/usr/bin/chromium`` is missing; with
``MOLMTL_REQUIRE_BROWSER=1`` (CI sets it) they fail instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from webhelp import Server, settings_for

from molmtl.app.main import create_app
from molmtl.app.settings import ServerSettings
from molmtl.app.workers import job_client
from molmtl.fanout import close_client

CHROMIUM = Path("/usr/bin/chromium")
REQUIRE_BROWSER = "MOLMTL_REQUIRE_BROWSER"
#: Chromium without a GPU, a network or a profile of its own; SwiftShader gives the 3D view its WebGL.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]


@pytest.fixture(scope="session")
def dask_client():
    """One LocalCluster (two worker processes) for every in-process application that runs jobs."""
    client = job_client(ServerSettings(slots={"xtb": 1, "dft": 1}))
    yield client
    close_client(client)


@pytest.fixture(scope="module")
def api(tmp_path_factory, qm9):
    """An application whose job runner does not start (jobs stay queued): the API alone."""
    app = create_app(settings_for(tmp_path_factory.mktemp("api"), start_workers=False), qm9=qm9)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client


@pytest.fixture(scope="module")
def jobs_api(tmp_path_factory, qm9, dask_client):
    """An application whose jobs run on the session's Dask workers."""
    folder = tmp_path_factory.mktemp("jobs")
    app = create_app(settings_for(folder, time_limit_s={"xtb": 120.0, "dft": 600.0}), qm9=qm9, client=dask_client)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        client.folder = folder
        yield client


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """A real ``molmtl serve`` on a free loopback port (uvicorn, a LocalCluster for the jobs)."""
    server = Server(tmp_path_factory.mktemp("live")).start()
    yield server
    server.stop()


def _need_chromium() -> None:
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} is not installed (apt-get install chromium)"
    if os.environ.get(REQUIRE_BROWSER) == "1":
        pytest.fail(f"{reason}, and {REQUIRE_BROWSER}=1 says the browser tests must run")
    pytest.skip(f"{reason}; the browser tests skip (set {REQUIRE_BROWSER}=1 to fail instead)")


@pytest.fixture(scope="session")
def chromium(tmp_path_factory, request):
    """Debian's Chromium through pytest-playwright's ``browser_type``, with a fresh profile folder."""
    _need_chromium()
    browser_type = request.getfixturevalue("browser_type")
    context = browser_type.launch_persistent_context(
        str(tmp_path_factory.mktemp("chromium-profile")), executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
        headless=True, viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    yield context
    context.close()


@pytest.fixture
def web_page(chromium, live_server):
    """A new tab on the live server; JavaScript errors on the page fail the test."""
    page = chromium.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.base = live_server.url
    yield page
    page.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
