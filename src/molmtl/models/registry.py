"""Encoder names -> classes, for the CLI and configs (library users can build classes directly).

``ENCODERS`` maps each name to its class and imports the class's module on first look-up, so
that loading a PaiNN model does not import torch_geometric (which only the 2D encoders use).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from importlib import import_module

from molmtl.errors import InputError
from molmtl.models.base import Encoder


class LazyClasses(Mapping):
    """A read-only ``name -> class`` mapping whose classes are imported when first looked up.

    Args:
        paths (dict): ``name -> "package.module:ClassName"``.
    """

    def __init__(self, paths: dict[str, str]):
        self._paths = dict(paths)

    def __getitem__(self, name: str) -> type:
        module, _, attr = self._paths[name].partition(":")
        return getattr(import_module(module), attr)

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)


ENCODERS: Mapping[str, type[Encoder]] = LazyClasses(
    {"gcn": "molmtl.models.gcn:GCN", "mpnn": "molmtl.models.mpnn:MPNN", "painn": "molmtl.models.painn:PaiNN"})


def make_encoder(name: str, **hparams) -> Encoder:
    """A new encoder ``name`` (``gcn``, ``mpnn``, ``painn``) built with ``hparams``."""
    key = str(name).strip().lower()
    if key not in ENCODERS:
        raise InputError(f"unknown encoder {name!r}; choose one of: {', '.join(ENCODERS)}")
    return ENCODERS[key](**hparams)


__all__ = ["ENCODERS", "LazyClasses", "make_encoder"]
