"""``molmtl data prepare | info | show``: the QM9 cache and its records."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

import typer

from molmtl.chem.validate import domain_problems
from molmtl.data.cache import CACHE_ENV
from molmtl.data.inputs import read_molecule
from molmtl.data.qm9 import load_qm9, prepare_qm9
from molmtl.data.rdkit_qm9 import prepare_rdkit_geometries
from molmtl.data.summary import record_table, summarize, summary_table
from molmtl.errors import NotFoundError

data_app = typer.Typer(help="QM9 offline: prepare the cache, summarize it, show a molecule's record.", no_args_is_help=True)

CacheOption = typer.Option(None, "--cache-dir", help=f"Cache directory (default: ${CACHE_ENV} or ~/.cache/molmtl).")


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")


@data_app.command("prepare")
def prepare(cache_dir: Optional[Path] = CacheOption, force: bool = typer.Option(False, "--force", help="Rebuild even if the cache exists."),
            rdkit_geometries: bool = typer.Option(False, "--rdkit-geometries", help="Also embed every QM9 SMILES with RDKit (ETKDG + MMFF; about 50 core-minutes, once) for 'train --geometry rdkit'."),
            workers: int = typer.Option(None, "--workers", min=1, help="Processes that embed, for --rdkit-geometries (default: one per CPU core).")) -> None:
    """Convert qm9pack's CSVs into the compact cache (about 20 s, once)."""
    path = prepare_qm9(cache_dir, force=force)
    typer.echo(f"QM9 cache: {path} ({path.stat().st_size / 1e6:.1f} MB)")
    if rdkit_geometries:
        path = prepare_rdkit_geometries(cache_dir, force=force, workers=workers or os.cpu_count() or 1)
        typer.echo(f"RDKit geometries: {path} ({path.stat().st_size / 1e6:.1f} MB)")


@data_app.command("info")
def info(cache_dir: Optional[Path] = CacheOption, as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """Molecule count and per-target mean, std, min and max, with units."""
    ds = load_qm9(cache_dir)
    stats = summarize(ds)
    if as_json:
        typer.echo(json.dumps(stats, indent=2))
    else:
        typer.echo(summary_table(stats))


@data_app.command("show")
def show(
    molecule: str = typer.Argument(..., help="QM9 id (e.g. 1, qm9:1, gdb_1), SMILES, or an .xyz/.sdf file."),
    cache_dir: Optional[Path] = CacheOption,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Show a molecule's QM9 record: all 19 targets with units, and QM9's raw labels."""
    ds = load_qm9(cache_dir)
    mol = read_molecule(molecule, embed=False, dataset=ds)
    rows = ds.find(mol)
    if not rows:
        why = domain_problems(mol)
        label = molecule if molecule == mol.smiles else f"{molecule} ({mol.smiles or mol.formula})"
        raise NotFoundError(f"{label} is not in QM9" + (f": it {why[0]}" if why else ""))
    row = rows[0]
    if as_json:
        out = {"qm9_index": int(ds.qm9_index[row]), "smiles": ds.canonical_smiles[row], "inchikey": ds.inchikey[row],
               "targets": ds.record(row), "raw": ds.raw_record(row), "other_matches": [int(ds.qm9_index[r]) for r in rows[1:]]}
        typer.echo(json.dumps(out, indent=2))
    else:
        typer.echo(record_table(ds, row, other_rows=rows[1:]))
