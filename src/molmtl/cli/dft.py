"""``molmtl dft run | xtb | show | batch | list``: QM9's DFT (and GFN2-xTB) from the command line."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict
from pathlib import Path
from typing import Optional

import typer

from molmtl.data.inputs import read_molecule
from molmtl.dft.result import CalculationResult
from molmtl.dft.store import STATUSES, ResultStore
from molmtl.errors import InputError
from molmtl.fanout import close_client, make_client

dft_app = typer.Typer(help="DFT at QM9's level (B3LYP/6-31G(2df,p), Gaussian conventions) and a GFN2-xTB fast tier.",
                      no_args_is_help=True)

UseStoreOption = typer.Option(True, "--store-results/--no-store", help="Read and write the results store.")
StoreOption = typer.Option(None, "--store", help="SQLite results store (default: $MOLMTL_DFT_STORE or <cache>/dft.sqlite).")
MoleculeArg = typer.Argument(..., help="SMILES (embedded with RDKit ETKDG+MMFF), QM9 id (e.g. qm9:1; QM9 geometry), or .xyz/.sdf file.")


def register(app: typer.Typer) -> None:
    app.add_typer(dft_app, name="dft")


def _protocol(opt: bool, thermo: bool, polar: bool, device: str, xtb_preopt: bool, basis: Optional[str],
              density_fit: bool, df_derivatives: bool = False):
    from molmtl.dft.basis import (
        QM9_BASIS,  # lazy: PySCF (half a second); 'dft list' and 'show' need none
    )
    from molmtl.dft.protocol import QM9Protocol  # lazy: the same

    return QM9Protocol(optimize=opt, thermo=thermo, polarizability=polar, device=device, xtb_preopt=xtb_preopt,
                       basis=basis or QM9_BASIS, convention="gaussian" if not basis else "spherical",
                       density_fit=density_fit, df_derivatives=df_derivatives)


def _finite(value):
    """NaN/inf (e.g. xTB's LUMO when there is no virtual orbital) -> null, so the JSON is strict."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _emit(key: str, result, cached: bool, as_json: bool) -> None:
    if as_json:
        out = {"key": key, "cached": cached, "method": result.method, "device": result.device,
               "properties": result.properties, "units": result.property_units(), "raw": result.raw,
               "timings_s": result.timings_s, "n_imaginary": result.n_imaginary, "warnings": result.warnings}
        typer.echo(json.dumps(_finite(out), indent=2, allow_nan=False))
    else:
        typer.echo(f"key: {key}{' (cached)' if cached else ''}")
        typer.echo(result.table())


def _store(path: Optional[Path], use: bool):
    return ResultStore(path) if use else None


@dft_app.command("run")
def run(
    molecule: str = MoleculeArg,
    opt: bool = typer.Option(True, "--opt/--no-opt", help="Optimize the geometry (QM9 ids start from QM9's geometry)."),
    thermo: bool = typer.Option(True, "--thermo/--no-thermo", help="Analytic Hessian: ZPVE, U0, U, H, G, Cv."),
    polar: bool = typer.Option(True, "--polar/--no-polar", help="Isotropic polarizability (CPKS)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or gpu (GPU4PySCF)."),
    xtb_preopt: bool = typer.Option(False, "--xtb-preopt", help="Pre-optimize with GFN2-xTB."),
    basis: Optional[str] = typer.Option(None, "--basis", help="Another PySCF basis (spherical), e.g. sto-3g; not QM9's level."),
    density_fit: bool = typer.Option(False, "--density-fit", help="Density fitting: faster, ~0.1 mHa from exact."),
    df_derivatives: bool = typer.Option(
        False, "--df-derivatives",
        help="Density fitting for the optimization and the Hessian only: SCF energy, orbitals, dipole, R2 and polarizability stay exact; thermochemistry uses the density-fitted Hessian."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object; properties in the registry's units."),
    store: Optional[Path] = StoreOption,
    use_store: bool = UseStoreOption,
    force: bool = typer.Option(False, "--force", help="Recompute even if the store has the result."),
) -> None:
    """Run QM9's protocol on one molecule and print all properties with units and timings."""
    from molmtl.dft.jobs import calculate  # lazy: PySCF, as in _protocol

    proto = _protocol(opt, thermo, polar, device, xtb_preopt, basis, density_fit, df_derivatives)
    mol = read_molecule(molecule, embed=True)
    if thermo and mol.n_atoms > 6 and device != "gpu" and basis is None:
        logging.getLogger("molmtl.dft").warning(
            "the analytic Hessian of %d atoms takes tens of minutes on a few CPU cores; "
            "--no-thermo gives the other properties in minutes (an 18-atom single point: ~5 min on 2 cores)", mol.n_atoms)
    key, result, cached = calculate(mol, proto, _store(store, use_store), force=force)
    _emit(key, result, cached, as_json)


@dft_app.command("xtb")
def xtb(
    molecule: str = MoleculeArg,
    opt: bool = typer.Option(True, "--opt/--no-opt", help="Optimize with GFN2-xTB first."),
    freq: bool = typer.Option(True, "--freq/--no-freq", help="Finite-difference Hessian: frequencies and thermochemistry."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object."),
    store: Optional[Path] = StoreOption,
    use_store: bool = UseStoreOption,
) -> None:
    """Quick GFN2-xTB estimate (a different level of theory from QM9's, labelled as such)."""
    from molmtl.dft.jobs import XTBJob, calculate  # lazy: PySCF, as in _protocol

    mol = read_molecule(molecule, embed=True)
    key, result, cached = calculate(mol, XTBJob(optimize=opt, frequencies=freq), _store(store, use_store))
    _emit(key, result, cached, as_json)


@dft_app.command("show")
def show(key: str = typer.Argument(..., help="Store key (or a unique prefix)."), store: Optional[Path] = StoreOption,
         as_json: bool = typer.Option(False, "--json", help="Print the stored record as JSON.")) -> None:
    """Show a stored calculation: status, failure reason or the property table."""
    rec = ResultStore(store).find(key)
    if as_json:
        typer.echo(json.dumps(asdict(rec), indent=2))
        return
    typer.echo(f"key: {rec.key}  status: {rec.status}  attempts: {rec.attempts}  molecule: {rec.name or rec.formula}")
    if rec.status == "failed":
        typer.echo(f"reason: {rec.error}")
    elif rec.status == "done":
        typer.echo(CalculationResult.from_dict(rec.result).table())


@dft_app.command("list")
def list_(store: Optional[Path] = StoreOption, status: Optional[str] = typer.Option(None, "--status", help="running, done or failed.")) -> None:
    """List stored calculations (key, status, molecule, method)."""
    if status is not None and status not in STATUSES:
        raise InputError(f"status {status!r} is not one of {', '.join(STATUSES)}")
    for rec in ResultStore(store).records(status):
        typer.echo(f"{rec.key}  {rec.status:<8s} {rec.name or rec.formula or '-':<24s} {rec.method}"
                   + (f"  ({rec.error})" if rec.error else ""))


@dft_app.command("batch")
def batch(
    csv_file: Path = typer.Argument(..., help="CSV with a 'smiles' (or 'molecule') column and an optional 'name' column."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Address of a running Dask scheduler (default: a LocalCluster)."),
    workers: int = typer.Option(1, "--workers", help="LocalCluster worker processes; 0 runs in this process."),
    threads: int = typer.Option(1, "--threads", help="OpenMP threads per calculation (LocalCluster or in-process)."),
    method: str = typer.Option("dft", "--method", help="dft (QM9's protocol) or xtb."),
    opt: bool = typer.Option(True, "--opt/--no-opt", help="Optimize geometries."),
    thermo: bool = typer.Option(True, "--thermo/--no-thermo", help="Frequencies and thermochemistry."),
    polar: bool = typer.Option(True, "--polar/--no-polar", help="Polarizability."),
    basis: Optional[str] = typer.Option(None, "--basis", help="Another PySCF basis (spherical); not QM9's level."),
    device: str = typer.Option("cpu", "--device", help="auto, cpu or gpu."),
    df_derivatives: bool = typer.Option(
        False, "--df-derivatives",
        help="Density fitting for the optimization and the Hessian only: SCF energy, orbitals, dipole, R2 and polarizability stay exact; thermochemistry uses the density-fitted Hessian."),
    store: Optional[Path] = StoreOption,
) -> None:
    """Run many molecules; every result (or failure with its reason) goes to the store; rerun to resume."""
    from molmtl.dft.fanout import read_batch_csv, run_batch  # lazy: PySCF (half a second)
    from molmtl.dft.jobs import METHODS, XTBJob  # lazy: PySCF

    if method not in METHODS:
        raise InputError(f"method {method!r} is not one of {', '.join(METHODS)}")
    if workers < 0 or threads < 1:
        raise InputError("--workers must be >= 0 and --threads >= 1")
    job = _protocol(opt, thermo, polar, device, False, basis, False, df_derivatives) if method == "dft" else XTBJob(optimize=opt, frequencies=thermo)
    items = read_batch_csv(csv_file)
    results = ResultStore(store)
    client = make_client(scheduler, n_workers=workers, threads_per_task=threads) if (scheduler or workers > 0) else None
    if client is None:
        from pyscf import lib  # lazy: PySCF, as above

        lib.num_threads(threads)
    try:
        with typer.progressbar(length=len(items), label=f"{job.method}", file=None) as bar:
            def progress(name: str, status: str) -> None:
                bar.update(1)

            summary = run_batch(items, job, results, client=client, progress=progress)
    finally:
        close_client(client)
    typer.echo(f"{summary.done} of {summary.total} done ({summary.cached} from the store), {len(summary.failed)} failed; "
               f"store: {results.path}")
    for name, reason in summary.failed.items():
        typer.echo(f"failed: {name} [{summary.keys.get(name, '-')}]: {reason}")
