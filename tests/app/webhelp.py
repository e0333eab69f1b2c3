"""Helpers of the web tests (a module of its own: every test folder has a ``conftest``)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from molmtl.app.settings import ServerSettings

ROOT = Path(__file__).resolve().parents[2]
MOLMTL = Path(sys.executable).with_name("molmtl")


def settings_for(folder: Path, **changes) -> ServerSettings:
    """Settings of a test server: its stores in ``folder``, one job of each method at once."""
    base = {"data_dir": folder / "web", "store_path": folder / "dft.sqlite", "slots": {"xtb": 1, "dft": 1}}
    return ServerSettings(**{**base, **changes})


def wait_for_job(client, job_id: str, statuses=("done", "failed", "cancelled", "interrupted"), timeout: float = 120.0,
                 headers: dict | None = None) -> dict:
    """Poll ``GET /api/jobs/{id}`` until the job is in one of ``statuses``."""
    end = time.monotonic() + timeout
    while True:
        job = client.get(f"/api/jobs/{job_id}", headers=headers).json()
        if job["status"] in statuses:
            return job
        if time.monotonic() > end:
            raise AssertionError(f"job {job_id} still {job['status']} ({job.get('stage')}) after {timeout} s")
        time.sleep(0.2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``molmtl serve`` in a process of its own (stopped by SIGTERM, or killed by the fault tests)."""

    def __init__(self, folder: Path, port: int | None = None, *extra: str):
        self.folder, self.port = folder, port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra = extra
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 120.0) -> "Server":
        log = open(self.folder / "serve.log", "ab")
        cmd = [str(MOLMTL), "serve", "--port", str(self.port), "--data-dir", str(self.folder / "web"),
               "--store", str(self.folder / "dft.sqlite"), *self.extra]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env, start_new_session=True)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise AssertionError(f"molmtl serve exited with {self.proc.returncode}: {self.log()[-2000:]}")
            try:
                if httpx.get(self.url + "/api/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"molmtl serve did not answer in {timeout} s: {self.log()[-2000:]}")

    def log(self) -> str:
        return (self.folder / "serve.log").read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the server process alone, as a crash would; its Dask worker processes must
        then end by themselves (AssertionError if any is left after 30 s; they are killed then)."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        end = time.monotonic() + 30
        while _group_alive(self.proc.pid):
            if time.monotonic() > end:
                os.killpg(self.proc.pid, signal.SIGKILL)
                raise AssertionError("worker processes outlived the killed server")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        if _group_alive(self.proc.pid):
            os.killpg(self.proc.pid, signal.SIGKILL)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
