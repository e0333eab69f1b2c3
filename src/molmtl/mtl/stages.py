"""Layer-wise views of encoders, for strategies that act between layers (cross-stitch).

A *stage* is a callable ``stage(state: AtomFeatures | None, batch: MolBatch) -> AtomFeatures``;
an encoder's ``stages()``, applied in order starting from ``None``, reproduce ``encoder(batch)``
(PaiNN, GCN and MPNN define them next to their ``forward``, from the same layer functions).
PaiNN's ``compile`` and ``bf16`` options are not applied stage by stage.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from molmtl.errors import InputError
from molmtl.models.base import AtomFeatures, Encoder, MolBatch

Stage = Callable[[AtomFeatures | None, MolBatch], AtomFeatures]


def encoder_stages(encoder: Encoder) -> Sequence[Stage]:
    """The encoder's stages (InputError for an encoder without ``stages()``)."""
    own = getattr(encoder, "stages", None)
    if callable(own):
        return own()
    raise InputError(f"cross-stitch needs an encoder that exposes stages() (a sequence of "
                     f"stage(state, batch) -> AtomFeatures); {type(encoder).__name__} does not.")
