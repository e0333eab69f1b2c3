"""``molmtl refit MODEL --heads mu --out NEW.pt``: retrain some heads on the frozen encoder."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from molmtl.errors import InputError
from molmtl.targets import get_target


def register(app: typer.Typer) -> None:
    @app.command("refit")
    def refit_cmd(
        model: Path = typer.Argument(..., help="A model.pt (or a run folder holding one) with one shared encoder."),
        out: Path = typer.Option(..., "--out", "-o", help="Where to write the refitted model file (may be MODEL itself; written atomically)."),
        heads: str = typer.Option("mu", help="Comma-separated targets whose heads are retrained (e.g. mu)."),
        geometry: str = typer.Option(None, help="QM9 models: train on qm9 (B3LYP) or rdkit (ETKDG + MMFF) geometries (default: the model's own)."),
        epochs: int = typer.Option(4, min=1, help="Passes over the training molecules (the best on validation is kept)."),
        lr: float = typer.Option(1e-3, help="Peak learning rate (AdamW; warm-up then cosine)."),
        max_molecules: int = typer.Option(None, min=1, help="Train on a random subset of this many training molecules (memory: about 20 kB each)."),
        seed: int = typer.Option(0, help="Seed of the subset and the batch order."),
        fade_dipole_bias: bool = typer.Option(False, "--fade-dipole-bias", help="No training: keep an old model's bias after the dipole norm but fade it in near 0, with the width the validation split prefers (a zero vector then gives 0 D)."),
    ) -> None:
        """Retrain chosen task heads of a trained model on its frozen encoder (minutes on a CPU):
        every other output stays as it was. Dipole heads lose the bias after the norm that models
        before format 2 had, so symmetric molecules get 0 D. Recalibrate afterwards (molmtl calibrate)."""
        from molmtl.inference import (  # lazy: torch loads only when a command runs
            load_model,
            model_path,
            save_model,
        )
        from molmtl.training.data import model_data  # lazy: the same
        from molmtl.training.refit import (
            fade_dipole_bias as fade_dipole_bias_of,  # lazy: the same
        )
        from molmtl.training.refit import refit_heads  # lazy: the same

        keys = [k.strip() for k in heads.split(",") if k.strip()]
        if geometry is not None and geometry.strip().lower() not in ("qm9", "rdkit"):
            raise InputError(f"--geometry must be qm9 or rdkit, got {geometry!r}")
        trained = load_model(model)
        try:
            keys = [get_target(k).key if k not in trained.keys else k for k in keys]
        except KeyError as exc:
            raise InputError(str(exc.args[0])) from None
        config, data = model_data(trained, None if geometry is None else geometry.strip().lower())
        head_hp = dict(trained.config.head_hp)
        if fade_dipole_bias:
            report = fade_dipole_bias_of(trained, data.val)
            head_hp.update(dipole_bias=True, dipole_bias_width=report["width"])
        else:
            report = refit_heads(trained, keys, data.train, data.val, epochs=epochs, lr=lr,
                                 max_molecules=max_molecules, seed=seed)
            if all(t.key in keys for t in trained.targets if t.readout == "dipole"):
                head_hp.pop("dipole_bias", None)  # format 2: no bias after a dipole norm
                head_hp.pop("dipole_bias_width", None)
        saved_config = trained.config.replace(head_hp=head_hp)
        metrics = dict(trained.info.get("metrics") or {})
        metrics["refit"] = {**report, "from": str(model_path(model)), "geometry": config.geometry}
        save_model(out, strategy=trained.strategy, scaler=trained.scaler, config=saved_config, split=data.split,
                   metrics=metrics, companions=trained.blends())
        shown = ("width", "val_mae") if fade_dipole_bias else ("heads", "best_epoch", "val_mae_before", "val_mae_after", "seconds")
        typer.echo(json.dumps({k: report[k] for k in shown}))
        typer.echo(f"written to {out} (its test metrics are the old model's until 'molmtl evaluate'; recalibrate with "
                   f"'molmtl calibrate {out}')")


__all__ = ["register"]
