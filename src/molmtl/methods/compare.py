"""Methods side by side on one molecule: values, the reference, errors and wall times.

:func:`compare` runs each method on the same molecule (a method that fails leaves its reason and
the others go on) and picks the reference: ``auto`` is QM9's label when the molecule is in QM9
(found by QM9 id, InChIKey or SMILES, and said which), else DFT's values when DFT ran, else none.
A :class:`Comparison` prints as one table (:meth:`Comparison.table`), or JSON and CSV.
"""

from __future__ import annotations

import csv
import io
import logging
import time
from dataclasses import dataclass, field

from molmtl.chem.geometry import check_geometry
from molmtl.chem.molecule import Molecule
from molmtl.data.qm9 import QM9, load_qm9
from molmtl.errors import InputError, MolmtlError
from molmtl.methods.base import Method, Progress
from molmtl.methods.estimate import typical
from molmtl.methods.reference import qm9_entry
from molmtl.methods.result import (
    ENERGY_UNITS,
    MethodResult,
    in_energy_unit,
    molecule_summary,
)
from molmtl.methods.views import fmt, with_sigma
from molmtl.targets import TARGET_KEYS, get_target

log = logging.getLogger(__name__)

REFERENCES = ("auto", "qm9", "dft", "none")


@dataclass
class Comparison:
    """Results of several methods on one molecule, and the reference they are measured against.

    Attributes:
        molecule: the input's summary.
        results: method name -> its result (in ``energy_unit``).
        failures: method name -> why it gave no result.
        reference_source: ``qm9``, ``dft`` or None; reference: registry key -> value; reference_note:
            what the reference is, in words.
        estimates_s: method name -> its estimated seconds before it ran.
        energy_unit: the unit of every energy here.
    """

    molecule: dict
    results: dict[str, MethodResult]
    failures: dict[str, str] = field(default_factory=dict)
    reference_source: str | None = None
    reference: dict[str, float] = field(default_factory=dict)
    reference_note: str = ""
    estimates_s: dict[str, float] = field(default_factory=dict)
    energy_unit: str = "eV"

    def in_energy_unit(self, unit: str) -> "Comparison":
        if unit not in ENERGY_UNITS:
            raise InputError(f"energy unit {unit!r} is not one of {', '.join(ENERGY_UNITS)}")
        factor = ENERGY_UNITS[unit] / ENERGY_UNITS[self.energy_unit]
        ref = {k: (v * factor if _is_energy(k) and v is not None else v) for k, v in self.reference.items()}
        return Comparison(self.molecule, {k: in_energy_unit(r, unit) for k, r in self.results.items()}, self.failures,
                          self.reference_source, ref, self.reference_note, self.estimates_s, unit)

    def columns(self) -> list[str]:
        """The methods shown as columns (QM9's labels are the reference column, not a method's)."""
        return [m for m in self.results if not (m == "qm9" and self.reference_source == "qm9")]

    def keys(self) -> list[str]:
        """The properties shown: the registry's in its order, then a plug-in method's own."""
        seen = [k for m in self.columns() for k in self.results[m].properties] + list(self.reference)
        return [k for k in TARGET_KEYS if k in seen] + [k for k in dict.fromkeys(seen) if k not in TARGET_KEYS]

    def unit_of(self, key: str) -> str:
        for r in self.results.values():
            if key in r.units:
                return r.units[key]
        return self.energy_unit if _is_energy(key) else get_target(key).unit

    def abs_error(self, method: str) -> dict[str, float]:
        """Property -> |value - reference| for ``method`` (the property's unit)."""
        r = self.results[method]
        skip = set(r.extras.get("not_comparable", []))  # e.g. xTB's total energies: another zero
        return {k: abs(v - self.reference[k]) for k, v in r.properties.items()
                if v is not None and self.reference.get(k) is not None and k not in skip}

    def speedups(self) -> dict[str, tuple[float, bool]]:
        """Method -> (DFT's time / its own, whether DFT's time is an estimate); a stored result counts
        with the time of the computation that stored it (:func:`compute_seconds`)."""
        if "dft" in self.results:
            dft_s, estimated = compute_seconds(self.results["dft"])[0], False
        elif self.estimates_s.get("dft", 0) > 0:  # NaN: DFT cannot take the molecule
            dft_s, estimated = self.estimates_s["dft"], True
        else:
            return {}
        return {m: (dft_s / max(compute_seconds(r)[0], 1e-6), estimated) for m, r in self.results.items() if m != "qm9"}

    def table(self) -> str:
        """property | unit | each method (value +- sigma) | reference | |error| (x chemical accuracy) per method."""
        cols = self.columns()
        ref_name = {"qm9": "QM9 label", "dft": "DFT (ref.)"}.get(self.reference_source or "", "")
        errors = {m: self.abs_error(m) for m in cols} if self.reference_source else {}
        head = [f"{'property':<9}", f"{'unit':<12}", *(f"{m:>24}" for m in cols)]
        if self.reference_source:
            head += [f"{ref_name:>16}", *(f"{'|err| ' + m:>22}" for m in cols)]
        lines = [" ".join(head)]
        for key in self.keys():
            row = [f"{key:<9}", f"{self.unit_of(key):<12}"]
            for m in cols:
                r = self.results[m]
                row.append(f"{with_sigma(r.properties.get(key), r.uncertainty.get(key)):>24}")
            if self.reference_source:
                row.append(f"{fmt(self.reference.get(key)):>16}")
                for m in cols:
                    err = errors[m].get(key)
                    row.append(f"{_error_text(key, err, self.energy_unit):>22}")
            lines.append(" ".join(row))
        seconds = {m: compute_seconds(self.results[m]) for m in cols}
        times = [f"{'wall time':<9}", f"{'s':<12}",
                 *(f"{(f'{s:.3g} (stored)' if stored else f'{s:.3g}'):>24}" for s, stored in seconds.values())]
        lines.append(" ".join(times))
        speed = self.speedups()
        if speed:
            est = any(e for _, e in speed.values())
            cells = [f"{(f'{speed[m][0]:.3g}x' if m in speed else '-'):>24}" for m in cols]
            lines.append(" ".join([f"{'speed-up':<9}", f"{('vs DFT (est.)' if est else 'vs DFT'):<12}", *cells]))
        lines.append(f"reference: {self.reference_note}")
        for m, (s, stored) in seconds.items():
            if stored:
                lines.append(f"stored: {m}'s result came from the results store (read back in "
                             f"{self.results[m].wall_s:.3g} s); its time is that of the computation that stored it")
        for m, t in typical_errors(cols).items():
            shown = ", ".join(f"{k} {get_target(k).to_display(v):.3g} {get_target(k).display_unit}"
                              for k, v in t["mae"].items() if k in ("U0", "homo", "lumo", "gap", "mu", "alpha", "zpve"))
            if shown:
                lines.append(f"typical |error| of {m} vs QM9 ({t['n']} test molecules, {t['median_s']:.3g} s median): {shown}")
        for m, reason in self.failures.items():
            lines.append(f"{m}: no result: {reason}")
        return "\n".join(lines)

    def to_json(self) -> dict:
        """``molecule``, ``reference`` (``source``, ``properties``, ``units``, ``note``), ``methods``
        (name -> result + ``wall_s`` + ``abs_error``), ``failures``, ``estimates_s``."""
        methods = {}
        for m, r in self.results.items():
            body = r.to_json()
            body["compute_s"], body["stored"] = compute_seconds(r)
            if self.reference_source:
                body["abs_error"] = self.abs_error(m)
            methods[m] = body
        return {"molecule": self.molecule, "energy_unit": self.energy_unit,
                "reference": {"source": self.reference_source, "properties": self.reference,
                              "units": {k: self.unit_of(k) for k in self.reference}, "note": self.reference_note},
                "methods": methods, "failures": self.failures, "estimates_s": self.estimates_s,
                "typical": typical_errors(list(self.results))}

    def to_csv(self) -> str:
        """One row per property: unit, each method's value and sigma, the reference, each |error|."""
        cols = self.columns()
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        head = ["property", "unit", *(x for m in cols for x in (m, f"{m}_sigma")), "reference"]
        head += [f"{m}_abs_error" for m in cols]
        w.writerow(head)
        errors = {m: self.abs_error(m) for m in cols}
        for key in self.keys():
            row = [key, self.unit_of(key)]
            for m in cols:
                r = self.results[m]
                row += [_cell(r.properties.get(key)), _cell(r.uncertainty.get(key))]
            row.append(_cell(self.reference.get(key)))
            row += [_cell(errors[m].get(key)) for m in cols]
            w.writerow(row)
        w.writerow(["wall_time", "s", *(x for m in cols for x in (f"{self.results[m].wall_s:.6g}", "")), "", *([""] * len(cols))])
        w.writerow(["compute_time", "s", *(x for m in cols for x in (f"{compute_seconds(self.results[m])[0]:.6g}", "")), "",
                    *([""] * len(cols))])
        return buf.getvalue()


