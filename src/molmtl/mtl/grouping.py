"""Task groupings: which tasks share an encoder (``--strategy clustered``), one file format for all.

A grouping is a list of groups of task keys. Files: JSON (``[["U0", "U"], ["homo"]]`` or
``{"energies": ["U0", "U"], ...}``), YAML (the same shapes) or plain text (one group per line,
keys separated by commas or spaces, ``#`` comments). ``molmtl relate`` writes them, ``molmtl
train --strategy clustered --groups FILE`` and ``--tasks FILE[:N]`` read them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from molmtl.errors import InputError, NotFoundError
from molmtl.targets import resolve_tasks


def _groups_from_object(obj, source: str) -> list[list[str]]:
    if isinstance(obj, dict):
        obj = list(obj.values())
    if not isinstance(obj, list) or not all(isinstance(g, list) and all(isinstance(k, str) for k in g) for g in obj):
        raise InputError(f"{source} must hold a list of groups (lists of task keys) or a mapping name -> group.")
    return obj


def load_grouping(path: str | Path) -> list[list[str]]:
    """Read a task grouping from a ``.json``, ``.yaml``/``.yml`` or plain-text file."""
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"grouping file {str(path)!r} does not exist.")
    text = path.read_text()
    suffix = path.suffix.lower()
    if suffix == ".json":
        try:
            return _groups_from_object(json.loads(text), str(path))
        except json.JSONDecodeError as err:
            raise InputError(f"grouping file {str(path)!r} is not valid JSON ({err.msg}, line {err.lineno}).") from None
    if suffix in (".yaml", ".yml"):
        import yaml  # lazy: Lightning's dependency; plain-text and JSON groupings never need it

        try:
            return _groups_from_object(yaml.safe_load(text), str(path))
        except yaml.YAMLError:
            raise InputError(f"grouping file {str(path)!r} is not valid YAML.") from None
    groups = []
    for line in text.splitlines():
        keys = line.split("#", 1)[0].replace(",", " ").split()
        if keys:
            groups.append(keys)
    return groups


def check_grouping(groups: Sequence[Sequence[str]], tasks: Sequence[str] | None = None) -> list[list[str]]:
    """Canonical keys per group; InputError unless the groups partition ``tasks`` (when given)."""
    if not groups or any(len(g) == 0 for g in groups):
        raise InputError("a grouping needs at least one group and no empty group.")
    canon = [[t.key for t in resolve_tasks(list(g))] for g in groups]
    flat = [k for g in canon for k in g]
    if len(set(flat)) != len(flat):
        raise InputError(f"a task appears in more than one group: {', '.join(sorted({k for k in flat if flat.count(k) > 1}))}.")
    if tasks is not None:
        want = [t.key for t in resolve_tasks(tasks)]
        missing, extra = [k for k in want if k not in flat], [k for k in flat if k not in want]
        if missing or extra:
            raise InputError(f"the grouping must cover the tasks exactly once (missing: {', '.join(missing) or 'none'}; "
                             f"not a task: {', '.join(extra) or 'none'}).")
    return canon


__all__ = ["load_grouping", "check_grouping"]
