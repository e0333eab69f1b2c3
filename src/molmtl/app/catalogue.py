"""The methods as the web offers them: which run in the request and which as jobs, the options a
client may set, each method's level of theory, limits and its typical error and time.

Options come from the method registry (``molmtl plugins methods``), but only the switches (the
boolean options) and :data:`EXTRA_OPTIONS` are taken from a client: an option that names a file
(the network's ``model``) or a basis set (PySCF would read a file of that name) never is.
"""

from __future__ import annotations

import math
from typing import Any

from molmtl.chem.molecule import Molecule
from molmtl.errors import InputError, MolmtlError
from molmtl.methods.base import Method
from molmtl.methods.estimate import typical
from molmtl.methods.registry import METHODS
from molmtl.registry import OptionSpec

#: Methods answered in the request (milliseconds); every other method runs as a job.
REQUEST_METHODS = ("ml", "qm9")
#: Options besides the boolean switches that a client may set, per method.
EXTRA_OPTIONS = {"dft": ("device",)}


def runs_as_job(name: str) -> bool:
    return METHODS.canonical(name) not in REQUEST_METHODS


def web_options(name: str) -> dict[str, OptionSpec]:
    """The options of method ``name`` a client may set."""
    extra = EXTRA_OPTIONS.get(METHODS.canonical(name), ())
    return {k: o for k, o in METHODS.options(name).items() if o.type_name() == "bool" or k in extra}


def resolve_options(name: str, given: dict[str, Any] | None) -> dict[str, Any]:
    """``given`` checked (InputError naming the options the method takes) and completed with the
    defaults: the full options of a job, so that ``{}`` and the defaults spelled out are one job."""
    allowed = web_options(name)
    given = dict(given or {})
    unknown = [k for k in given if k not in allowed]
    if unknown:
        takes = ", ".join(allowed) or "none"
        raise InputError(f"method {METHODS.canonical(name)!r} takes no option {unknown[0]!r} here; it takes: {takes}")
    checked = METHODS.check_options(name, given)
    return {k: checked.get(k, o.default) for k, o in allowed.items()}


def build(name: str, options: dict[str, Any], *, qm9=None, store=None) -> Method:
    """Method ``name`` with resolved ``options``; the QM9 dataset or the results store injected as it takes them."""
    canonical = METHODS.canonical(name)
    injected = {"qm9": qm9} if canonical in ("ml", "qm9") else {"store": store} if canonical in ("xtb", "dft") else {}
    return METHODS.build(canonical, **injected, **options)


def estimate_s(method: Method, molecule: Molecule) -> float | None:
    """The method's estimated seconds for a molecule it takes (:func:`assess` checks that first);
    None where it has no estimate (a method without measured timings says 0 s); 0 for QM9's labels."""
    if method.name == "qm9":
        return 0.0
    try:
        t = float(method.estimate_seconds(molecule))
    except (MolmtlError, ValueError):
        return None
    return t if math.isfinite(t) and t > 0 else None


def assess(method: Method, molecule: Molecule, *, max_dft_minutes: float) -> tuple[float | None, str | None]:
    """``(estimated seconds, None)`` when ``method`` takes ``molecule``, else ``(estimate or None,
    why not)``: its own check (elements, charge, spin, size, geometry), then, for DFT, this
    server's limit on the estimated time. The check comes first: an estimate of a molecule the
    method refuses can fail inside the method (a basis set with no functions for an element)."""
    try:
        method.check(molecule)
    except MolmtlError as exc:
        return None, str(exc)
    est = estimate_s(method, molecule)
    if method.name == "dft" and est is not None and est / 60 > max_dft_minutes:
        return est, (f"DFT on {molecule.name or molecule.formula} ({molecule.n_atoms} atoms) is estimated at "
                     f"{est / 60:.0f} minutes, more than this server's limit of {max_dft_minutes:g} minutes; "
                     "leave out the Hessian (thermo) or the optimization to shorten it")
    return est, None


def typical_of(name: str) -> dict[str, Any] | None:
    """The methods benchmark's summary for ``name`` (MAE per property, median and p90 seconds, n), if measured."""
    entry = typical().get("methods", {}).get(name)
    if not entry or not entry.get("n"):
        return None
    return {"mae": entry.get("mae", {}), "median_s": entry.get("median_s"), "p90_s": entry.get("p90_s"),
            "n": entry.get("n")}


def describe(name: str, *, qm9=None, slots: int | None = None, time_limit_s: float | None = None) -> dict[str, Any]:
    """What ``GET /api/methods`` says about method ``name``."""
    entry = METHODS.entry(name)
    try:
        method = build(entry.name, resolve_options(entry.name, {}), qm9=qm9)
        level, max_atoms = method.level_of_theory, method.max_atoms
    except (MolmtlError, ImportError) as exc:  # a plug-in that cannot be built here: listed, with why
        level, max_atoms = f"unavailable here: {exc}", None
    job = runs_as_job(entry.name)
    return {
        "name": entry.name, "summary": entry.summary, "level_of_theory": level, "runs_as": "job" if job else "request",
        "max_atoms": max_atoms,
        "options": [{"name": o.name, "type": o.type_name(), "default": o.default, "help": o.help}
                    for o in web_options(entry.name).values()],
        "typical": typical_of(entry.name), "slots": slots if job else None, "time_limit_s": time_limit_s if job else None,
    }


__all__ = ["REQUEST_METHODS", "EXTRA_OPTIONS", "runs_as_job", "web_options", "resolve_options", "build", "estimate_s",
           "assess", "typical_of", "describe"]