def compute_seconds(result: MethodResult) -> tuple[float, bool]:
    """``(seconds, stored)``: the time the method took for this result. A result read back from the
    results store (``provenance.cached``) counts with the stage timings of the computation that
    stored it, not the milliseconds of reading it: a stored xTB result is not a 2 ms xTB."""
    if result.provenance.get("cached") and result.timings_s:
        return float(sum(result.timings_s.values())), True
    return float(result.wall_s), False


def typical_errors(methods: list[str]) -> dict[str, dict]:
    """Each method's MAE against QM9 and time in the methods benchmark (``typical.json``), where it has one."""
    table = typical().get("methods", {})
    return {m: {"mae": table[m].get("mae", {}), "median_s": table[m].get("median_s"), "n": table[m].get("n")}
            for m in methods if m in table and table[m].get("n")}


def _is_energy(key: str) -> bool:
    try:
        return get_target(key).is_energy
    except KeyError:
        return False


def _cell(v) -> str:
    return "" if v is None else f"{v:.8g}"


def _error_text(key: str, err: float | None, energy_unit: str) -> str:
    if err is None:
        return "-"
    try:
        target = get_target(key)
    except KeyError:  # a plug-in method's own property
        return f"{err:.3g}"
    if target.chemical_accuracy is None:
        return f"{err:.3g}"
    acc = target.chemical_accuracy * (ENERGY_UNITS[energy_unit] if target.is_energy else 1.0)
    return f"{err:.3g} ({err / acc:.2g}x)"


