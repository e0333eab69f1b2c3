"""How a server is configured: :class:`ServerSettings` (the ``molmtl serve`` options), checked up front."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from molmtl.data.cache import cache_dir
from molmtl.errors import InputError

#: Request bodies above this many bytes are refused (413).
MAX_BODY_BYTES = 1_000_000
#: Jobs start at most this many times: a job running when the server died is re-queued once,
#: then shown as interrupted (a molecule that brings the server down does not do it forever).
MAX_ATTEMPTS = 2


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServerSettings:
    """Everything a server is told at start.

    Attributes:
        host, port: where it listens (127.0.0.1 by default; another address needs ``token`` or ``no_auth``).
        token: the token every request must carry (``Authorization: Bearer T``, ``?token=T`` once
            for the page, then a cookie); None for none.
        no_auth: serve a non-loopback address without a token (a warning is logged).
        scheduler: a Dask scheduler's address for the jobs (None: a LocalCluster of
            ``sum(slots.values())`` worker processes).
        slots: jobs of each method that run at once (default 1 DFT, 2 xTB: fits 2 cores).
        queue_limit: queued jobs at most; one more is refused with 429 and Retry-After.
        time_limit_s: seconds a job of each method may run before it is stopped.
        max_dft_minutes: DFT whose estimated time is longer is refused.
        data_dir: where the web job store lives (``jobs.sqlite``).
        store_path: the xTB/DFT results store (None: ``$MOLMTL_DFT_STORE`` or the cache's ``dft.sqlite``).
        cors_origins: origins allowed cross-origin requests (none: CORS off).
        start_workers: run the job runner (tests of the API alone turn it off: jobs stay queued).
    """

    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None
    no_auth: bool = False
    scheduler: str | None = None
    slots: dict[str, int] = field(default_factory=lambda: {"dft": 1, "xtb": 2})
    queue_limit: int = 16
    time_limit_s: dict[str, float] = field(default_factory=lambda: {"dft": 4 * 3600.0, "xtb": 900.0})
    max_dft_minutes: float = 60.0
    data_dir: Path = field(default_factory=lambda: cache_dir() / "web")
    store_path: Path | None = None
    cors_origins: tuple[str, ...] = ()
    start_workers: bool = True
    max_body_bytes: int = MAX_BODY_BYTES
    max_attempts: int = MAX_ATTEMPTS

    def __post_init__(self):
        self.check()

    def check(self) -> None:
        """InputError (one sentence) for settings that are unsafe or make no sense."""
        if not 0 <= self.port <= 65535:
            raise InputError(f"--port must be 0..65535, got {self.port}")
        if self.token is not None and len(self.token) < 8:
            raise InputError("--token must be at least 8 characters long")
        if self.token is not None and self.no_auth:
            raise InputError("--token and --no-auth contradict each other: give one")
        if not is_loopback(self.host) and self.token is None and not self.no_auth:
            raise InputError(f"--host {self.host} is reachable from other machines: give --token T (every request "
                             "must then carry it) or --no-auth (anyone who can reach it can run jobs)")
        for name, n in self.slots.items():
            if n < 1:
                raise InputError(f"the number of {name} jobs at once must be at least 1, got {n}")
        if self.queue_limit < 1:
            raise InputError(f"--queue must be at least 1, got {self.queue_limit}")
        for name, t in self.time_limit_s.items():
            if not t > 0:
                raise InputError(f"the time limit of {name} jobs must be positive, got {t}")
        if not self.max_dft_minutes > 0:
            raise InputError(f"--max-dft-minutes must be positive, got {self.max_dft_minutes}")

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    @property
    def jobs_path(self) -> Path:
        return Path(self.data_dir) / "jobs.sqlite"

    def slots_of(self, method: str) -> int:
        """Jobs of ``method`` at once (1 for a method the settings do not name)."""
        return int(self.slots.get(method, 1))

    def time_limit_of(self, method: str) -> float:
        return float(self.time_limit_s.get(method, max(self.time_limit_s.values(), default=3600.0)))

    def url(self) -> str:
        """The page's address (with the token, when there is one, so that it can be opened as printed)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        host = f"[{host}]" if ":" in host and not host.startswith("[") else host
        return f"http://{host}:{self.port}/" + (f"?token={self.token}" if self.token else "")


__all__ = ["ServerSettings", "MAX_BODY_BYTES", "MAX_ATTEMPTS", "is_loopback"]
