"""``molmtl dft run | xtb | show | batch | list | export``: QM9's DFT (and GFN2-xTB) from the command line;
``run`` and ``xtb`` are views over the ``dft`` and ``xtb`` methods (``molmtl.methods``)."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Optional

import typer

from molmtl import units as units_mod
from molmtl.cli.common import (
    ChargeOption,
    LargestFragmentOption,
    MultiplicityOption,
    UnitsOption,
    energy_unit,
    stage_logger,
)
from molmtl.data.inputs import read_molecule
from molmtl.data.qm9 import load_qm9
from molmtl.dft.result import CalculationResult
from molmtl.dft.store import STATUSES, ResultStore
from molmtl.errors import InputError
from molmtl.fanout import close_client, make_client

log = logging.getLogger(__name__)

dft_app = typer.Typer(help="DFT at QM9's level (B3LYP/6-31G(2df,p), Gaussian conventions) and a GFN2-xTB fast tier.",
                      no_args_is_help=True)

UseStoreOption = typer.Option(True, "--store-results/--no-store", help="Read and write the results store.")
StoreOption = typer.Option(None, "--store", help="SQLite results store (default: $MOLMTL_DFT_STORE or <cache>/dft.sqlite).")
MoleculeArg = typer.Argument(..., help="SMILES (embedded with RDKit ETKDG+MMFF), QM9 id (e.g. qm9:1; QM9 geometry), or .xyz/.sdf file.")


def register(app: typer.Typer) -> None:
    app.add_typer(dft_app, name="dft")


def _emit(result, molecule, as_json: bool, units: str | None, qm9) -> None:
    """A method result with QM9's labels beside it when the molecule is in QM9 (and the geometry's
    distance from QM9's conformer), as a table or as the methods' JSON schema."""
    from molmtl.methods.reference import (
        qm9_entry,  # lazy: RDKit's bond perception, only here
    )
    from molmtl.methods.result import (
        in_energy_unit,  # lazy: imports torch-free parts only, kept with the others
    )
    from molmtl.methods.views import header, result_table  # lazy: the same

    entry = qm9_entry(molecule.with_positions(result.geometry.positions_angstrom) if result.geometry else molecule, qm9)
    if entry is not None:
        result.qm9 = entry.to_json()
        result.qm9["labels"] = {k: v for k, v in entry.labels.items() if k in result.properties}
        result.warnings += entry.notes(f"the {result.geometry.source} geometry" if result.geometry else "this geometry")
    unit = energy_unit(units, "eV" if as_json else "meV")
    shown = in_energy_unit(result, unit)
    if as_json:
        body = shown.to_json()
        body.update(key=result.provenance.get("store_key"), cached=result.provenance.get("cached"))
        typer.echo(json.dumps(body, indent=2, allow_nan=False))
        return
    typer.echo(f"key: {result.provenance.get('store_key')}" + (" (from the results store)" if result.provenance.get("cached") else ""))
    typer.echo("\n".join(header(shown)))
    typer.echo(result_table(shown))
    e_elec = result.extras.get("e_elec_hartree")
    if e_elec is not None:
        factor = {"meV": units_mod.HARTREE_TO_EV * units_mod.EV_TO_MEV, "eV": units_mod.HARTREE_TO_EV, "Hartree": 1.0}[unit]
        typer.echo(f"{'E_elec':<9} {e_elec * factor:>16.{8 if unit == 'Hartree' else 3}f}  {unit} (electronic energy)")
    if result.extras.get("n_imaginary"):
        typer.echo(f"imaginary frequencies: {result.extras['n_imaginary']} (excluded from the thermochemistry)")
    for w in shown.warnings:
        typer.echo(f"warning: {w}", err=True)


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
    as_json: bool = typer.Option(False, "--json", help="One JSON object (docs/result-schema.md), energies in eV unless --units."),
    units: str = UnitsOption,
    charge: int = ChargeOption,
    multiplicity: int = MultiplicityOption,
    largest_fragment: bool = LargestFragmentOption,
    store: Optional[Path] = StoreOption,
    use_store: bool = UseStoreOption,
    force: bool = typer.Option(False, "--force", help="Recompute even if the store has the result."),
) -> None:
    """Run QM9's protocol on one molecule: every property with units and timings, beside QM9's
    label when the molecule is in QM9."""
    from molmtl.methods.dft import (
        DFTMethod,  # lazy: PySCF (half a second); 'dft list' and 'show' need none
    )

    method = DFTMethod(optimize=opt, thermo=thermo, polarizability=polar, device=device, basis=basis,
                       density_fit=density_fit, df_derivatives=df_derivatives, xtb_preopt=xtb_preopt,
                       store=_store(store, use_store), force=force)
    qm9 = load_qm9()
    mol = read_molecule(molecule, embed=True, dataset=qm9, charge=charge, multiplicity=multiplicity,
                        largest_fragment=largest_fragment)
    method.check(mol)
    log.info("DFT (%s) on %s: estimated %.1f minutes on this kind of machine", method.level_of_theory, mol.formula,
             method.estimate_seconds(mol) / 60)
    _emit(method.run(mol, progress=stage_logger()), mol, as_json, units, qm9)


@dft_app.command("xtb")
def xtb(
    molecule: str = MoleculeArg,
    opt: bool = typer.Option(True, "--opt/--no-opt", help="Optimize with GFN2-xTB first."),
    freq: bool = typer.Option(True, "--freq/--no-freq", help="Finite-difference Hessian: frequencies and thermochemistry."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object (docs/result-schema.md), energies in eV unless --units."),
    units: str = UnitsOption,
    charge: int = ChargeOption,
    multiplicity: int = MultiplicityOption,
    largest_fragment: bool = LargestFragmentOption,
    store: Optional[Path] = StoreOption,
    use_store: bool = UseStoreOption,
) -> None:
    """GFN2-xTB in seconds, for every element from H to Rn, charges and radicals (a different
    level of theory from QM9's, labelled as such)."""
    from molmtl.methods.xtb import XTBMethod  # lazy: tblite and PySCF

    qm9 = load_qm9()
    mol = read_molecule(molecule, embed=True, dataset=qm9, charge=charge, multiplicity=multiplicity,
                        largest_fragment=largest_fragment)
    method = XTBMethod(optimize=opt, frequencies=freq, store=_store(store, use_store))
    _emit(method.run(mol, progress=stage_logger()), mol, as_json, units, qm9)


@dft_app.command("export")
def export(
    path: Path = typer.Argument(..., help="The table to write: FILE.csv (one row per calculation, a column per property) or FILE.json (the full records)."),
    store: Optional[Path] = StoreOption,
    status: Optional[str] = typer.Option(None, "--status", help="Only records of this status: running, done or failed."),
    method: Optional[str] = typer.Option(None, "--method", help="Only this level of theory, e.g. GFN2-xTB or B3LYP (a case-insensitive substring)."),
    units: str = UnitsOption,
) -> None:
    """Export the results store as a table: the molecule, its status, the level of theory, every
    property (units in the headers), the time and the reason of a failure."""
    from molmtl.dft.export import export_records  # lazy: only export needs it

    if status is not None and status not in STATUSES:
        raise InputError(f"status {status!r} is not one of {', '.join(STATUSES)}")
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise InputError(f"{path}: export writes .csv or .json, not {suffix or 'a file without a suffix'!r}")
    n = export_records(ResultStore(store), path, status=status, method=method, energy_unit=energy_unit(units, "eV"))
    typer.echo(f"{n} records written to {path}")


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
    from molmtl.dft.fanout import (  # lazy: PySCF (half a second)
        read_batch_csv,
        run_batch,
    )
    from molmtl.dft.jobs import METHODS, XTBJob  # lazy: PySCF
    from molmtl.methods.dft import DFTMethod  # lazy: PySCF

    if method not in METHODS:
        raise InputError(f"method {method!r} is not one of {', '.join(METHODS)}")
    if workers < 0 or threads < 1:
        raise InputError("--workers must be >= 0 and --threads >= 1")
    if method == "dft":
        job = DFTMethod(optimize=opt, thermo=thermo, polarizability=polar, device=device, basis=basis,
                        df_derivatives=df_derivatives).protocol
    else:
        job = XTBJob(optimize=opt, frequencies=thermo)
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
