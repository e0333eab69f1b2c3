"""``molmtl evaluate``: a model on a part of its split or on a labelled CSV."""

from __future__ import annotations

from pathlib import Path

import typer

import molmtl
from molmtl.errors import InputError
from molmtl.training.protocols import LIBMTL_STL_MAE


def default_eval_dir(model: Path, what: str) -> Path:
    """``eval-WHAT`` beside a run's model; in the working directory for a model shipped inside
    the installed package (whose folder may be read-only, and is no place for results)."""
    folder = model if model.is_dir() else model.parent
    if folder.resolve().is_relative_to(Path(molmtl.__file__).resolve().parent):
        return Path.cwd() / f"eval-{model.stem}-{what}"
    return folder / f"eval-{what}"


def _quantity(value: float, unit: str) -> str:
    return f"{value:.4g} {unit}" if unit else f"{value:.4g}"


def _uncertainty_report(trained, calibration, part: str, out: Path, *, geometry: str | None, limit: int | None) -> None:
    """``uncertainty.{md,json,png}`` in ``out``: the calibration's sigma on the split part."""
    from molmtl.data.cache import cache_dir  # lazy: with the rest of --uncertainty
    from molmtl.uncertainty.data import split_outputs  # lazy: torch, the model's data
    from molmtl.uncertainty.report import write_report  # lazy: matplotlib

    outputs = split_outputs(trained, geometry=geometry, parts=(part,), limit=limit, cache=cache_dir() / "uncertainty")
    report = write_report(out, calibration, outputs[part], trained.targets, part_name=part)
    for r in report["targets"]:
        typer.echo(f"{r['key']:>8}: sigma {r['median_sigma']:.3g} {r['unit']} (median), 90% interval covers "
                   f"{100 * r['coverage']['0.9']:.1f}%, rho(|error|, sigma) {r['spearman']:.2f}, "
                   f"10% most uncertain {r['ratio']:.2f}x the rest's MAE")


