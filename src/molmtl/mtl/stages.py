"""Layer-wise views of encoders, for strategies that act between layers (cross-stitch).

A *stage* is a callable ``stage(state: AtomFeatures | None, batch: MolBatch) -> AtomFeatures``;
an encoder's stages, applied in order starting from ``None``, reproduce ``encoder(batch)``. An
encoder may define ``stages()`` itself; for the package's PaiNN, GCN and MPNN this module builds
them from the encoders' sub-modules (the graph encoders' flat node features travel between stages
as dense padded ``AtomFeatures`` and are flattened again with the mask, which keeps PyG's node
order). PaiNN's ``compile`` and ``bf16`` options are not applied stage by stage. These adapters
follow the encoders' current internals (tests/mtl/test_real_encoders.py checks that the stages
reproduce ``encoder(batch)``); an encoder's own ``stages()`` is the durable interface.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch_geometric.utils import to_dense_batch

from molmtl.errors import InputError
from molmtl.models.base import AtomFeatures, Encoder, MolBatch

Stage = Callable[[AtomFeatures | None, MolBatch], AtomFeatures]


def _graph_features(h_flat, batch: MolBatch) -> AtomFeatures:
    g = batch.graph
    dense, mask = to_dense_batch(h_flat, g.batch, batch_size=len(batch))
    z, _ = to_dense_batch(g.z, g.batch, batch_size=len(batch))
    return AtomFeatures(h=dense, mask=mask, z=z)


def _gcn_stages(enc) -> list[Stage]:
    def embed(state, batch):
        return _graph_features(enc.act(enc.lin_in(batch.graph.x)), batch)

    def conv_stage(conv):
        def stage(state, batch):
            h = state.h[state.mask]
            return _graph_features(h + enc.dropout(enc.act(conv(h, batch.graph.edge_index))), batch)
        return stage

    return [embed, *(conv_stage(c) for c in enc.convs)]


def _mpnn_stages(enc) -> list[Stage]:
    def embed(state, batch):
        return _graph_features(enc.act(enc.lin_in(batch.graph.x)), batch)

    def step(state, batch):
        g = batch.graph
        h = state.h[state.mask]
        m = enc.act(enc.conv(h, g.edge_index, g.edge_attr))
        out, _ = enc.gru(m.unsqueeze(0), h.unsqueeze(0))  # one-layer GRU: its state is its output
        return _graph_features(out.squeeze(0), batch)

    return [embed, *([step] * enc.steps)]


class _Captured(Exception):
    """Raised by a pre-hook to stop PaiNN's forward once the first message's inputs are known."""


def _painn_stages(enc) -> list[Stage]:
    # PaiNN prepares its geometry (centred positions, radial basis, cutoff) inside its forward; to
    # stay independent of how, the embed stage runs that forward up to the first message block and
    # captures the block's inputs ``(s, v, *geometry)``. The layers then follow PaiNN's definition:
    # residual message, residual update, padding rows kept at 0.
    geometry: dict = {}

    def embed(state, batch):
        if batch.pos is None:
            raise InputError("PaiNN needs 3D positions; build batches with geometry=True.")

        def grab(module, args):
            geometry["args"] = args[2:]
            raise _Captured((args[0], args[1]))

        handle = enc.messages[0].register_forward_pre_hook(grab)
        try:
            enc._layers(batch.z, batch.pos, batch.mask)
            raise RuntimeError("PaiNN ran without calling its first message block")
        except _Captured as done:
            s, v = done.args[0]
        finally:
            handle.remove()
        return AtomFeatures(h=s, mask=batch.mask, z=batch.z, pos=batch.pos, vec=v)

    def layer(message, update):
        def stage(state, batch):
            m = state.mask.unsqueeze(-1).to(state.h.dtype)
            ds, dv = message(state.h, state.vec, *geometry["args"])
            s, v = state.h + ds, state.vec + dv
            ds, dv = update(s, v)
            return AtomFeatures(h=(s + ds) * m, mask=state.mask, z=state.z, pos=state.pos, vec=(v + dv) * m.unsqueeze(2))
        return stage

    return [embed, *(layer(msg, upd) for msg, upd in zip(enc.messages, enc.updates))]


def encoder_stages(encoder: Encoder) -> Sequence[Stage]:
    """The encoder's stages: its own ``stages()`` if it has one, else an adapter for PaiNN/GCN/MPNN."""
    own = getattr(encoder, "stages", None)
    if callable(own):
        return own()
    from molmtl.models.gcn import GCN
    from molmtl.models.mpnn import MPNN
    from molmtl.models.painn import PaiNN

    for cls, build in ((PaiNN, _painn_stages), (GCN, _gcn_stages), (MPNN, _mpnn_stages)):
        if isinstance(encoder, cls):
            return build(encoder)
    raise InputError(f"cross-stitch needs an encoder that exposes stages() (a sequence of "
                     f"stage(state, batch) -> AtomFeatures) or one of PaiNN, GCN, MPNN; "
                     f"{type(encoder).__name__} is neither.")
