"""Clustered multi-task learning: hard sharing inside each group of related tasks.

A grouping (e.g. from ``molmtl.relate`` task clustering, or TAG, Fifty et al. 2021) is a list of
groups of task keys; each group gets its own hard-shared encoder and the predictions are merged
back into task order. Groupings load from JSON (``[["U0", "U"], ["homo"]]`` or
``{"energies": ["U0", "U"], ...}``), YAML (the same shapes) or plain text (one group per line,
keys separated by commas or spaces, ``#`` comments).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from molmtl.errors import InputError, NotFoundError
from molmtl.models.base import MolBatch
from molmtl.mtl._parts import resolve_tasks
from molmtl.mtl.base import EncoderFactory, HeadFactory, Strategy, StrategyOutput
from molmtl.mtl.hard import HardSharing


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
        import yaml  # lightning's dependency; imported here so plain-text users never need it

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


class ClusteredSharing(Strategy):
    """One :class:`HardSharing` model per group; predictions merged in task order.

    Args:
        tasks: target keys, in output order (default: the grouping's keys in reading order).
        encoder_factory: builds one encoder per group.
        head_factory: builds one head per task.
        groups: the grouping (list of lists of keys), or a path to a grouping file.
        group_lasso (float): passed to every group's hard-sharing model (default 0).
    """

    def __init__(self, tasks: Sequence[str] | None, encoder_factory: EncoderFactory, head_factory: HeadFactory,
                 groups: Sequence[Sequence[str]] | str | Path | None = None, group_lasso: float = 0.0):
        super().__init__()
        if groups is None:
            raise InputError("the clustered strategy needs groups (a list of lists of task keys or a grouping file).")
        if isinstance(groups, (str, Path)):
            groups = load_grouping(groups)
        self.groups = check_grouping(groups, tasks)
        order = [k for g in self.groups for k in g]
        self.tasks = tuple(t.key for t in resolve_tasks(tasks)) if tasks else tuple(order)
        self.models = nn.ModuleList(HardSharing(g, encoder_factory, head_factory, group_lasso) for g in self.groups)
        # Column of the concatenated group predictions that holds each task.
        self.register_buffer("_perm", torch.tensor([order.index(k) for k in self.tasks]), persistent=False)

    def forward(self, batch: MolBatch) -> StrategyOutput:
        outs = [m(batch) for m in self.models]
        pred = torch.cat([o.pred for o in outs], dim=1)[:, self._perm]
        return StrategyOutput(pred=pred, features=[f for o in outs for f in o.features])

    def penalty(self):
        return sum((m.penalty() for m in self.models[1:]), self.models[0].penalty())

    def shared_parameters(self) -> list[nn.Parameter]:
        return [p for m in self.models for p in m.shared_parameters()]
