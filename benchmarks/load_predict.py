"""Load on ``POST /api/predict``: N concurrent clients on loopback for T seconds, beside the
in-process time of the same predictions.

Starts ``molmtl serve`` on a free loopback port (its own temporary job store), warms it up, then
runs ``--clients`` asyncio httpx clients, each sending one request after another (cycling through
the molecules) until ``--seconds`` are up. Reports requests/s, p50/p95/p99/max latency and every
failed request (a non-200 answer or a transport error), then the in-process time of the network's
method (``MLMethod.run`` after parsing, models loaded, one torch thread) on the same molecules.
Loopback only, bounded in time: it stops by itself.

    python benchmarks/load_predict.py --clients 20 --seconds 60 --input smiles
    python benchmarks/load_predict.py --clients 20 --seconds 60 --input qm9
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "load_predict.jsonl"
#: QM9 molecules of the test part, as SMILES (an RDKit embedding per request) or QM9 ids (QM9's geometry).
MOLECULES = {"smiles": ["Fc1cccnc1", "CC(=O)OC", "OCC1CCCO1", "N#CC1=CC=CN1", "CC1(C)CC1O", "O=CC1=CC=CO1",
                        "CC#CC(N)=O", "C1CC2CC12"],
             "qm9": ["qm9:4210", "qm9:14", "qm9:100", "qm9:2000", "qm9:30000", "qm9:65000", "qm9:99000", "qm9:130000"]}
MAX_SECONDS = 600.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, folder: Path) -> subprocess.Popen:
    cmd = [str(Path(sys.executable).with_name("molmtl")), "serve", "--port", str(port), "--data-dir", str(folder / "web"),
           "--store", str(folder / "dft.sqlite"), "--xtb-jobs", "1", "--dft-jobs", "1"]
    log = open(folder / "serve.log", "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    url = f"http://127.0.0.1:{port}"
    end = time.monotonic() + 180
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit(f"molmtl serve exited: {(folder / 'serve.log').read_text()[-2000:]}")
        try:
            if httpx.get(url + "/api/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("molmtl serve did not answer in 180 s")


async def client_loop(client: httpx.AsyncClient, molecules: list[str], offset: int, end: float,
                      latencies: list[float], failures: list[str]) -> None:
    i = offset
    while time.monotonic() < end:
        body = {"molecule": {"query": molecules[i % len(molecules)]}}
        i += 1
        t0 = time.perf_counter()
        try:
            r = await client.post("/api/predict", json=body)
            ok = r.status_code == 200 and len(r.json().get("properties", {})) == 19
            if not ok:
                failures.append(f"{r.status_code}: {r.text[:200]}")
        except httpx.HTTPError as exc:
            failures.append(f"{type(exc).__name__}: {exc}")
            continue
        latencies.append(time.perf_counter() - t0)


async def load(url: str, molecules: list[str], clients: int, seconds: float) -> dict:
    latencies: list[float] = []
    failures: list[str] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        for m in molecules:  # warm-up: each molecule once (first embedding, the split's parts)
            (await client.post("/api/predict", json={"molecule": {"query": m}})).raise_for_status()
        t0 = time.monotonic()
        end = t0 + seconds
        await asyncio.gather(*(client_loop(client, molecules, k, end, latencies, failures) for k in range(clients)))
        wall = time.monotonic() - t0
    lat = sorted(latencies)

    def q(p: float) -> float:
        return lat[min(len(lat) - 1, int(round(p * (len(lat) - 1))))] if lat else float("nan")

    return {"requests": len(lat) + len(failures), "ok": len(lat), "failed": len(failures), "failures": failures[:10],
            "wall_s": wall, "requests_per_s": len(lat) / wall, "p50_ms": 1000 * q(0.50), "p95_ms": 1000 * q(0.95),
            "p99_ms": 1000 * q(0.99), "max_ms": 1000 * (lat[-1] if lat else float("nan"))}


def in_process(molecules: list[str], rounds: int) -> dict:
    """The network's method in this process on the same molecules: parse + predict, and predict alone."""
    import torch

    from molmtl.app.molecules import molecule_from_query
    from molmtl.data.qm9 import load_qm9
    from molmtl.methods.registry import METHODS

    torch.set_num_threads(1)
    qm9 = load_qm9()
    method = METHODS.build("ml", qm9=qm9)
    for m in molecules:
        method.run(molecule_from_query(m, qm9))  # models loaded, caches warm
    total, predict = [], []
    for _ in range(rounds):
        for m in molecules:
            t0 = time.perf_counter()
            mol = molecule_from_query(m, qm9)
            t1 = time.perf_counter()
            method.run(mol)
            t2 = time.perf_counter()
            total.append(t2 - t0)
            predict.append(t2 - t1)
    return {"parse_and_predict_median_ms": 1000 * statistics.median(total),
            "predict_median_ms": 1000 * statistics.median(predict), "n": len(total)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--input", choices=sorted(MOLECULES), default="smiles", help="SMILES (embedded per request) or QM9 ids")
    p.add_argument("--rounds", type=int, default=5, help="rounds of the in-process timing")
    args = p.parse_args()
    if not 0 < args.seconds <= MAX_SECONDS:
        raise SystemExit(f"--seconds must be in (0, {MAX_SECONDS:g}]")
    molecules = MOLECULES[args.input]
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        server = start_server(port, Path(tmp))
        try:
            served = asyncio.run(load(f"http://127.0.0.1:{port}", molecules, args.clients, args.seconds))
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
    local = in_process(molecules, args.rounds)
    record = {"date": time.strftime("%Y-%m-%d"), "machine": f"{os.cpu_count()} CPU cores ({platform.machine()})",
              "clients": args.clients, "seconds": args.seconds, "input": args.input, "served": served,
              "in_process": local, "command": " ".join(["python", "benchmarks/load_predict.py", *sys.argv[1:]])}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a") as fh:
        fh.write(json.dumps(record) + "\n")
    s = served
    print(f"{args.clients} clients x {s['wall_s']:.0f} s, POST /api/predict ({args.input}): {s['requests']} requests, "
          f"{s['failed']} failed; {s['requests_per_s']:.1f} req/s; latency p50 {s['p50_ms']:.0f} ms, p95 {s['p95_ms']:.0f} ms, "
          f"p99 {s['p99_ms']:.0f} ms, max {s['max_ms']:.0f} ms")
    print(f"in process (one thread): parse + predict {local['parse_and_predict_median_ms']:.1f} ms, "
          f"predict {local['predict_median_ms']:.1f} ms (median of {local['n']})")
    for f in s["failures"]:
        print("failure:", f)


if __name__ == "__main__":
    main()
