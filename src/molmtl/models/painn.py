"""PaiNN, dense: every molecule of a batch padded to ``N`` atoms, all pairs as ``(B, N, N)`` blocks.

Schütt, Unke and Gastegger, "Equivariant message passing for the prediction of tensorial
properties and molecular spectra", ICML 2021 (https://arxiv.org/abs/2102.03150).

QM9 molecules have at most 29 atoms, so a padded all-pairs block is small and a GPU does it as a
few large batched tensor operations: no neighbour list, no scatter/gather, no Python loop over
molecules, static shapes (good for ``torch.compile``). Pairs beyond the cutoff, self pairs and
pairs with a padding atom are multiplied by zero, so a molecule gives the same features alone or
padded in a batch.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn

from molmtl.errors import InputError
from molmtl.models.base import (
    MAX_Z,
    AtomFeatures,
    Encoder,
    MolBatch,
    check_positive,
    masked_mean,
)
from molmtl.models.registry import ENCODERS

#: Squared distances below this (Angstrom^2) count as the same point (self pairs, padding).
_EPS_SQ = 1e-10


def cosine_cutoff(d: Tensor, cutoff: float) -> Tensor:
    r"""Behler's cosine cutoff :math:`f(d) = \tfrac12(\cos(\pi d / r_c) + 1)` for :math:`d < r_c`, else 0."""
    return 0.5 * (torch.cos(d * (math.pi / cutoff)) + 1.0) * (d < cutoff).to(d.dtype)


def sine_rbf(d: Tensor, n_rbf: int, cutoff: float) -> Tensor:
    r"""PaiNN's radial basis :math:`\sin(n \pi d / r_c) / d`, :math:`n = 1..n_{rbf}`; ``(...,) -> (..., n_rbf)``.

    ``d`` must be positive (callers clamp it); the basis is finite as :math:`d \to 0`.
    """
    n = torch.arange(1, n_rbf + 1, device=d.device, dtype=d.dtype)
    d = d.unsqueeze(-1)
    return torch.sin(n * (math.pi / cutoff) * d) / d


def pair_distances(pos: Tensor, mask: Tensor, cutoff: float) -> tuple[Tensor, Tensor]:
    """Distances and the pair mask of a padded batch.

    Args:
        pos: ``(B, N, 3)`` positions (Angstrom).
        mask: ``(B, N)`` True for real atoms.
        cutoff: interaction radius (Angstrom).

    Returns:
        ``d`` ``(B, N, N)`` distances (clamped away from 0) and ``pair`` ``(B, N, N)`` float,
        1 for pairs of distinct real atoms closer than the cutoff.
    """
    r = pos.unsqueeze(1) - pos.unsqueeze(2)
    d = torch.sqrt((r * r).sum(-1).clamp(min=_EPS_SQ))
    eye = torch.eye(mask.shape[1], dtype=torch.bool, device=mask.device)
    real = mask.unsqueeze(1) & mask.unsqueeze(2) & ~eye
    return d, (real & (d < cutoff)).to(pos.dtype)


def pair_geometry(pos: Tensor, mask: Tensor, cutoff: float) -> tuple[Tensor, Tensor, Tensor]:
    """:func:`pair_distances` plus ``unit`` ``(B, N, N, 3)``: unit vectors from atom i to atom j
    (0 on masked pairs). Returns ``(d, unit, pair)``."""
    d, pair = pair_distances(pos, mask, cutoff)
    r = pos.unsqueeze(1) - pos.unsqueeze(2)  # r[b, i, j] = pos_j - pos_i
    return d, r / d.unsqueeze(-1) * pair.unsqueeze(-1), pair


