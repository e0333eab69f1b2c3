"""``molmtl calibrate``: fit a model's uncertainty (a sigma per property) and store it in its model file."""

from __future__ import annotations

from pathlib import Path

import typer

from molmtl.errors import InputError

METHODS = ("latent", "local", "mlp")


def _geometry(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().lower()
    if value not in ("qm9", "rdkit"):
        raise InputError(f"--geometry must be qm9 or rdkit, got {value!r}")
    return value


def register(app: typer.Typer) -> None:
    @app.command("calibrate")
    def calibrate_cmd(
        model: Path = typer.Argument(..., help="A model.pt (or a run folder holding one); the calibration is written into it."),
        geometry: str = typer.Option(None, help="QM9 models: calibrate on the split's molecules with qm9 (B3LYP) or rdkit (ETKDG + MMFF) geometries (default: those the model was trained on; others are reported, not stored)."),
        method: str = typer.Option(None, help="latent (distance to the training set), local (+ the residuals of the nearest validation molecules) or mlp (+ a small network's error scale; the default). docs/uncertainty.md compares them."),
        limit: int = typer.Option(None, help="A quick look: only the first N validation and test molecules (and at most N reference molecules); not stored in MODEL."),
        out: Path = typer.Option(None, "--out", "-o", help="Also write the test part's report here (uncertainty.md, .json, .png)."),
    ) -> None:
        """Calibrate sigma on the validation part, report it on the test part, store it in MODEL."""
        geometry = _geometry(geometry)
        if method is not None and method.strip().lower() not in METHODS:
            raise InputError(f"--method must be one of {', '.join(METHODS)}, got {method!r}")
        if limit is not None and limit < 1:
            raise InputError(f"--limit must be a positive number of molecules, got {limit}")
        from molmtl.data.cache import cache_dir  # lazy: the same as below
        from molmtl.inference import (  # lazy: torch loads only when a command runs
            load_model,
            model_path,
        )
        from molmtl.uncertainty.calibrate import (  # lazy: the same
            DEFAULT_METHOD,
            calibrate,
        )
        from molmtl.uncertainty.report import (
            write_report,  # lazy: matplotlib, for --out only
        )
        from molmtl.uncertainty.store import write_calibration  # lazy: torch

        trained = load_model(model)
        cal, report = calibrate(trained, geometry=geometry, method=(method or DEFAULT_METHOD).strip().lower(),
                                limit=limit, cache=cache_dir() / "uncertainty")
        for r in report["targets"]:
            typer.echo(f"{r['key']:>8}: 90% interval covers {100 * r['coverage']['0.9']:.1f}%, rho(|error|, sigma) "
                       f"{r['spearman']:.2f}, MAE of the 10% largest sigmas {r['ratio']:.2f}x the rest's, "
                       f"median sigma {r['median_sigma']:.3g} {r['unit']}")
        foreign = geometry is not None and geometry != trained.config.geometry
        if limit is None and not foreign:
            path = write_calibration(model_path(model), cal)
        if out is not None:
            from molmtl.uncertainty.data import split_outputs  # lazy: the same as above

            test = split_outputs(trained, geometry=geometry, parts=("test",), limit=limit,
                                 cache=cache_dir() / "uncertainty")["test"]
            write_report(out, cal, test, trained.targets)
            typer.echo(f"report written to {out}")
        what = (f"calibration ({cal.method}, {cal.info['n_val']} validation molecules, reported on "
                f"{cal.info['n_test']} test molecules, {report['seconds']:.0f} s)")
        if limit is not None or foreign:  # predictions would use it on inputs it was not fitted for
            why = (f"--limit is a quick look" if limit is not None else
                   f"the model predicts {trained.config.geometry} geometries, not {geometry}")
            typer.echo(f"{what} not stored in {model_path(model)} ({why})")
        else:
            typer.echo(f"{what} written to {path}")


__all__ = ["register", "METHODS"]