def register(app: typer.Typer) -> None:
    @app.command("evaluate")
    def evaluate_cmd(
        model: Path = typer.Argument(..., help="A model.pt (or a run folder holding one)."),
        split_part: str = typer.Option(None, help="Which part of the model's split: train, val or test (default: test)."),
        data: Path = typer.Option(None, help="Evaluate on a labelled CSV instead (an external test set): SMILES + columns named as the model's targets (QM9 keys may carry a unit, e.g. 'gap [eV]')."),
        smiles_column: str = typer.Option(None, help="With --data: the CSV's SMILES column (default: smiles, SMILES, ...)."),
        geometry: str = typer.Option(None, help="QM9 models: give the split's molecules with qm9 (B3LYP) or rdkit (ETKDG + MMFF from SMILES) geometries (default: those the model was trained on)."),
        out: Path = typer.Option(None, "--out", "-o", help="Output folder (default: MODEL's folder/eval-PART, or eval-CSVNAME; for a model shipped inside the package, ./eval-MODELNAME-PART)."),
        stl_dir: Path = typer.Option(None, help="An STL run (folder with model.pt or metrics.json) for Delta_m; with --data its model is evaluated on the same CSV."),
        stl_json: str = typer.Option(None, help="JSON of STL MAEs {key: MAE in display units}, or 'libmtl' for Nash-MTL's."),
        limit: int = typer.Option(None, help="A quick look: only the first N molecules of the split part (metrics.json records how many)."),
        uncertainty: bool = typer.Option(False, "--uncertainty", help="Also report the model's calibrated sigma (molmtl calibrate) on the split part: interval coverage, rho(|error|, sigma), miscalibration area, NLL, MAE of the 10% most uncertain (uncertainty.md, .json, .png)."),
    ) -> None:
        """Per-target MAE (display units), chemical-accuracy ratio, Delta_m vs STL, parity plots."""
        from molmtl.inference import (
            load_model,  # lazy: torch and the model's encoder load only when a command runs
        )
        from molmtl.training.evaluate import (  # lazy: the same
            csv_part,
            evaluate_csv,
            evaluate_model,
            read_stl_maes,
        )

        if stl_dir is not None and stl_json is not None:
            raise InputError("give --stl-dir or --stl-json, not both")
        if data is not None and split_part is not None:
            raise InputError("--data evaluates a CSV and --split-part a part of the model's own split; choose one")
        if smiles_column is not None and data is None:
            raise InputError("--smiles-column names a column of a --data CSV")
        if limit is not None and data is not None:
            raise InputError("--limit takes the first molecules of a split part; cut a --data CSV to the rows wanted instead")
        if data is not None and not data.is_file():
            raise InputError(f"CSV file not found: {data}")
        if uncertainty and data is not None:
            raise InputError("--uncertainty reports on a part of the model's own split; it does not take a --data CSV")
        if geometry is not None:
            geometry = geometry.strip().lower()
            if geometry not in ("qm9", "rdkit"):
                raise InputError(f"--geometry must be qm9 or rdkit, got {geometry!r}")
            if data is not None:
                raise InputError("--geometry picks the geometries of the model's own QM9 split; a --data CSV is always embedded with RDKit")
        split_part = split_part or "test"
        part = csv_part(data) if data is not None else split_part
        stl = None
        if stl_json is not None and stl_json.strip().lower() == "libmtl":
            if part != "test":
                raise InputError(f"Nash-MTL's STL numbers are test MAEs of QM9's split; evaluate the test part, not {part}")
            stl = dict(LIBMTL_STL_MAE)
        elif stl_json is not None:
            stl = read_stl_maes(stl_json, part)
        elif stl_dir is not None and data is not None and not (stl_dir / "metrics.json").is_file() and stl_dir.suffix != ".json":
            # an STL model: evaluated on the same molecules as the model
            stl_result = evaluate_csv(load_model(stl_dir), data, smiles_column=smiles_column)
            stl = {r["key"]: r["mae"] for r in stl_result["targets"]}
        elif stl_dir is not None:
            stl = read_stl_maes(stl_dir, part)
        trained = load_model(model)
        if geometry is not None and trained.config.data is not None:
            raise InputError("--geometry is for models trained on QM9; this one was trained on a CSV")
        calibration = None
        if uncertainty:
            from molmtl.uncertainty.calibration import (
                calibration_of,  # lazy: only for --uncertainty
            )

            calibration = calibration_of(trained)
            if calibration is None:
                raise InputError(f"{model} has no uncertainty calibration; run 'molmtl calibrate {model}' first")
            if split_part != "test":
                raise InputError(f"--uncertainty reports on the test part: the calibration was fitted on the validation "
                                 f"part, and the {split_part} part would not be held out from it")
        suffix = f"-{geometry}" if geometry is not None and geometry != trained.config.geometry else ""
        out = out or default_eval_dir(model, (data.stem if data is not None else split_part) + suffix)
        if data is not None:
            result = evaluate_csv(trained, data, out, smiles_column=smiles_column, stl=stl)
        else:
            result = evaluate_model(trained, split_part, out, stl=stl, geometry=geometry, limit=limit)
        for r in result["targets"]:
            r2 = f", R² {r['r2']:.4f}" if r.get("r2") is not None else ""
            typer.echo(f"{r['key']:>8}: MAE {_quantity(r['mae'], r['unit'])}, RMSE {_quantity(r['rmse'], r['unit'])}{r2}"
                       + (f"  ({r['ratio']:.2f} x chem. acc.)" if r["ratio"] is not None else ""))
        if calibration is not None:
            _uncertainty_report(trained, calibration, split_part, out, geometry=geometry, limit=limit)
            if geometry is not None and geometry != trained.config.geometry:
                typer.echo(f"note: the calibration was fitted on {trained.config.geometry} geometries; on {geometry} "
                           "geometries its intervals are not expected to hold (a shift it was not made for)")
        if "delta_m_percent" in result:
            typer.echo(f"Delta_m vs STL: {result['delta_m_percent']:+.2f} %")
        if result.get("geometry"):
            typer.echo(f"geometries: {result['geometry']}, not the labels' own method's: their difference is in these errors")
        skipped = f" ({result['n_skipped']} molecules skipped: see predictions.csv)" if result.get("n_skipped") else ""
        typer.echo(f"written to {out}{skipped}")
