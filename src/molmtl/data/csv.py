"""Users' own CSV files, chemprop-style: a SMILES column and optional target columns.

Target columns may be QM9 keys (``homo``, ``U0 [meV]``: a unit in brackets is converted to the
registry's) or any other name (a user target). Empty cells are missing labels (NaN), masked
out of losses and metrics.
"""

from __future__ import annotations

import csv as _csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from molmtl.chem.rdkit_util import mol_from_smiles
from molmtl.errors import InputError, NotFoundError
from molmtl.targets import Target, column_target

SMILES_HEADERS = ("smiles", "SMILES", "Smiles", "canonical_smiles", "mol")


@dataclass(frozen=True)
class CsvData:
    """Molecules and labels read from a CSV.

    Attributes:
        smiles: one SMILES per row.
        targets: the target of each label column.
        y: ``(rows, len(targets))`` labels in the targets' units, NaN where missing.
        names: a per-row identifier (an ``id``/``name`` column, else the SMILES).
    """

    smiles: list[str]
    targets: tuple[Target, ...]
    y: np.ndarray
    names: list[str]


def read_csv(
    path: str | Path,
    *,
    smiles_column: str | None = None,
    target_columns: list[str] | None = None,
    validate: bool = True,
    tasks: Sequence[str] | None = None,
    labels: bool = True,
) -> CsvData:
    """Read and check a CSV of molecules.

    Args:
        path: the file.
        smiles_column: the SMILES column (default: the first of ``SMILES_HEADERS`` present).
        target_columns: label columns (default: every other column but ``id``/``name``).
        validate: parse every SMILES with RDKit and report the first bad rows.
        tasks: keep only the label columns of these target keys (other columns, text ones
            included, are left unread).
        labels: read the label cells (False: the targets from the header only; ``y`` is empty).
    """
    import pandas as pd  # lazy: a second to import; only reading a CSV needs it

    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"CSV file not found: {path}")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True, skip_blank_lines=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} is not a readable CSV file: {str(exc).splitlines()[0]}") from None
    # blank lines are dropped here, not by pandas, so that messages can name the file's own line numbers
    line_numbers = (df.index[~(df.apply(lambda col: col.str.strip()) == "").all(axis=1)] + 2).tolist()
    df = df.loc[[n - 2 for n in line_numbers]].reset_index(drop=True)
    if df.empty:
        raise InputError(f"{path} has no data rows")
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as fh:
        header = [h.strip() for h in next(_csv.reader(fh), [])]
    repeated = sorted({h for h in header if header.count(h) > 1})
    if repeated:  # pandas would silently rename the second one to 'name.1'
        raise InputError(f"{path}: column {repeated[0]!r} appears more than once in the header")
    column = smiles_column or next((c for c in SMILES_HEADERS if c in df.columns), None)
    if column is None or column not in df.columns:
        raise InputError(f"{path} has no SMILES column (looked for {smiles_column or ', '.join(SMILES_HEADERS)}); columns are {', '.join(df.columns)}")
    name_col = next((c for c in ("id", "name", "ID", "Name") if c in df.columns and c != column), None)
    label_cols = target_columns if target_columns is not None else [c for c in df.columns if c not in (column, name_col)]
    missing = [c for c in label_cols if c not in df.columns]
    if missing:
        raise InputError(f"{path} has no column {missing[0]!r}; columns are {', '.join(df.columns)}")
    targets, scales = [], []
    for c in label_cols:
        try:
            t, s = column_target(c)
        except ValueError as exc:
            raise InputError(f"{path}: {exc}") from None
        targets.append(t)
        scales.append(s)
    keys = [t.key for t in targets]
    if len(set(keys)) != len(keys):
        raise InputError(f"{path}: two columns name the same target ({', '.join(keys)})")
    if tasks is not None:
        wanted = set(tasks)
        keep = [j for j, k in enumerate(keys) if k in wanted]
        label_cols, targets, scales = [label_cols[j] for j in keep], [targets[j] for j in keep], [scales[j] for j in keep]
    y = np.full((len(df), len(label_cols) if labels else 0), np.nan)
    for j, (c, s) in enumerate(zip(label_cols, scales) if labels else ()):
        cells = df[c].str.strip()
        values = pd.to_numeric(cells.where(cells != "", None), errors="coerce")
        bad = values.isna() & (cells != "") & (~cells.str.lower().isin(["nan", "na", "none"]))
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(f"{path}, line {line_numbers[row]}, column {c!r}: {cells.iloc[row]!r} is not a number "
                             "(a column that holds no target: leave it out with --tasks)")
        y[:, j] = values.to_numpy(dtype=float) * s
    smiles = [s.strip() for s in df[column]]
    if validate:
        _check_smiles(path, smiles, line_numbers)
    names = list(df[name_col]) if name_col else list(smiles)
    return CsvData(smiles, tuple(targets), y, names)


def read_molecule_list(path: str | Path, *, smiles_column: str | None = None) -> tuple[list[str], list[str]]:
    """``(smiles, names)`` of a file of molecules: a CSV with a SMILES column (and an ``id`` or
    ``name`` column), a header-less CSV whose first column holds SMILES, or a ``.smi``/``.txt``
    list (a SMILES, then an optional name, per line; ``#`` comments and blank lines skipped).
    The SMILES are not checked here: each row's own error comes with its prediction."""
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{path} is not a UTF-8 text file") from None
    if path.suffix.lower() in (".smi", ".txt"):
        if smiles_column is not None:
            raise InputError(f"--smiles-column is for CSV files; {path.name} is a SMILES list (a SMILES, then a name, per line)")
        smiles, names = [], []
        for line in text.splitlines():
            words = line.split("#", 1)[0].split() if not line.lstrip().startswith("#") else []
            if words:
                smiles.append(words[0])
                names.append(" ".join(words[1:]) or words[0])
        if not smiles:
            raise InputError(f"{path} holds no SMILES")
        return smiles, names
    rows = [r for r in _csv.reader(text.splitlines()) if any(c.strip() for c in r)]
    if not rows:
        raise InputError(f"{path} has no data rows")
    header = [c.strip() for c in rows[0]]
    if smiles_column is None and not any(c in SMILES_HEADERS for c in header) and _is_smiles(header[0]):
        return [r[0].strip() for r in rows], [(r[1].strip() if len(r) > 1 and r[1].strip() else r[0].strip()) for r in rows]
    table = read_csv(path, smiles_column=smiles_column, target_columns=[], validate=False)
    return table.smiles, [str(n) for n in table.names]


def _is_smiles(text: str) -> bool:
    try:
        mol_from_smiles(text)
    except InputError:
        return False
    return True


def _check_smiles(path: Path, smiles: list[str], line_numbers: list[int]) -> None:
    bad = []
    for i, smi in enumerate(smiles):
        try:
            mol_from_smiles(smi)
        except InputError:
            bad.append(i)
    if bad:
        lines = ", ".join(str(line_numbers[i]) for i in bad[:5]) + (" ..." if len(bad) > 5 else "")
        raise InputError(f"{path}: {len(bad)} invalid SMILES (line {lines}), e.g. {smiles[bad[0]]!r}")
