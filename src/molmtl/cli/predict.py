"""``molmtl predict``: the 19 QM9 properties of a molecule from a trained model (default: the shipped one)."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Optional

import typer

from molmtl.data.cache import atomic_path
from molmtl.data.csv import read_csv
from molmtl.data.inputs import read_molecule
from molmtl.data.qm9 import load_qm9
from molmtl.errors import InputError
from molmtl.targets import column_header


def register(app: typer.Typer) -> None:
    @app.command("predict")
    def predict_cmd(
        molecule: str = typer.Argument(..., help="SMILES, QM9 id (qm9:14), an .xyz/.sdf/.mol file, or a .csv of SMILES "
                                      "(one row of predictions per molecule)."),
        model: Optional[Path] = typer.Option(None, help="A model.pt or run folder (default: the shipped model for the "
                                             "input: the one fine-tuned on RDKit geometries for SMILES, the one "
                                             "trained on QM9's B3LYP geometries for QM9 ids and XYZ/SDF files)."),
        qm9_lookup: bool = typer.Option(True, "--qm9/--no-qm9", help="Look the molecule up in QM9: labels, error, split part."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object (registry keys and units)."),
        out: Optional[Path] = typer.Option(None, "--out", "-o", help="With a .csv input: write the predictions there "
                                           "(default: to standard output)."),
        smiles_column: Optional[str] = typer.Option(None, help="With a .csv input: its SMILES column (default: smiles, "
                                                    "SMILES, Smiles, canonical_smiles or mol)."),
    ) -> None:
        """Predict a molecule's properties, with units; beside QM9's labels when the molecule is in QM9."""
        from molmtl.predict import (  # lazy: torch and the model load only when a prediction runs
            load,
            predict,
        )

        is_csv = Path(molecule.strip()).suffix.lower() == ".csv"
        if is_csv and as_json:
            raise InputError("--json prints one molecule; a CSV's predictions come as CSV (--out FILE or standard output)")
        if not is_csv and (out is not None or smiles_column is not None):
            raise InputError("--out and --smiles-column go with a .csv of molecules; one molecule prints its table")
        if model is not None or is_csv:  # a missing model fails before any parsing or embedding
            trained, path = load(model, source="smiles")
        if is_csv:
            _predict_csv(Path(molecule.strip()), trained, path, out, smiles_column)
            return
        qm9 = None
        if qm9_lookup or molecule.strip().lower().startswith(("qm9:", "gdb_", "dsgdb9nsd_")) or molecule.strip().isdigit():
            qm9 = load_qm9()
        # both shipped models are 3D: the molecule is read (and a SMILES embedded) before choosing one
        mol = read_molecule(molecule, embed=True if model is None else trained.needs_geometry, dataset=qm9)
        if model is None:
            trained, path = load(None, source=mol.source)
        result = predict(mol, trained, qm9=qm9, lookup=qm9_lookup)
        result.model = path
        if as_json:
            typer.echo(json.dumps(result.to_json(), indent=2, allow_nan=False))
            return
        title = mol.name or mol.smiles or mol.formula
        typer.echo(f"{title} ({mol.formula}, {mol.n_atoms} atoms; geometry: {mol.source})")
        typer.echo(f"model: {path} ({trained.config.encoder}, {trained.config.strategy}), "
                   f"{result.inference_s * 1e3:.1f} ms")
        if result.qm9_row is not None:
            typer.echo(f"QM9 {result.qm9_index}" + (f", in the model's {result.split_part} set" if result.split_part else ""))
        typer.echo(result.table())
        for w in result.warnings:
            typer.echo(f"warning: {w}", err=True)


def _predict_csv(source: Path, trained, model_path: str, out: Path | None, smiles_column: str | None) -> None:
    """One row per input molecule: its id/name and SMILES, each target in display units (headers
    carry them), and an ``error`` column saying why a row has no predictions."""
    from molmtl.inference import predict_smiles  # lazy: torch, as above

    table = read_csv(source, smiles_column=smiles_column, target_columns=[], validate=False)
    t0 = time.perf_counter()
    values, errors = predict_smiles(trained, table.smiles, names=table.names)
    elapsed = time.perf_counter() - t0
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    units = [column_header(t.key, t.display_unit) for t in trained.targets]
    writer.writerow(["name", "smiles", *units, "error"])
    for name, smi, row, err in zip(table.names, table.smiles, values, errors):
        cells = ["" if err else f"{float(t.to_display(v)):.8g}" for t, v in zip(trained.targets, row)]
        writer.writerow([name, smi, *cells, err or ""])
    if out is None:
        typer.echo(buf.getvalue(), nl=False)
    else:
        with atomic_path(out) as tmp:
            tmp.write_text(buf.getvalue())
    failed = sum(e is not None for e in errors)
    if failed == len(errors):  # nothing usable came of the input: a user error, exit code 2
        first = next(e for e in errors if e)
        raise InputError(f"none of the {len(errors)} molecules in {source} could be predicted (the first: {first})")
    typer.echo(f"{len(errors) - failed} of {len(errors)} molecules predicted in {elapsed:.1f} s with {model_path}"
               + (f"; {failed} without predictions (reasons in the error column)" if failed else "")
               + (f"; written to {out}" if out is not None else ""), err=True)