class PaiNNMessage(nn.Module):
    r"""PaiNN's message block (Eq. 7-8):

    .. math::
        \Delta s_i = \sum_j \phi_s(s_j) \circ \mathcal{W}_s(r_{ij}), \qquad
        \Delta \vec v_i = \sum_j \vec v_j \circ \phi_{vv}(s_j) \circ \mathcal{W}_{vv}(r_{ij})
            + \frac{\vec r_{ij}}{\|\vec r_{ij}\|} \circ \phi_{vs}(s_j) \circ \mathcal{W}_{vs}(r_{ij})

    with filters :math:`\mathcal{W}(r) = (W\,\mathrm{rbf}(r) + b)\, f_c(r)`.

    Computed as batched matrix products over ``(B * F)`` pair blocks ``N x N``: the filter of
    each feature is one ``(N, N)`` matrix, and every sum over neighbours ``j`` is that matrix
    times a ``(N, m)`` block. The cutoff and pair mask are folded into the basis (with
    :math:`f_c` as an extra basis function carrying the bias), and the unit vector into a second
    basis divided by :math:`d_{ij}`, using
    :math:`\sum_j w_{ij} (\vec r_j - \vec r_i) = \sum_j w_{ij} \vec r_j - \vec r_i \sum_j w_{ij}`.
    So no ``(B, N, N, 3F)`` tensor is multiplied element by element.
    """

    def __init__(self, hidden: int, n_rbf: int):
        super().__init__()
        self.hidden = hidden
        self.phi = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, 3 * hidden))
        self.filter = nn.Linear(n_rbf, 3 * hidden)

    def reset_parameters(self) -> None:
        for m in (self.phi[0], self.phi[2], self.filter):
            m.reset_parameters()

    @staticmethod
    def geometry(pos: Tensor, d: Tensor, fc: Tensor, rbf: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The inputs :meth:`forward` takes after ``s, v``, from centred ``pos`` ``(B, N, 3)``,
        distances ``d`` ``(B, N, N)``, masked cutoff ``fc`` ``(B, N, N)`` and ``rbf`` ``(B, N, N, K)``:
        ``(basis, basis_d, pos)``."""
        B, N = d.shape[:2]
        basis = torch.cat([rbf, torch.ones_like(d).unsqueeze(-1)], dim=-1) * fc.unsqueeze(-1)
        basis = basis.permute(0, 3, 1, 2).reshape(B, rbf.shape[-1] + 1, N * N)
        return basis, basis / d.reshape(B, 1, N * N), pos

    def forward(self, s: Tensor, v: Tensor, basis: Tensor, basis_d: Tensor, pos: Tensor) -> tuple[Tensor, Tensor]:
        """One message pass.

        Args:
            s: ``(B, N, F)`` scalar features; v: ``(B, N, 3, F)`` vector features.
            basis: ``(B, K + 1, N * N)``: :math:`[\mathrm{rbf}_k f_c, f_c]` per pair (0 on masked pairs).
            basis_d: ``basis / d`` (Angstrom^-1).
            pos: ``(B, N, 3)`` positions (Angstrom), centered per molecule.

        Returns:
            ``(ds, dv)`` with the shapes of ``s`` and ``v``.
        """
        B, N, F = s.shape
        w_ext = torch.cat([self.filter.weight, self.filter.bias.unsqueeze(1)], dim=1)  # (3F, K+1)
        w_s, w_vv, w_vs = torch.split(w_ext, F, dim=0)
        p_s, p_vv, p_vs = torch.split(self.phi(s), F, dim=-1)  # (B, N, F) each

        def neighbour_sum(w: Tensor, b: Tensor, rhs: Tensor) -> Tensor:
            # sum_j W_f(r_ij) rhs[b, j, :, f] -> (B, N, m, F)
            filt = torch.bmm(w.expand(B, -1, -1), b).view(B * F, N, N)  # (B*F, N_i, N_j), no transposing copy
            m = rhs.shape[2]
            r = rhs.permute(0, 3, 1, 2).reshape(B * F, N, m)
            return torch.bmm(filt, r.to(filt.dtype)).view(B, F, N, m).permute(0, 2, 3, 1)

        ds = neighbour_sum(w_s, basis, p_s.unsqueeze(2)).squeeze(2)
        dv_vv = neighbour_sum(w_vv, basis, v * p_vv.unsqueeze(2))
        rhs_vs = torch.cat([pos.unsqueeze(-1) * p_vs.unsqueeze(2), p_vs.unsqueeze(2)], dim=2)  # (B, N, 4, F)
        out = neighbour_sum(w_vs, basis_d, rhs_vs)
        dv_vs = out[:, :, :3] - pos.unsqueeze(-1) * out[:, :, 3:]
        return ds, dv_vv + dv_vs


class PaiNNMessageElementwise(PaiNNMessage):
    r"""PaiNN's message block (Eq. 7-8) in the straightforward dense form, with the parameters of
    :class:`PaiNNMessage` (so weights load into either):

    .. math::
        x_{ij} = \phi(s_j) \circ \mathcal{W}(r_{ij}) \in \mathbb{R}^{3F}, \quad
        \Delta s_i = \sum_j x^s_{ij}, \quad
        \Delta \vec v_i = \sum_j x^{vv}_{ij} \circ \vec v_j + x^{vs}_{ij} \frac{\vec r_{ij}}{\|\vec r_{ij}\|}

    as ``(B, N, N, 3F)`` tensors multiplied element by element and summed over ``j``: more memory
    traffic than the batched matrix products unless ``torch.compile`` fuses the products into
    the sums.
    """

    @staticmethod
    def geometry(pos: Tensor, d: Tensor, fc: Tensor, rbf: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(rbf, fc, unit)``: unit vectors ``(B, N, N, 3)`` from atom i to atom j besides the
        basis and the masked cutoff (0 on masked pairs, which so carry no message)."""
        r = pos.unsqueeze(1) - pos.unsqueeze(2)  # r[b, i, j] = pos_j - pos_i
        return rbf, fc, r / d.unsqueeze(-1)

    def forward(self, s: Tensor, v: Tensor, rbf: Tensor, fc: Tensor, unit: Tensor) -> tuple[Tensor, Tensor]:
        """``s`` ``(B, N, F)``, ``v`` ``(B, N, 3, F)``; returns ``(ds, dv)`` of the same shapes."""
        w = self.filter(rbf)
        w = w * fc.unsqueeze(-1).to(w.dtype)  # W(r_ij): (B, N_i, N_j, 3F)
        x = self.phi(s).unsqueeze(1) * w  # phi(s_j) o W(r_ij)
        x_s, x_vv, x_vs = torch.split(x, self.hidden, dim=-1)
        dv = (x_vv.unsqueeze(3) * v.unsqueeze(1).to(x.dtype)).sum(2)
        dv = dv + (x_vs.unsqueeze(3) * unit.unsqueeze(-1).to(x.dtype)).sum(2)
        return x_s.sum(2), dv


class PaiNNMessageBasis(PaiNNMessage):
    r"""PaiNN's message block (Eq. 7-8) with the sums over neighbours taken against the radial
    basis first and the filter weights applied after, with the parameters of
    :class:`PaiNNMessage`:

    .. math::
        \sum_j \mathcal{W}_f(r_{ij})\, x_{jf}
            = \sum_k w_{fk} \Big(\sum_j b_k(r_{ij})\, x_{jf}\Big)

    where :math:`b_k` are the basis functions of :class:`PaiNNMessage` (cutoff and pair mask
    folded in, :math:`f_c` as the bias's basis function). The inner sums are one batched matrix
    product per molecule, ``(K+1) N x N`` by ``N x 4F`` (the scalar and three vector channels
    side by side), instead of ``B x F`` products of an ``N x N`` filter with an ``N x m`` block
    (``m`` = 1, 3, 4): large matrix products rather than many tiny ones (on one H100 the tiny
    ones were 64 % of a training step). The price is a ``(B, K+1, N, 4F)`` intermediate, two per
    layer.
    """

    @staticmethod
    def geometry(pos: Tensor, d: Tensor, fc: Tensor, rbf: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """As :meth:`PaiNNMessage.geometry`, the bases laid out contiguously (rows ``(k, i)``, columns ``j``)."""
        basis, basis_d, pos = PaiNNMessage.geometry(pos, d, fc, rbf)
        return basis.contiguous(), basis_d.contiguous(), pos

    def forward(self, s: Tensor, v: Tensor, basis: Tensor, basis_d: Tensor, pos: Tensor) -> tuple[Tensor, Tensor]:
        """Arguments and result as :meth:`PaiNNMessage.forward`."""
        B, N, F = s.shape
        k1 = basis.shape[1]
        w_ext = torch.cat([self.filter.weight, self.filter.bias.unsqueeze(1)], dim=1)  # (3F, K+1)
        w_s, w_vv, w_vs = torch.split(w_ext.t().contiguous(), F, dim=1)  # (K+1, F) each (contiguous first:
        # transposed views made aot_eager's backward under autocast fail on a view)
        p_s, p_vv, p_vs = torch.split(self.phi(s), F, dim=-1)  # (B, N, F) each

        def basis_sums(b: Tensor, rhs: Tensor) -> Tensor:
            # sum_j b[k, i, j] rhs[j, c, f] -> (B, K+1, N, 4, F)
            out = torch.bmm(b.view(B, k1 * N, N), rhs.reshape(B, N, 4 * F).to(b.dtype))
            return out.view(B, k1, N, 4, F)

        t = basis_sums(basis, torch.cat([p_s.unsqueeze(2), v * p_vv.unsqueeze(2)], dim=2))
        w = torch.stack([w_s, w_vv, w_vv, w_vv], dim=1)  # (K+1, 4, F): the scalar, then the 3 vector channels
        out = (t * w.view(1, k1, 1, 4, F).to(t.dtype)).sum(1)  # (B, N, 4, F)
        rhs_vs = torch.cat([pos.unsqueeze(-1) * p_vs.unsqueeze(2), p_vs.unsqueeze(2)], dim=2)  # (B, N, 4, F)
        t_d = basis_sums(basis_d, rhs_vs)
        out_d = (t_d * w_vs.view(1, k1, 1, 1, F).to(t_d.dtype)).sum(1)
        dv_vs = out_d[:, :, :3] - pos.unsqueeze(-1) * out_d[:, :, 3:]
        return out[:, :, 0], out[:, :, 1:] + dv_vs


#: PaiNN's ``message`` choices: the same parameters, three ways to compute.
MESSAGES = {"bmm": PaiNNMessage, "elementwise": PaiNNMessageElementwise, "basis": PaiNNMessageBasis}


class PaiNNUpdate(nn.Module):
    r"""PaiNN's update block (Eq. 9-10):

    .. math::
        \Delta \vec v_i = a_{vv}(s_i, \|V \vec v_i\|) \circ U \vec v_i, \qquad
        \Delta s_i = a_{sv}(s_i, \|V \vec v_i\|) \langle U \vec v_i, V \vec v_i \rangle + a_{ss}(s_i, \|V \vec v_i\|)
    """

    def __init__(self, hidden: int):
        super().__init__()
        self.hidden = hidden
        self.U = nn.Linear(hidden, hidden, bias=False)
        self.V = nn.Linear(hidden, hidden, bias=False)
        self.mlp = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.SiLU(), nn.Linear(hidden, 3 * hidden))

    def reset_parameters(self) -> None:
        for m in (self.U, self.V, self.mlp[0], self.mlp[2]):
            m.reset_parameters()

    def forward(self, s: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        uv, vv = self.U(v), self.V(v)  # (B, N, 3, F)
        vnorm = torch.sqrt((vv * vv).sum(dim=2) + 1e-8)
        a = self.mlp(torch.cat([s, vnorm], dim=-1))
        a_vv, a_sv, a_ss = torch.split(a, self.hidden, dim=-1)
        dv = a_vv.unsqueeze(2) * uv
        ds = a_sv * (uv * vv).sum(dim=2) + a_ss
        return ds, dv


@ENCODERS.register("painn")
class PaiNN(Encoder):
    r"""Polarizable atom interaction neural network (PaiNN), dense padded.

    Each layer applies a message block then an update block, both residual:
    :math:`s_i \leftarrow s_i + \Delta s_i`, :math:`\vec v_i \leftarrow \vec v_i + \Delta \vec v_i`.
    Scalar features ``h`` are invariant under rotation, translation and atom permutation; vector
    features ``vec`` rotate with the molecule.

    Args:
        hidden (int, optional): feature width F. (default: :obj:`128`)
        num_layers (int, optional): message + update layers. (default: :obj:`3`)
        n_rbf (int, optional): radial basis functions. (default: :obj:`20`)
        cutoff (float, optional): interaction radius in Angstrom. (default: :obj:`5.0`)
        max_z (int, optional): largest atomic number embedded. (default: :obj:`10`)
        compile (bool, optional): wrap the layers in :func:`torch.compile` (GPU; off by default,
            also a no-op on CPU). (default: :obj:`False`)
        bf16 (bool, optional): run the layers under bf16 autocast on CUDA (ignored on CPU);
            features are returned as float32. (default: :obj:`False`)
        message (str, optional): how message blocks compute: ``"bmm"`` (:class:`PaiNNMessage`,
            batched matrix products), ``"elementwise"`` (:class:`PaiNNMessageElementwise`) or
            ``"basis"`` (:class:`PaiNNMessageBasis`); the same parameters and numbers.
            (default: :obj:`"bmm"`)
    """

    needs_graph = False
    needs_geometry = True

    def __init__(self, hidden: int = 128, num_layers: int = 3, n_rbf: int = 20, cutoff: float = 5.0,
                 max_z: int = MAX_Z, compile: bool = False, bf16: bool = False,
                 message: Literal["bmm", "elementwise", "basis"] = "bmm"):
        super().__init__()
        if message not in MESSAGES:
            raise InputError(f"unknown PaiNN message {message!r} (--message); use one of {', '.join(MESSAGES)}")
        check_positive("PaiNN", hidden=hidden, n_rbf=n_rbf, cutoff=cutoff, max_z=max_z)
        if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 0:
            raise InputError(f"PaiNN's num_layers must be a whole number >= 0, got {num_layers!r}")
        self.hidden, self.num_layers, self.n_rbf, self.cutoff = hidden, num_layers, n_rbf, float(cutoff)
        self.out_dim = hidden
        self.compile, self.bf16, self.message = compile, bf16, message
        self.embedding = nn.Embedding(max_z + 1, hidden, padding_idx=0)
        self.messages = nn.ModuleList(MESSAGES[message](hidden, n_rbf) for _ in range(num_layers))
        self.updates = nn.ModuleList(PaiNNUpdate(hidden) for _ in range(num_layers))
        self._compiled = None  # built on first CUDA forward; never pickled or deep-copied

    def _geometry(self, pos: Tensor, mask: Tensor) -> tuple[tuple[Tensor, ...], Tensor]:
        """The message blocks' pair inputs (their ``geometry``) and the atom mask as a float ``(B, N, 1)``."""
        m = mask.unsqueeze(-1).to(pos.dtype)
        pos = (pos - masked_mean(pos, mask).unsqueeze(1)) * m  # centered: keeps the vs sums small
        d, pair = pair_distances(pos, mask, self.cutoff)
        fc = cosine_cutoff(d, self.cutoff) * pair  # (B, N, N), 0 on masked pairs
        return MESSAGES[self.message].geometry(pos, d, fc, sine_rbf(d, self.n_rbf, self.cutoff)), m

    def _embed(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """Scalar features: the embedding table's rows for ``z``, as a one-hot weighted sum.

        Equal to ``self.embedding(z)`` (row 0, padding, is kept at zero and is never trained), in
        the table's dtype whatever autocast says, but with no indexing: compiled, a lookup's
        gradient is an ``index_put`` with accumulation into 11 rows, which took 9 % of a training
        step's GPU time at batch 1024 on an H100 (``benchmarks/bench_train_step.py
        --profile-steps``). ``z`` outside ``1..max_z`` gives the zero vector, as padding does;
        inputs are checked for QM9's elements before they get here.
        """
        w = self.embedding.weight
        onehot = z.unsqueeze(-1) == torch.arange(1, w.shape[0], device=z.device)  # (B, N, max_z)
        s = (onehot.unsqueeze(-1).to(w.dtype) * w[1:]).sum(-2)  # elementwise: exact, no matmul precision
        return s, s.new_zeros(*z.shape, 3, s.shape[-1])

    def _layer(self, k: int, s: Tensor, v: Tensor, geometry) -> tuple[Tensor, Tensor]:
        """Layer ``k``: residual message block, residual update block, padding rows kept at 0."""
        pairs, m = geometry
        m = m.to(s.dtype)
        ds, dv = self.messages[k](s, v, *pairs)
        s, v = s + ds, v + dv
        ds, dv = self.updates[k](s, v)
        return (s + ds) * m, (v + dv) * m.unsqueeze(2)

    def _layers(self, z: Tensor, pos: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        geometry = self._geometry(pos, mask)
        s, v = self._embed(z)
        for k in range(self.num_layers):
            s, v = self._layer(k, s, v, geometry)
        return s, v

    def stages(self) -> list:
        """Layer-wise view for cross-stitch: ``stage(state, batch) -> AtomFeatures``; the first takes
        ``None``. Applied in order they equal ``forward`` (without ``compile``/``bf16``)."""
        cache: dict = {}

        def embed(state, batch: MolBatch) -> AtomFeatures:
            if batch.pos is None:
                raise ValueError("PaiNN needs 3D positions (batch.pos is None); build batches with geometry=True")
            cache["geometry"] = self._geometry(batch.pos, batch.mask)
            s, v = self._embed(batch.z)
            return AtomFeatures(h=s, mask=batch.mask, z=batch.z, pos=batch.pos, vec=v)

        def layer(k: int):
            def stage(state: AtomFeatures, batch: MolBatch) -> AtomFeatures:
                s, v = self._layer(k, state.h, state.vec, cache["geometry"])
                return AtomFeatures(h=s, mask=state.mask, z=state.z, pos=state.pos, vec=v)
            return stage

        return [embed, *(layer(k) for k in range(self.num_layers))]

    def forward(self, batch: MolBatch) -> AtomFeatures:
        if batch.pos is None:
            raise ValueError("PaiNN needs 3D positions (batch.pos is None); build batches with geometry=True")
        z, pos, mask = batch.z, batch.pos, batch.mask
        layers = self._layers
        if self.compile and pos.is_cuda:
            if self._compiled is None:
                self._compiled = torch.compile(self._layers, dynamic=False)
            layers = self._compiled
        if self.bf16 and pos.is_cuda:
            with torch.autocast("cuda", dtype=torch.bfloat16):
                s, v = layers(z, pos, mask)
        else:  # no autocast context here: enabled=False would switch off an outer one (Lightning's bf16-mixed)
            s, v = layers(z, pos, mask)
        return AtomFeatures(h=s.float(), mask=mask, z=z, pos=pos, vec=v.float())

    def __getstate__(self):
        state = super().__getstate__() if hasattr(super(), "__getstate__") else self.__dict__.copy()
        state = dict(state)
        state["_compiled"] = None
        return state

    def reset_parameters(self) -> None:
        self.embedding.reset_parameters()
        with torch.no_grad():
            self.embedding.weight[0].zero_()
        for m in (*self.messages, *self.updates):
            m.reset_parameters()


__all__ = ["PaiNN", "PaiNNMessage", "PaiNNMessageElementwise", "PaiNNMessageBasis", "PaiNNUpdate", "cosine_cutoff", "sine_rbf", "pair_distances", "pair_geometry"]
