"""``molmtl blend MODEL COMPANION --keys mu --out NEW.pt``: blend a second model into some outputs."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from molmtl.errors import InputError


def register(app: typer.Typer) -> None:
    @app.command("blend")
    def blend_cmd(
        model: Path = typer.Argument(..., help="The model (a model.pt or a run folder holding one) whose outputs are blended."),
        companion: Path = typer.Argument(..., help="The model blended in (trained on the same split and elements)."),
        out: Path = typer.Option(..., "--out", "-o", help="Where to write the blended model file (may be MODEL itself; written atomically)."),
        keys: str = typer.Option("mu", help="Comma-separated targets to blend (each a target of both models)."),
        geometry: str = typer.Option(None, help="QM9 models: fit on the validation molecules with qm9 (B3LYP) or rdkit (ETKDG + MMFF) geometries (default: the model's own)."),
        limit: int = typer.Option(None, min=1, help="Fit on the first N validation molecules only (a quick look)."),
    ) -> None:
        """Blend COMPANION's predictions into MODEL's outputs for --keys: y = (1 - w) model + w companion, with
        w (0 to 1 in steps of 0.05) of lowest validation MAE; for a 3D model's dipole moment the companion's
        share fades where MODEL's own norm vanishes (symmetric molecules keep 0 D). The file holds both
        models (and MODEL's earlier companions, each for other targets); every other output is MODEL's. Recalibrate afterwards (molmtl calibrate): the
        calibration is not carried over."""
        from molmtl.inference import (  # lazy: torch loads only when a command runs
            load_model,
            model_path,
            save_model,
        )
        from molmtl.training.blend import fit_blend  # lazy: the same

        if geometry is not None and geometry.strip().lower() not in ("qm9", "rdkit"):
            raise InputError(f"--geometry must be qm9 or rdkit, got {geometry!r}")
        trained, other = load_model(model), load_model(companion)
        names = [k.strip() for k in keys.split(",") if k.strip()]
        weights, fades, report = fit_blend(trained, other, names, geometry=None if geometry is None else geometry.strip().lower(),
                                    limit=limit)
        metrics = dict(trained.info.get("metrics") or {})
        this = {**report, "companion": str(model_path(companion))}
        # the first blend's report stays under "blend"; later ones are listed under "more_blends"
        if "blend" in metrics and trained.companions:
            metrics["more_blends"] = [*metrics.get("more_blends", []), this]
        else:
            metrics["blend"] = this
        save_model(out, strategy=trained.strategy, scaler=trained.scaler, config=trained.config,
                   split=trained.info.get("split"), metrics=metrics,
                   companions=[*trained.blends(), (other, weights, fades)])
        typer.echo(json.dumps(report["keys"]))
        typer.echo(f"written to {out} (its test metrics are the model's until 'molmtl evaluate'; calibrate it with "
                   f"'molmtl calibrate {out}')")


__all__ = ["register"]
