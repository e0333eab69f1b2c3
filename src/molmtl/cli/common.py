"""Options and helpers several commands share: how a molecule is read, the energy unit, progress."""

from __future__ import annotations

import logging
from collections.abc import Callable

import typer

from molmtl.errors import InputError
from molmtl.methods.result import ENERGY_UNITS

ChargeOption = typer.Option(None, "--charge", help="Total charge (e) of a molecule read from an XYZ file (SMILES carry their own formal charges).")
MultiplicityOption = typer.Option(None, "--multiplicity", help="Spin multiplicity 2S+1 of an XYZ file's molecule (default: the lowest its electron count allows; SMILES carry their radicals).")
LargestFragmentOption = typer.Option(False, "--largest-fragment", help="A SMILES of several fragments (a salt, CCO.O): keep the largest, with a warning (default: refuse it).")
UnitsOption = typer.Option(None, "--units", help="The energy unit of the output: meV, eV or Hartree (default: meV in tables, eV in JSON and CSV).")

_progress_log = logging.getLogger("molmtl.progress")


def energy_unit(units: str | None, default: str) -> str:
    """The ``--units`` value (case-insensitive), or ``default``."""
    if units is None:
        return default
    for name in ENERGY_UNITS:
        if units.strip().lower() == name.lower():
            return name
    raise InputError(f"--units takes {', '.join(ENERGY_UNITS)}, got {units!r}")


def stage_logger() -> Callable[[str, float | None], None]:
    """A progress callback logging each new stage on stderr (``molmtl -q`` silences it)."""
    last = {"stage": None, "tenth": None}

    def report(stage: str, fraction: float | None = None) -> None:
        tenth = None if fraction is None else int(fraction * 10)
        if stage != last["stage"] or tenth != last["tenth"]:
            last["stage"], last["tenth"] = stage, tenth
            _progress_log.info("%s%s", stage, "" if fraction is None else f" {100 * fraction:.0f} %")

    return report


__all__ = ["ChargeOption", "MultiplicityOption", "LargestFragmentOption", "UnitsOption", "energy_unit", "stage_logger"]
