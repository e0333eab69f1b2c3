"""``molmtl predict``: the 19 QM9 properties of a molecule from a trained model (default: the shipped one)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("predict")
    def predict_cmd(
        molecule: str = typer.Argument(..., help="SMILES, QM9 id (qm9:14), or an .xyz/.sdf/.mol file."),
        model: Optional[Path] = typer.Option(None, help="A model.pt or run folder (default: the shipped model)."),
        qm9_lookup: bool = typer.Option(True, "--qm9/--no-qm9", help="Look the molecule up in QM9: labels, error, split part."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object (registry keys and units)."),
    ) -> None:
        """Predict a molecule's properties, with units; beside QM9's labels when the molecule is in QM9."""
        from molmtl.chem.parse import read_molecule
        from molmtl.predict import load, predict

        trained, path = load(model)  # a missing model fails before any parsing or embedding
        qm9 = None
        if qm9_lookup or molecule.strip().lower().startswith(("qm9:", "gdb_", "dsgdb9nsd_")) or molecule.strip().isdigit():
            from molmtl.data.qm9 import load_qm9

            qm9 = load_qm9()
        mol = read_molecule(molecule, embed=trained.needs_geometry, dataset=qm9)
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
