"""``molmtl predict``: QM9's 19 properties from the network (a view over the ``ml`` method)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from molmtl.cli.common import (
    ChargeOption,
    LargestFragmentOption,
    MultiplicityOption,
    UnitsOption,
    energy_unit,
)
from molmtl.data.inputs import read_molecule
from molmtl.data.qm9 import load_qm9
from molmtl.errors import InputError

#: Files of many molecules: a CSV (a SMILES column, or one SMILES per line without a header) or a
#: .smi / .txt list (SMILES, then an optional name, per line).
BATCH_SUFFIXES = (".csv", ".smi", ".txt")


def register(app: typer.Typer) -> None:
    @app.command("predict")
    def predict_cmd(
        molecules: list[str] = typer.Argument(..., help="SMILES, QM9 ids (qm9:14), .xyz/.sdf/.mol files (several allowed), or one "
                                              ".csv/.smi/.txt file of SMILES (one row of predictions per molecule)."),
        model: Optional[Path] = typer.Option(None, help="A model.pt or run folder (default: the shipped model for the "
                                             "input: the one fine-tuned on RDKit geometries for SMILES, the one "
                                             "trained on QM9's B3LYP geometries for QM9 ids and XYZ/SDF files)."),
        qm9_lookup: bool = typer.Option(True, "--qm9/--no-qm9", help="Look the molecule up in QM9: labels, error, split part, conformer."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON (docs/result-schema.md): one object, or a list for several molecules."),
        out: Optional[Path] = typer.Option(None, "--out", "-o", help="With a file of molecules: write the predictions there "
                                           "(default: to standard output)."),
        smiles_column: Optional[str] = typer.Option(None, help="With a .csv input: its SMILES column (default: smiles, "
                                                    "SMILES, Smiles, canonical_smiles or mol; none: the first column of a header-less file)."),
        workers: int = typer.Option(None, "--workers", min=1, help="With a file of molecules: processes that embed SMILES in 3D (default: one per CPU core)."),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="With a file of molecules: a progress bar on stderr."),
        units: str = UnitsOption,
        charge: int = ChargeOption,
        multiplicity: int = MultiplicityOption,
        largest_fragment: bool = LargestFragmentOption,
    ) -> None:
        """Predict molecules' properties with units (and uncertainty where the model has one);
        beside QM9's labels when a molecule is in QM9."""
        from molmtl.cli.batch_predict import (
            predict_file,  # lazy: torch and the model load only when a prediction runs
        )
        from molmtl.methods.ml import MLMethod, load  # lazy: the same
        from molmtl.methods.result import in_energy_unit  # lazy: the same
        from molmtl.methods.views import (  # lazy: the same
            domain_lines,
            header,
            result_table,
        )

        batch = [m for m in molecules if Path(m.strip()).suffix.lower() in BATCH_SUFFIXES]
        if batch:
            if len(molecules) > 1:
                raise InputError("give one file of molecules, or molecules on the command line, not both")
            if as_json:
                raise InputError("--json prints molecules given on the command line; a file's predictions come as CSV")
            trained, path = load(model, source="smiles")  # a missing model fails before any parsing or embedding
            predict_file(Path(batch[0].strip()), trained, path, out=out, smiles_column=smiles_column, workers=workers,
                         progress=progress, energy=energy_unit(units, "meV"), largest_fragment=largest_fragment,
                         lookup=qm9_lookup)
            return
        if out is not None or smiles_column is not None or workers is not None:
            raise InputError("--out, --smiles-column and --workers go with a file of molecules; molecules given here print tables")
        if model is not None:
            load(model, source="smiles")
        unit = energy_unit(units, "eV" if as_json else "meV")
        qm9 = load_qm9() if qm9_lookup or any(m.strip().lower().startswith(("qm9:", "gdb")) or m.strip().isdigit()
                                            for m in molecules) else None
        method = MLMethod(str(model) if model is not None else None, lookup=qm9_lookup, qm9=qm9)
        bodies = []
        for text in molecules:
            mol = read_molecule(text, embed=True, dataset=qm9, charge=charge, multiplicity=multiplicity,
                                largest_fragment=largest_fragment)
            result = in_energy_unit(method.run(mol), unit)
            if as_json:
                bodies.append(_legacy_keys(result.to_json()))
                continue
            typer.echo("\n".join(header(result)))
            typer.echo(result_table(result))
            for line in domain_lines(result):
                typer.echo(line)
            for w in result.warnings:
                typer.echo(f"warning: {w}", err=True)
            if len(molecules) > 1:
                typer.echo("")
        if as_json:
            typer.echo(json.dumps(bodies[0] if len(bodies) == 1 else bodies, indent=2, allow_nan=False))


def _legacy_keys(body: dict) -> dict:
    """The result schema plus the keys ``predict --json`` had before it (``model``, ``inference_s``,
    ``molecule.geometry``; ``qm9`` was there already)."""
    body["model"] = body["provenance"].get("model")
    body["inference_s"] = body["timings_s"].get("inference")
    body["molecule"]["geometry"] = body["molecule"].get("input")
    return body


__all__ = ["register", "BATCH_SUFFIXES"]
