"""``molmtl serve``: the web page and JSON API (FastAPI on uvicorn; ``docs/web.md``)."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from molmtl.errors import InputError

log = logging.getLogger(__name__)


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve_cmd(
        host: str = typer.Option("127.0.0.1", help="Address to listen on; one other than loopback needs --token or --no-auth."),
        port: int = typer.Option(8000, help="Port to listen on."),
        token: str = typer.Option(None, envvar="MOLMTL_TOKEN", help="A token every request must carry (Authorization: Bearer T; the page: open the printed address once). Also $MOLMTL_TOKEN."),
        no_auth: bool = typer.Option(False, "--no-auth", help="Serve a non-loopback address without a token (anyone who reaches it can run jobs)."),
        scheduler: str = typer.Option(None, help="A Dask scheduler's address for the xTB and DFT jobs (default: a LocalCluster on this machine)."),
        dft_jobs: int = typer.Option(1, help="DFT jobs at once."),
        xtb_jobs: int = typer.Option(2, help="xTB jobs at once."),
        queue: int = typer.Option(16, help="Queued jobs at most; more are refused with HTTP 429 and Retry-After."),
        dft_time_limit: float = typer.Option(4 * 3600.0, help="Seconds a DFT job may run before it is stopped."),
        xtb_time_limit: float = typer.Option(900.0, help="Seconds an xTB job may run before it is stopped."),
        max_dft_minutes: float = typer.Option(60.0, help="Refuse DFT whose estimated time is longer (minutes)."),
        data_dir: Path = typer.Option(None, help="Folder of the web job store, jobs.sqlite (default: <cache>/web)."),
        store: Path = typer.Option(None, "--store", help="SQLite results store for xTB and DFT (default: $MOLMTL_DFT_STORE or <cache>/dft.sqlite)."),
        cors_origin: list[str] = typer.Option(None, "--cors-origin", help="An origin allowed cross-origin requests (repeatable; default: none, CORS off)."),
    ) -> None:
        """Serve the page (a molecule in; the network, xTB, DFT and QM9 side by side) and the JSON
        API (/docs). The network answers in the request; xTB and DFT run as durable jobs in worker
        processes. Ctrl-C stops it; jobs still running start again at the next start."""
        import uvicorn  # lazy: the web server's dependencies are only needed here

        from molmtl.app.main import (
            create_app,  # lazy: imports torch, FastAPI and the methods
        )
        from molmtl.app.settings import ServerSettings  # lazy: as above

        if no_auth and token:
            raise InputError("--token and --no-auth contradict each other: give one")
        kwargs = {"data_dir": data_dir} if data_dir is not None else {}
        settings = ServerSettings(host=host, port=port, token=token, no_auth=no_auth, scheduler=scheduler,
                                  slots={"dft": dft_jobs, "xtb": xtb_jobs}, queue_limit=queue,
                                  time_limit_s={"dft": dft_time_limit, "xtb": xtb_time_limit},
                                  max_dft_minutes=max_dft_minutes, store_path=store,
                                  cors_origins=tuple(cors_origin or ()), **kwargs)
        if no_auth and not settings.loopback:
            typer.echo(f"warning: serving {host} with no token (--no-auth): anyone who can reach it can run jobs", err=True)
        app = create_app(settings)
        typer.echo(f"molmtl serve: {settings.url()}  (Ctrl-C stops it)")
        logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
        uvicorn.run(app, host=host, port=port, log_level="info", timeout_graceful_shutdown=10)


__all__ = ["register"]
