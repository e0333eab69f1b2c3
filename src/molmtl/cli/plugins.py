"""``molmtl plugins [KIND]``: every registered encoder, strategy, weighting and method, with its options."""

from __future__ import annotations

import typer

from molmtl.errors import InputError
from molmtl.methods.registry import METHODS
from molmtl.models.registry import ENCODERS
from molmtl.mtl.registry import STRATEGIES, WEIGHTINGS

#: What ``molmtl plugins`` lists, by the names a user types (singular or plural).
KINDS = {"encoders": ENCODERS, "strategies": STRATEGIES, "weightings": WEIGHTINGS, "methods": METHODS}


def register(app: typer.Typer) -> None:
    @app.command("plugins")
    def plugins_cmd(kind: str = typer.Argument(None, help=f"One of {', '.join(KINDS)} (default: all).")) -> None:
        """List the plug-ins of each kind with their options (types, defaults, what they do):
        the values --encoder-opt, --strategy-opt and --weighting-opt take."""
        wanted = KINDS
        if kind is not None:
            key = kind.strip().lower()
            matches = {k: r for k, r in KINDS.items() if k == key or k.rstrip("s") == key.rstrip("s") or
                       (k == "strategies" and key == "strategy")}
            if not matches:
                raise InputError(f"unknown plug-in kind {kind!r}; choose one of: {', '.join(KINDS)}")
            wanted = matches
        for name, registry in wanted.items():
            typer.echo(f"{name}:")
            typer.echo("  " + registry.describe().replace("\n", "\n  "))
