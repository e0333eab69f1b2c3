"""The calibration report: per property metrics of sigma on a split part, as JSON, Markdown and PNG.

Errors, sigmas, MAEs and the NLL are in each property's display unit (meV for energies), so
the NLL of two properties is not comparable, and an NLL in another unit differs by the log of
the unit's factor. The targets the project set itself (for U0, HOMO, LUMO, gap, mu and alpha
of each shipped model, on the test part) are checked on every row.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from molmtl.data.cache import atomic_path
from molmtl.plotting import pyplot, save_png
from molmtl.targets import Target
from molmtl.uncertainty.calibration import Calibration
from molmtl.uncertainty.data import PartOutputs
from molmtl.uncertainty.metrics import normal_quantile, table

#: The properties the targets are set for, and the targets: 90 % coverage inside this range,
#: Spearman rho(|error|, sigma) at least this, MAE of the 10 % largest sigmas / MAE of the rest at least this.
FOCUS = ("U0", "homo", "lumo", "gap", "mu", "alpha")
COVERAGE_90 = (0.87, 0.93)
MIN_SPEARMAN = 0.3
MIN_RATIO = 2.5


def target_misses(row: dict) -> list[str]:
    """The targets a report row misses, in words (empty: all met)."""
    missed = []
    cov = row["coverage"]["0.9"]
    if not COVERAGE_90[0] <= cov <= COVERAGE_90[1]:
        missed.append(f"90% coverage {100 * cov:.1f}%")
    if not row["spearman"] >= MIN_SPEARMAN:
        missed.append(f"rho {row['spearman']:.2f}")
    if not row["ratio"] >= MIN_RATIO:
        missed.append(f"ratio {row['ratio']:.2f}")
    return missed


def calibration_report(cal: Calibration, part: PartOutputs, targets: Sequence[Target], *,
                       part_name: str = "test") -> dict:
    """Per property metrics of ``cal``'s sigma on ``part`` (display units): the rows of
    :func:`molmtl.uncertainty.metrics.table` with ``unit``, ``focus`` and ``missed`` added."""
    sigma = cal.sigma(part.preds, part.emb)
    scale = np.array([float(t.to_display(1.0)) for t in targets])
    rows = table([t.key for t in targets], part.residuals * scale, sigma * scale,
                 {0.68: cal.factors[0.68], 0.9: cal.factors[0.9]})
    for row, t in zip(rows, targets):
        row["unit"] = t.display_unit
        row["focus"] = t.key in FOCUS
        row["missed"] = target_misses(row)
    return {"method": cal.method, "part": part_name, "n_molecules": len(part.emb), "geometry": cal.info.get("geometry"),
            "distance_percentiles": {str(k): v for k, v in cal.distance_percentiles.items()}, "targets": rows}


def _f(v, digits: int = 3) -> str:
    return "-" if v is None or not np.isfinite(v) else f"{v:.{digits}g}"


def markdown(report: dict) -> str:
    """The report's table (one row per property; * marks the properties with targets)."""
    head = ["target", "unit", "n", "MAE", "median sigma", "68% cov. [%]", "within 1 sigma [%]", "90% cov. [%]",
            "Spearman rho [-]",
            "miscal. area [-]", "NLL [nats]", "MAE top 10%", "MAE other 90%", "ratio [-]", "targets"]
    lines = [f"Uncertainty ({report['method']}) on the {report['part']} part, {report['n_molecules']} molecules"
             + (f", {report['geometry']} geometries" if report.get("geometry") else ""), "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in report["targets"]:
        verdict = ("missed: " + ", ".join(r["missed"]) if r["missed"] else "met") if r["focus"] else "-"
        lines.append("| " + " | ".join([
            r["key"] + (" *" if r["focus"] else ""), r["unit"], str(r["n"]), _f(r["mae"]), _f(r["median_sigma"]),
            f"{100 * r['coverage']['0.68']:.1f}", f"{100 * r['within_1_sigma']:.1f}", f"{100 * r['coverage']['0.9']:.1f}",
            f"{r['spearman']:.3f}",
            f"{r['miscalibration_area']:.3f}", f"{r['nll']:.3f}", _f(r["mae_top10"]), _f(r["mae_rest"]),
            f"{r['ratio']:.2f}", verdict]) + " |")
    lines += ["", "68% and 90% coverage: of the calibrated intervals, +-z sigma with z from the validation part "
              "(z = 1.645 at 90%); within 1 sigma: of +-sigma (68% if the errors were Gaussian).",
              f"Targets (*): 90% coverage {100 * COVERAGE_90[0]:.0f}-{100 * COVERAGE_90[1]:.0f}%, "
              f"rho >= {MIN_SPEARMAN}, ratio >= {MIN_RATIO}. Errors, sigmas and the NLL in the display unit."]
    return "\n".join(lines) + "\n"


def calibration_plot(path: str | Path, cal: Calibration, part: PartOutputs, targets: Sequence[Target]) -> Path:
    """One panel per property: the RMS error of molecules binned by sigma (ten equal-count bins)
    against their RMS sigma, log-log, on the diagonal when sigma is calibrated; and one panel of
    observed against nominal coverage of central Gaussian intervals, every property a line."""
    plt = pyplot()
    sigma = cal.sigma(part.preds, part.emb)
    residual = part.residuals
    n = len(targets) + 1
    cols = min(n, 5)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(2.8 * cols, 2.7 * rows), squeeze=False)
    levels = np.linspace(0.01, 0.99, 50)
    z = normal_quantile((1 + levels) / 2)
    cover = axes[0][0]
    for j, t in enumerate(targets):
        ok = np.isfinite(residual[:, j]) & np.isfinite(sigma[:, j])
        r, s = t.to_display(residual[ok, j]), t.to_display(sigma[ok, j])
        ax = axes[(j + 1) // cols][(j + 1) % cols]
        if len(r) >= 10:
            bins = np.array_split(np.argsort(s), 10)
            rms_s = np.array([np.sqrt(np.mean(s[b] ** 2)) for b in bins])
            rms_e = np.array([np.sqrt(np.mean(r[b] ** 2)) for b in bins])
            ax.loglog(rms_s, rms_e, "o-", ms=3)
            for axis in (ax.xaxis, ax.yaxis):  # log axes' minor labels overlap on panels this small
                axis.set_minor_formatter(plt.NullFormatter())
            lo, hi = min(rms_s.min(), rms_e.min()), max(rms_s.max(), rms_e.max())
            ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.set_title(t.key, fontsize=9)
        ax.set_xlabel(f"RMS sigma [{t.display_unit}]", fontsize=7)
        ax.set_ylabel(f"RMS error [{t.display_unit}]", fontsize=7)
        ax.tick_params(labelsize=6)
        if len(r):
            observed = (np.abs(r)[:, None] / s[:, None] <= z[None, :]).mean(axis=0)
            cover.plot(levels, observed, lw=1.4 if t.key in FOCUS else 0.6, alpha=1.0 if t.key in FOCUS else 0.5,
                       label=t.key if t.key in FOCUS else None)
    cover.plot([0, 1], [0, 1], "k--", lw=0.8)
    cover.set_title("Gaussian interval coverage", fontsize=9)
    cover.set_xlabel("nominal [-]", fontsize=7)
    cover.set_ylabel("observed [-]", fontsize=7)
    cover.tick_params(labelsize=6)
    cover.legend(fontsize=6)
    for j in range(n, rows * cols):
        axes[j // cols][j % cols].axis("off")
    fig.suptitle(f"sigma ({cal.method}) on {len(part.emb)} molecules", fontsize=9)
    fig.tight_layout()
    return save_png(fig, Path(path))


def write_report(out_dir: str | Path, cal: Calibration, part: PartOutputs, targets: Sequence[Target], *,
                 part_name: str = "test", stem: str = "uncertainty") -> dict:
    """Write ``STEM.json``, ``STEM.md`` and ``STEM.png`` (:func:`calibration_plot`) to ``out_dir``;
    return the report."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = calibration_report(cal, part, targets, part_name=part_name)
    with atomic_path(out / f"{stem}.json") as tmp:
        tmp.write_text(json.dumps(report, indent=2))
    with atomic_path(out / f"{stem}.md") as tmp:
        tmp.write_text(markdown(report))
    calibration_plot(out / f"{stem}.png", cal, part, targets)
    return report


__all__ = ["calibration_report", "markdown", "calibration_plot", "write_report", "target_misses", "FOCUS",
           "COVERAGE_90", "MIN_SPEARMAN", "MIN_RATIO"]
