"""``POST /api/compare``: :func:`molmtl.methods.compare.compare` over what this server has.

The network and QM9's labels run in the request; xTB and DFT are jobs, so the comparison sets
their finished results (or their failures) beside the others and lists the jobs still running.
The page asks again as each job finishes and the table grows a column.
"""

from __future__ import annotations

from typing import Any

from molmtl.app import catalogue, submit
from molmtl.app.resources import Resources
from molmtl.chem.molecule import Molecule
from molmtl.errors import CalculationError, InputError, MolmtlError
from molmtl.methods.base import Method, Progress
from molmtl.methods.compare import Comparison, compare
from molmtl.methods.registry import METHODS
from molmtl.methods.result import ENERGY_UNITS, MethodResult, molecule_summary
from molmtl.targets import get_target


class Finished(Method):
    """A result (or a failure) obtained before, as a method that gives it back: ``compare`` sets
    it beside the others as if it ran now."""

    one_fragment = False

    def __init__(self, name: str, result: MethodResult | None = None, failure: str | None = None):
        self.name, self.result, self.failure = name, result, failure

    @property
    def level_of_theory(self) -> str:
        return self.result.level_of_theory if self.result is not None else self.name

    def check(self, molecule: Molecule) -> list[str]:
        return []

    def estimate_seconds(self, molecule: Molecule) -> float:
        return self.result.wall_s if self.result is not None else 0.0

    def run(self, molecule: Molecule, progress: Progress | None = None) -> MethodResult:
        if self.result is None:
            raise CalculationError(self.failure or f"{self.name} gave no result")
        return self.result


def compare_body(mol: Molecule, molecule_id: str, methods: dict[str, dict], res: Resources, *, reference: str,
                 unit: str, submit_jobs: bool) -> tuple[dict[str, Any], Comparison]:
    """The comparison so far (in ``unit``), and its JSON body: results, reference, errors,
    failures, estimates and the jobs behind it."""
    requested = {METHODS.canonical(name): options for name, options in methods.items()}
    results: dict[str, MethodResult] = {}
    failures: dict[str, str] = {}
    jobs: dict[str, dict] = {}
    estimates: dict[str, float] = {}
    for name, options in requested.items():
        full = catalogue.resolve_options(name, options)
        method = catalogue.build(name, full, qm9=res.qm9, store=res.store)
        est, why = catalogue.assess(method, mol, max_dft_minutes=res.settings.max_dft_minutes)
        if est is not None:
            estimates[name] = est
        if why is not None:
            failures[name] = why
            continue
        if not catalogue.runs_as_job(name):
            try:
                results[name] = method.run(mol)
            except MolmtlError as exc:
                failures[name] = str(exc)
            continue
        if submit_jobs:
            job, _ = submit.submit(name, full, method, mol, molecule_id, res)
        else:
            job = submit.existing(name, full, molecule_id, res, any_status=True)
        if job is None:
            continue
        jobs[name] = submit.job_json(job, res)
        if job.status == "done":
            results[name] = MethodResult.from_json(job.result)
        elif job.final:
            failures[name] = f"{job.status}: {job.error}"
    if "dft" not in estimates:  # the speed-ups are over DFT: its estimate when it does not run
        dft = catalogue.build("dft", catalogue.resolve_options("dft", {}))
        dft_s, _ = catalogue.assess(dft, mol, max_dft_minutes=res.settings.max_dft_minutes)
        if dft_s:
            estimates["dft"] = dft_s
    comparison = _comparison(mol, results, failures, estimates, reference, res).in_energy_unit(unit)
    body = comparison.to_json()
    pending = [m for m, j in jobs.items() if j["status"] in ("queued", "running")]
    body.update(molecule_id=molecule_id, jobs=jobs, pending=pending,
                chemical_accuracy=_accuracy(body, unit))
    return body, comparison


def _comparison(mol: Molecule, results: dict[str, MethodResult], failures: dict[str, str], estimates: dict[str, float],
                reference: str, res: Resources) -> Comparison:
    in_qm9 = bool(res.qm9.find(mol))
    if reference == "dft" and "dft" not in results:
        reference = "none"
        note = "none: DFT has no result yet"
    else:
        note = None
    if not results and in_qm9 and reference in ("auto", "qm9"):  # QM9's labels as the reference from the start
        results = {"qm9": catalogue.build("qm9", {}, qm9=res.qm9).run(mol)}
    if not results:
        if reference == "qm9":
            raise InputError(f"{mol.name or mol.smiles or mol.formula} is not in QM9 (reference qm9)")
        return Comparison(molecule_summary(mol), {}, dict(failures), reference_note=note or (
            "none yet: the molecule is not in QM9 and DFT has no result" if not in_qm9 else "none (reference none)"),
            estimates_s=estimates)
    methods = {name: Finished(name, result=r) for name, r in results.items()}
    methods.update({name: Finished(name, failure=why) for name, why in failures.items()})
    comparison = compare(mol, methods, reference=reference, qm9=res.qm9, estimates=estimates)
    if note:
        comparison.reference_note = note
    return comparison


def _accuracy(body: dict[str, Any], unit: str) -> dict[str, float]:
    """Chemical accuracy per property of the table, in the body's units (energies in ``unit``)."""
    keys = set(body["reference"]["properties"]) | {k for m in body["methods"].values() for k in m.get("properties", {})}
    out = {}
    for key in keys:
        try:
            target = get_target(key)
        except KeyError:
            continue
        if target.chemical_accuracy is not None:
            out[key] = target.chemical_accuracy * (ENERGY_UNITS[unit] if target.is_energy else 1.0)
    return out


__all__ = ["Finished", "compare_body"]
