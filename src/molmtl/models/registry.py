"""Encoder names -> classes, for the CLI and configs (library users can build classes directly)."""

from __future__ import annotations

from molmtl.errors import InputError
from molmtl.models.base import Encoder
from molmtl.models.gcn import GCN
from molmtl.models.mpnn import MPNN
from molmtl.models.painn import PaiNN

ENCODERS: dict[str, type[Encoder]] = {"gcn": GCN, "mpnn": MPNN, "painn": PaiNN}


def make_encoder(name: str, **hparams) -> Encoder:
    """A new encoder ``name`` (``gcn``, ``mpnn``, ``painn``) built with ``hparams``."""
    key = str(name).strip().lower()
    if key not in ENCODERS:
        raise InputError(f"unknown encoder {name!r}; choose one of: {', '.join(ENCODERS)}")
    return ENCODERS[key](**hparams)


__all__ = ["ENCODERS", "make_encoder"]
