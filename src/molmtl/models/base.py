"""The contract between data, encoders, heads and multi-task strategies.

Data produce a :class:`MolBatch`; an :class:`Encoder` maps it to per-atom features
(:class:`AtomFeatures`, dense and padded); heads read those out per task. Strategies
(``molmtl.mtl``) decide which encoder parameters tasks share.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from molmtl.data.molbatch import MolBatch
from molmtl.errors import InputError

#: Largest atomic number a QM9 model's element tables hold (H..F; row 0 is padding). Models
#: trained on a CSV with heavier elements grow their tables to ``TrainConfig.max_z``.
MAX_Z = 10


@dataclass
class AtomFeatures:
    """Per-atom representation from an encoder, dense and padded.

    Attributes:
        h: ``(B, N, F)`` scalar (invariant) features.
        mask: ``(B, N)`` bool, True for real atoms.
        z: ``(B, N)`` atomic numbers of the rows of ``h`` (0 for padding).
        pos: ``(B, N, 3)`` positions (Angstrom) when the encoder saw geometry, else None.
        vec: ``(B, N, 3, F)`` equivariant vector features when the encoder has them, else None.
    """

    h: Tensor
    mask: Tensor
    z: Tensor
    pos: Tensor | None = None
    vec: Tensor | None = None


class Encoder(nn.Module):
    """Base class: ``forward(batch: MolBatch) -> AtomFeatures`` with ``out_dim`` features."""

    out_dim: int

    def forward(self, batch: MolBatch) -> AtomFeatures:  # pragma: no cover - interface
        raise NotImplementedError

    def reset_parameters(self) -> None:
        for m in self.modules():
            if m is not self and hasattr(m, "reset_parameters"):
                m.reset_parameters()


def check_positive(owner: str, **values) -> None:
    """InputError (one sentence) unless every value is a positive number (feature widths, counts, radii)."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or value != value or value == float("inf"):
            raise InputError(f"{owner}'s {name} must be a positive number, got {value!r}")


def masked_sum(h: Tensor, mask: Tensor) -> Tensor:
    """Sum over atoms of ``h`` (B, N, ...) where ``mask`` (B, N) is True."""
    m = mask.to(h.dtype).reshape(*mask.shape, *([1] * (h.dim() - 2)))
    return (h * m).sum(dim=1)


def masked_mean(h: Tensor, mask: Tensor) -> Tensor:
    """Mean over real atoms of ``h`` (B, N, ...)."""
    count = mask.sum(dim=1).clamp(min=1).to(h.dtype).reshape(-1, *([1] * (h.dim() - 2)))
    return masked_sum(h, mask) / count


__all__ = ["MAX_Z", "MolBatch", "AtomFeatures", "Encoder", "check_positive", "masked_sum", "masked_mean"]
