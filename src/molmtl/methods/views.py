"""Plain-text views of method results: one table shape for predict, dft run and dft xtb.

Printing is separate from computing: these take :class:`MethodResult` objects (in any one energy
unit, :func:`~molmtl.methods.result.in_energy_unit`) and return text.
"""

from __future__ import annotations

from molmtl.methods.result import MethodResult


def fmt(value: float | None) -> str:
    """Six significant digits; totals in the hundred thousands (meV energies) to 0.1; ``-`` for none."""
    if value is None:
        return "-"
    return f"{value:.1f}" if abs(value) >= 1e5 else f"{value:.6g}"


def with_sigma(value: float | None, sigma: float | None) -> str:
    """``value +- sigma`` (the sigma to two significant digits), or the value alone."""
    if value is None:
        return "-"
    return fmt(value) if sigma is None else f"{fmt(value)} +- {_two_digits(sigma)}"


def _two_digits(sigma: float) -> str:
    """Sigma to two significant digits, without an exponent in the range a table shows (120, not 1.2e+02)."""
    if sigma != sigma or sigma == 0 or not 1e-4 <= abs(sigma) < 1e6:
        return f"{sigma:.2g}"
    return f"{float(f'{sigma:.2g}'):.10g}"


def result_table(result: MethodResult) -> str:
    """Property | value (+- sigma) | QM9's label and |error| when the molecule is in QM9 | unit."""
    skip = set(result.extras.get("not_comparable", []))
    labels = {k: v for k, v in ((result.qm9 or {}).get("labels") or {}).items() if k not in skip}
    has_label = any(labels.get(k) is not None for k in result.properties)
    has_sigma = any(v is not None for v in result.uncertainty.values())
    width = 26 if has_sigma else 16
    head = f"{'property':<9} {result.method:>{width}}" + (f" {'QM9 label':>16} {'|error|':>10}" if has_label else "") + "  unit"
    lines = [head]
    for key, value in result.properties.items():
        line = f"{key:<9} {with_sigma(value, result.uncertainty.get(key)):>{width}}"
        if has_label:
            label = labels.get(key)
            err = abs(value - label) if (value is not None and label is not None) else None
            line += f" {fmt(label):>16} {('-' if err is None else f'{err:.3g}'):>10}"
        lines.append(line + f"  {result.units.get(key, '')}")
    return "\n".join(lines + derived_notes(result.derived))


def derived_notes(derived: dict[str, str]) -> list[str]:
    """``computed: A, B, C (from ...)`` lines, one per way of computing."""
    by_how: dict[str, list[str]] = {}
    for key, how in derived.items():
        by_how.setdefault(how, []).append(key)
    return [f"computed: {', '.join(keys)} ({how})" for how, keys in by_how.items()]


def domain_lines(result: MethodResult, *, suggest: bool = True) -> list[str]:
    """``domain: near (reason; reason)`` and (``suggest``) the suggestion to check with DFT, for ML results."""
    if not result.domain:
        return []
    d = result.domain
    lines = [f"domain: {d['verdict']}" + (f" ({'; '.join(d['reasons'])})" if d.get("reasons") else "")]
    if suggest and d.get("suggestion"):
        lines.append(d["suggestion"])
    return lines


def header(result: MethodResult) -> list[str]:
    """The lines above a result's table: molecule, method, geometry, QM9 entry, timings."""
    mol = result.molecule
    title = mol.get("name") or mol.get("smiles") or mol.get("formula")
    lines = [f"{title} ({mol.get('formula')}, {mol.get('n_atoms')} atoms; input: {mol.get('input')})",
             f"method: {result.method} ({result.level_of_theory})"]
    if result.geometry is not None:
        lines.append(f"geometry: {result.geometry.source}")
    if result.qm9:
        part = result.qm9.get("split_part")
        rmsd = result.qm9.get("rmsd_angstrom")
        lines.append(f"QM9 {result.qm9['index']} (found by {result.qm9.get('match')}"
                     + (f"; in the model's {part} set" if part else "")
                     + (f"; geometry {rmsd:.2f} Angstrom RMSD from QM9's" if rmsd is not None else "") + ")")
    stages = ", ".join(f"{k} {v:.2f} s" for k, v in result.timings_s.items())
    cached = " (from the results store)" if result.provenance.get("cached") else ""
    lines.append(f"time: {result.wall_s:.2f} s{cached}" + (f" ({stages})" if stages else ""))
    return lines


__all__ = ["fmt", "with_sigma", "result_table", "derived_notes", "domain_lines", "header"]