def compare(molecule: Molecule, methods: dict[str, Method], *, reference: str = "auto", qm9: QM9 | None = None,
            progress: Progress | None = None, estimates: dict[str, float] | None = None) -> Comparison:
    """Run ``methods`` (name -> method) on ``molecule`` and set them beside the reference.

    Args:
        reference: ``auto`` (QM9's label if the molecule is in QM9, else DFT's values if DFT ran),
            ``qm9``, ``dft`` or ``none``.
        progress: ``progress(stage, fraction)``; stages are prefixed by the method's name.
        estimates: seconds each method was estimated to take (recorded; DFT's gives the speed-ups
            when DFT does not run).
    """
    if reference not in REFERENCES:
        raise InputError(f"reference {reference!r} is not one of {', '.join(REFERENCES)}")
    if reference == "dft" and "dft" not in methods:
        raise InputError("--reference dft needs dft among the --methods")
    if molecule.positions is not None:  # a geometry no method can use: one sentence, before any runs
        check_geometry(molecule, method="any method")
    results, failures = {}, {}
    for name, method in methods.items():
        t0 = time.perf_counter()
        log.info("%s: starting", name)
        try:
            results[name] = method.run(molecule, progress=_prefixed(progress, name))
        except MolmtlError as exc:
            failures[name] = str(exc)
            log.warning("%s gave no result: %s", name, exc)
            continue
        log.info("%s: done in %.2f s", name, time.perf_counter() - t0)
    if not results:
        first = next(iter(failures.items()))
        raise InputError(f"no method gave a result; {first[0]}: {first[1]}")
    comparison = Comparison(molecule_summary(molecule), results, failures, estimates_s=dict(estimates or {}))
    _set_reference(comparison, molecule, reference, qm9)
    return comparison


def _prefixed(progress: Progress | None, name: str) -> Progress | None:
    if progress is None:
        return None
    return lambda stage, fraction=None: progress(f"{name}: {stage}", fraction)


def _set_reference(comparison: Comparison, molecule: Molecule, spec: str, qm9: QM9 | None) -> None:
    if spec == "none":
        comparison.reference_note = "none (--reference none)"
        return
    entry = None
    if spec in ("auto", "qm9"):
        entry = qm9_entry(molecule, qm9 if qm9 is not None else load_qm9())
        if entry is None and spec == "qm9":
            raise InputError(f"{molecule.name or molecule.smiles or molecule.formula} is not in QM9 (--reference qm9)")
    if entry is not None:
        comparison.reference_source = "qm9"
        comparison.reference = dict(entry.labels)
        how = f"found by {entry.match}"
        conf = ("" if entry.same_conformer is None else "; the input geometry is QM9's conformer" if entry.same_conformer
                else f"; the input geometry is another conformer ({entry.rmsd_angstrom:.2f} Angstrom RMSD): "
                     "the labels are for QM9's own")
        comparison.reference_note = f"QM9 {entry.index}'s labels (B3LYP/6-31G(2df,p)), {how}{conf}"
        return
    if "dft" in comparison.results:
        comparison.reference_source = "dft"
        comparison.reference = dict(comparison.results["dft"].properties)
        comparison.reference_note = (f"DFT's values ({comparison.results['dft'].level_of_theory}): the molecule is not "
                                     "in QM9" if spec == "auto" else "DFT's values (--reference dft)")
        return
    comparison.reference_note = "none: the molecule is not in QM9 and DFT did not run (add dft to --methods)"


__all__ = ["Comparison", "compare", "compute_seconds", "REFERENCES"]
