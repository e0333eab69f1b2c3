"""``molmtl predict FILE``: a file of SMILES through the network, rows streamed to a CSV.

Rows come out in the input's order as soon as each block of molecules is predicted (3D models
embed in worker processes that run ahead); each row carries the molecule's predictions with
units in the headers, its QM9 entry (id, part of the model's split, QM9's labels) when it is in
QM9, its warnings, and the reason when it has no prediction.
"""

from __future__ import annotations

import csv
import logging
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import typer
from tqdm import tqdm

from molmtl.chem.parse import from_smiles
from molmtl.data.cache import atomic_path
from molmtl.data.csv import read_molecule_list
from molmtl.data.qm9 import load_qm9
from molmtl.errors import InputError, MolmtlError
from molmtl.inference import TrainedModel, iter_smiles_predictions
from molmtl.methods.domain import assess_many
from molmtl.methods.ml import split_part
from molmtl.methods.result import ENERGY_UNITS
from molmtl.targets import TARGET_KEYS, column_header


def _display(target, unit: str) -> tuple[str, float]:
    """The column unit and the factor from the registry's unit for ``target`` in energy unit ``unit``."""
    if target.is_energy:
        return unit, ENERGY_UNITS[unit]
    return target.unit, 1.0


def predict_file(source: Path, trained: TrainedModel, model_path: str, *, out: Path | None, smiles_column: str | None,
                 workers: int | None, progress: bool, energy: str, largest_fragment: bool, lookup: bool) -> None:
    """Write one CSV row per molecule of ``source`` to ``out`` (or standard output)."""
    smiles, names = read_molecule_list(source, smiles_column=smiles_column)
    notes: dict[int, str] = {}
    if largest_fragment:
        smiles = list(smiles)
        for i, smi in enumerate(smiles):
            if "." in smi:
                try:
                    mol = from_smiles(smi, embed=False, largest_fragment=True)
                except MolmtlError:
                    continue  # its row says why
                smiles[i], notes[i] = mol.smiles, mol.warnings[0] if mol.warnings else ""
    qm9 = load_qm9() if lookup and trained.config.data is None else None
    workers = workers or os.cpu_count() or 1
    cols = [(t, *_display(t, energy)) for t in trained.targets]
    head = ["name", "smiles", *(h for t, u, _ in cols for h in (column_header(t.key, u), column_header(f"{t.key}_sigma", u)))]
    qm9_cols = [(t, u, f) for t, u, f in cols if t.key in TARGET_KEYS] if qm9 is not None else []
    if qm9 is not None:
        head += ["qm9_index", "split_part", *(column_header(f"{t.key} QM9", u) for t, u, _ in qm9_cols)]
    head += ["domain", "domain_reasons", "warnings", "error"]
    failed = 0
    t0 = time.perf_counter()
    with (atomic_path(out) if out is not None else _nullpath()) as tmp:
        fh = open(tmp, "w", newline="") if tmp is not None else sys.stdout  # rows reach standard output as they come
        try:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(head)
            quiet = logging.getLogger().level > logging.INFO  # molmtl -q
            bar = tqdm(total=len(smiles), desc="predict", unit="mol", file=sys.stderr,
                       disable=not progress or quiet or not sys.stderr.isatty())
            for rows in _chunks(iter_smiles_predictions(trained, smiles, names=names, workers=workers), ASSESS_CHUNK):
                done = [r for r in rows if r.values is not None]
                trusts = dict(zip((r.index for r in done), assess_many(
                    trained, [r.molecule for r in done], np.array([r.values for r in done]).reshape(len(done), -1),
                    [r.embedding for r in done]))) if done else {}
                for row in rows:
                    i = row.index
                    warnings = [w for w in ([notes.get(i)] + list(row.molecule.warnings if row.molecule else [])) if w]
                    trust = trusts.get(i)
                    sigma = None if trust is None else trust.sigma
                    cells = [names[i], smiles[i]]
                    for j, (t, u, f) in enumerate(cols):
                        cells += ["" if row.values is None else f"{float(row.values[j]) * f:.8g}",
                                  "" if sigma is None else f"{float(sigma[j]) * f:.3g}"]
                    if qm9 is not None:
                        cells += _qm9_cells(row.molecule, qm9, trained, qm9_cols)
                    domain = {} if trust is None else trust.domain
                    cells += [domain.get("verdict", ""), "; ".join(domain.get("reasons", [])), "; ".join(warnings),
                              row.error or ""]
                    failed += row.error is not None
                    writer.writerow(cells)
                fh.flush()
                bar.update(len(rows))
            bar.close()
        finally:
            if tmp is not None:
                fh.close()
    elapsed = time.perf_counter() - t0
    if failed == len(smiles):  # nothing usable came of the input: a user error, exit code 2
        raise InputError(f"none of the {len(smiles)} molecules in {source} could be predicted; see the error column"
                         + (f" of {out}" if out is not None else ""))
    typer.echo(f"{len(smiles) - failed} of {len(smiles)} molecules predicted in {elapsed:.1f} s "
               f"({len(smiles) / max(elapsed, 1e-9):.0f} per second, {workers} embedding workers) with {model_path}"
               + (f"; {failed} without predictions (reasons in the error column)" if failed else "")
               + (f"; written to {out}" if out is not None else ""), err=True)


#: Rows whose sigma and domain verdict are computed together (one neighbour search for all of them).
ASSESS_CHUNK = 64


def _chunks(rows: Iterator, size: int) -> Iterator[list]:
    """Consecutive lists of up to ``size`` items, each as soon as it is full (or the input ends)."""
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _qm9_cells(molecule, qm9, trained, qm9_cols) -> list[str]:
    if molecule is None:
        return ["", ""] + [""] * len(qm9_cols)
    rows = qm9.find(molecule)
    if not rows:
        return ["", ""] + [""] * len(qm9_cols)
    row = int(rows[0])
    labels = [f"{float(qm9.targets[row, TARGET_KEYS.index(t.key)]) * f:.8g}" for t, _, f in qm9_cols]
    return [str(int(qm9.qm9_index[row])), split_part(trained, qm9, row) or "", *labels]


class _nullpath:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


__all__ = ["predict_file"]
