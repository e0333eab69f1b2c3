"""``molmtl compare MOLECULE``: the network, xTB, DFT and QM9's labels side by side."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import typer

from molmtl.cli.common import (
    ChargeOption,
    LargestFragmentOption,
    MultiplicityOption,
    UnitsOption,
    energy_unit,
    stage_logger,
)
from molmtl.data.cache import atomic_path
from molmtl.data.inputs import read_molecule
from molmtl.data.qm9 import load_qm9
from molmtl.errors import InputError, MolmtlError
from molmtl.methods.registry import METHODS
from molmtl.registry import parse_pairs

log = logging.getLogger(__name__)


def build_methods(names: str, options: list[str], *, store=None, qm9=None) -> dict:
    """``"ml,xtb,dft"`` and ``["dft.thermo=false", ...]`` -> method name -> built method."""
    wanted = [METHODS.canonical(n) for n in (w.strip() for w in names.split(",")) if n]
    if not wanted:
        raise InputError("--methods names no method; choose from: " + ", ".join(METHODS.names()))
    if len(set(wanted)) != len(wanted):
        raise InputError(f"--methods repeats a method: {names}")
    per_method: dict[str, list[str]] = {m: [] for m in wanted}
    for item in options:
        target, dot, rest = item.partition(".")
        if not dot or not rest:
            raise InputError(f"--method-opt takes METHOD.KEY=VALUE (e.g. dft.thermo=false), got {item!r}")
        name = METHODS.canonical(target)
        if name not in per_method:
            raise InputError(f"--method-opt {item!r} is for {name}, which is not among --methods {names}")
        per_method[name].append(rest)
    built = {}
    for name in wanted:
        opts = METHODS.check_options(name, parse_pairs(per_method[name], "--method-opt value"))
        injected = {"store": store} if name in ("xtb", "dft") else {"qm9": qm9} if name in ("ml", "qm9") else {}
        built[name] = METHODS.build(name, **injected, **opts)
    return built


def register(app: typer.Typer) -> None:
    @app.command("compare")
    def compare_cmd(
        molecule: str = typer.Argument(..., help="SMILES, QM9 id (qm9:14), or an .xyz/.sdf/.mol file."),
        methods: str = typer.Option("ml,xtb,qm9", help="Comma-separated methods (molmtl plugins methods lists them): ml (the network), xtb (GFN2-xTB), dft (QM9's B3LYP protocol), qm9 (QM9's labels)."),
        method_opt: list[str] = typer.Option(None, "--method-opt", metavar="METHOD.K=V", help="A method's option, e.g. dft.thermo=false, xtb.optimize=false, ml.model=runs/painn; repeatable."),
        reference: str = typer.Option("auto", help="auto (QM9's label when the molecule is in QM9, else DFT's values when DFT runs), qm9, dft or none."),
        max_dft_minutes: float = typer.Option(15.0, help="Refuse DFT when its estimated time is longer (minutes); raise it to run anyway."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object: molecule, reference, methods (each a result, wall_s, abs_error)."),
        csv_file: Path = typer.Option(None, "--csv", help="Also write the table as CSV to this file."),
        units: str = UnitsOption,
        charge: int = ChargeOption,
        multiplicity: int = MultiplicityOption,
        largest_fragment: bool = LargestFragmentOption,
        store: Path = typer.Option(None, "--store", help="SQLite results store for xtb and dft (default: $MOLMTL_DFT_STORE or <cache>/dft.sqlite)."),
    ) -> None:
        """Run several methods on one molecule: values (+- uncertainty), the reference, |error| and
        error / chemical accuracy per method, wall time and the speed-up over DFT."""
        from molmtl.dft.store import (
            ResultStore,  # lazy: the store imports the DFT package (PySCF, half a second)
        )
        from molmtl.methods.compare import (
            compare,  # lazy: the methods import torch and PySCF
        )
        from molmtl.methods.views import domain_lines  # lazy: the same

        if not max_dft_minutes > 0:
            raise InputError(f"--max-dft-minutes must be a positive number of minutes, got {max_dft_minutes}")
        unit = energy_unit(units, "eV" if as_json else "meV")
        qm9 = load_qm9()
        mol = read_molecule(molecule, embed=True, dataset=qm9, charge=charge, multiplicity=multiplicity,
                            largest_fragment=largest_fragment)
        built = build_methods(methods, method_opt or [], store=ResultStore(store), qm9=qm9)
        estimates = {name: s for name, method in built.items() if math.isfinite(s := _estimate(method, mol))}
        if "dft" not in built:  # the speed-ups are over DFT: its estimate when it does not run
            dft_s = _estimate(METHODS.build("dft", store=None), mol)
            if dft_s > 0:
                estimates["dft"] = dft_s
        if "dft" in built and "dft" in estimates:
            minutes = estimates["dft"] / 60
            log.info("DFT (%s) on %s: estimated %.1f minutes on this kind of machine", built["dft"].level_of_theory,
                     mol.formula, minutes)
            if minutes > max_dft_minutes:
                raise InputError(f"DFT on {mol.name or mol.formula} ({mol.n_atoms} atoms) is estimated at {minutes:.0f} minutes, "
                                 f"more than --max-dft-minutes {max_dft_minutes:g}; raise it to run anyway, or leave out "
                                 "the Hessian with --method-opt dft.thermo=false")
        result = compare(mol, built, reference=reference, qm9=qm9, progress=stage_logger(), estimates=estimates)
        shown = result.in_energy_unit(unit)
        if csv_file is not None:
            with atomic_path(csv_file) as tmp:
                tmp.write_text(shown.to_csv())
        if as_json:
            typer.echo(json.dumps(shown.to_json(), indent=2, allow_nan=False))
            return
        name = mol.name or mol.smiles or mol.formula
        typer.echo(f"{name} ({mol.formula}, {mol.n_atoms} atoms; input: {mol.source})")
        typer.echo(shown.table())
        ran_dft = "dft" in shown.results
        for m, r in shown.results.items():
            for line in domain_lines(r, suggest=not ran_dft):  # no "check with DFT" beside DFT's own column
                typer.echo(f"{m} {line}")
        for m, r in shown.results.items():
            for w in r.warnings:
                typer.echo(f"warning: {m}: {w}", err=True)


def _estimate(method, mol) -> float:
    """The method's time estimate (s), NaN where it has none or cannot take the molecule (that
    method then fails in the comparison with its own sentence, and the others still run)."""
    try:
        return method.estimate_seconds(mol)
    except MolmtlError:
        return float("nan")


__all__ = ["register", "build_methods"]
