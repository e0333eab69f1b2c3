r"""Per-task heads: a small MLP on atom features, then the target's readout.

Heads predict in *normalized* units (see :mod:`molmtl.models.normalize`): the scaler removes
per-element references and scales, the head learns what is left.

Readouts (``Target.readout``):

* ``sum`` (extensive): :math:`\hat y = \sum_i [\mathrm{MLP}(h_i) + o_{Z_i}] + b`, with learned
  per-element offsets :math:`o_Z` (zero at start);
* ``mean`` (intensive): :math:`\hat y = \frac{1}{n} \sum_i \mathrm{MLP}(h_i) + b`;
* ``dipole``: atomic charges :math:`q_i = \mathrm{MLP}(h_i)` made neutral
  (:math:`q_i \leftarrow q_i - \bar q`), plus atomic dipoles :math:`\vec\mu_i = W \vec v_i`
  when the encoder has vector features (PaiNN), :math:`\hat y = \|\sum_i q_i \vec r_i +
  \vec\mu_i\|`; neutral charges make it independent of the origin, and with no bias after the
  norm a molecule whose symmetry forbids a dipole (methane, benzene, CO2) gets 0 D, as PaiNN's
  equivariant features make the vector vanish. Without positions (2D encoders) it falls back to
  ``sum``. :class:`~molmtl.models.normalize.TargetScaler` divides dipole targets by their RMS and
  never shifts them, so the norm is the normalized prediction. (Models saved before format 2
  added a learned bias after the norm, which gave every symmetric molecule the same nonzero
  dipole; ``dipole_bias=True`` keeps them loading as they were trained, and with
  ``dipole_bias_width`` w > 0 the bias fades in as :math:`b\,r^2/(r^2 + w^2)` for norms
  :math:`r` near w, so that a vanishing vector still gives 0 D while larger ones get the bias they
  were trained with.)

Readouts run in float32 with autocast off: a bf16 sum over 29 atoms would cost accuracy.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from molmtl.errors import InputError
from molmtl.models.base import MAX_Z, AtomFeatures, masked_mean, masked_sum
from molmtl.registry import options_of
from molmtl.targets import Target


def _mlp(in_dim: int, hidden: int, out_dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.SiLU(), nn.Linear(hidden, out_dim))


def _reset(module: nn.Module) -> None:
    for m in module.modules():
        if m is not module and hasattr(m, "reset_parameters"):
            m.reset_parameters()


class DenseSet2Set(nn.Module):
    r"""Set2Set (Vinyals et al., "Order Matters", ICLR 2016) on padded ``(B, N, F)`` features.

    .. math::
        q_t = \mathrm{LSTM}(q^*_{t-1}), \quad a_{i,t} = \mathrm{softmax}_i(h_i \cdot q_t), \quad
        r_t = \sum_i a_{i,t} h_i, \quad q^*_t = [q_t, r_t]

    Args:
        in_dim (int): feature width F; the output has ``2 F``.
        steps (int, optional): processing steps. (default: :obj:`3`)
    """

    def __init__(self, in_dim: int, steps: int = 3):
        super().__init__()
        self.in_dim, self.steps = in_dim, steps
        self.lstm = nn.LSTM(2 * in_dim, in_dim, batch_first=True)

    def reset_parameters(self) -> None:
        self.lstm.reset_parameters()

    def forward(self, h: Tensor, mask: Tensor) -> Tensor:
        B = h.shape[0]
        q_star = h.new_zeros(B, 2 * self.in_dim)
        state = (h.new_zeros(1, B, self.in_dim), h.new_zeros(1, B, self.in_dim))
        for _ in range(self.steps):
            q, state = self.lstm(q_star.unsqueeze(1), state)
            q = q.squeeze(1)
            e = (h * q.unsqueeze(1)).sum(-1).masked_fill(~mask, float("-inf"))
            a = torch.softmax(e, dim=1).nan_to_num(0.0)  # a molecule with no atoms reads 0
            r = (a.unsqueeze(-1) * h).sum(1)
            q_star = torch.cat([q, r], dim=-1)
        return q_star


class TaskHead(nn.Module):
    """One target's head: ``AtomFeatures -> (B,)`` normalized predictions.

    Args:
        target (Target): the target; its ``readout`` picks the readout.
        in_dim (int): atom feature width F.
        hidden (int, optional): MLP width. (default: ``in_dim // 2``, at least 16)
        element_offsets (bool, optional): learned per-element offsets for sum readouts.
            (default: :obj:`True`)
        atomic_dipoles (bool, optional): add ``W vec`` atomic dipoles to dipole readouts when the
            features have vectors. (default: :obj:`True`)
        set2set (bool, optional): replace the readout by Set2Set + MLP (Gilmer et al.'s readout;
            no physics in it). (default: :obj:`False`)
        dipole_bias (bool, optional): add a learned bias after a dipole readout's norm (how models
            before format 2 were built; it breaks mu = 0 for symmetric molecules). (default: :obj:`False`)
        dipole_bias_width (float, optional): with ``dipole_bias``, the norm (normalized units) over
            which the bias fades in, :math:`b\,r^2/(r^2 + w^2)`; 0 adds it whole. (default: :obj:`0.0`)
        max_z (int, optional): largest atomic number with an offset. (default: :obj:`10`)
    """

    def __init__(self, target: Target, in_dim: int, hidden: int | None = None, *, element_offsets: bool = True,
                 atomic_dipoles: bool = True, set2set: bool = False, dipole_bias: bool = False,
                 dipole_bias_width: float = 0.0, max_z: int = MAX_Z):
        super().__init__()
        self.target, self.readout = target, target.readout
        hidden = hidden or max(in_dim // 2, 16)
        self.set2set = DenseSet2Set(in_dim) if set2set else None
        self.mlp = _mlp(2 * in_dim if set2set else in_dim, hidden, 1)
        self.offsets = nn.Embedding(max_z + 1, 1) if (element_offsets and self.readout == "sum" and not set2set) else None
        # Added to every readout but a dipole norm (unless asked, for old files); a 2D encoder's
        # dipole falls back to a sum, which takes it.
        self.bias = nn.Parameter(torch.zeros(()))
        self.dipole_bias = bool(dipole_bias)
        if not (isinstance(dipole_bias_width, (int, float)) and dipole_bias_width >= 0):
            raise InputError(f"dipole_bias_width must be a number >= 0, got {dipole_bias_width!r}")
        self.dipole_bias_width = float(dipole_bias_width)
        self.dipole_proj = nn.Linear(in_dim, 1, bias=False) if (atomic_dipoles and self.readout == "dipole") else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset(self)
        with torch.no_grad():
            self.bias.zero_()
            if self.offsets is not None:
                self.offsets.weight.zero_()

    def atom_outputs(self, feats: AtomFeatures) -> Tensor:
        """``(B, N)`` per-atom MLP outputs (0 on padding)."""
        return self.mlp(feats.h.float()).squeeze(-1) * feats.mask.to(torch.float32)

    def dipole_vector(self, feats: AtomFeatures) -> Tensor:
        """``(B, 3)`` predicted dipole vector (normalized units): neutral charges x positions + atomic dipoles."""
        if feats.pos is None:
            raise ValueError("a dipole vector needs positions; this encoder gives none")
        q = self.atom_outputs(feats)
        q = (q - masked_mean(q, feats.mask).unsqueeze(1)) * feats.mask.to(q.dtype)
        mu = (q.unsqueeze(-1) * feats.pos.float()).sum(dim=1)
        if self.dipole_proj is not None and feats.vec is not None:
            mu = mu + masked_sum(self.dipole_proj(feats.vec.float()).squeeze(-1), feats.mask)
        return mu

    def forward(self, feats: AtomFeatures) -> Tensor:
        with torch.autocast(feats.h.device.type, enabled=False):
            if self.set2set is not None:
                return self.mlp(self.set2set(feats.h.float(), feats.mask)).squeeze(-1) + self.bias
            if self.readout == "dipole" and feats.pos is not None:
                mu = self.dipole_vector(feats)
                norm = torch.sqrt((mu * mu).sum(-1) + 1e-12)
                # without dipole_bias the bias is unused; times 0 it stays in the graph (a zero gradient, as DDP wants)
                return biased_norm(norm, self.bias, self.dipole_bias_width) if self.dipole_bias else norm + 0.0 * self.bias
            out = self.atom_outputs(feats)
            if self.readout == "mean":
                return masked_mean(out, feats.mask) + self.bias
            if self.offsets is not None:
                out = out + self.offsets(feats.z).squeeze(-1) * feats.mask.to(out.dtype)
            return out.sum(dim=1) + self.bias


def make_head(target: Target, in_dim: int, **kw) -> nn.Module:
    """A :class:`TaskHead` for ``target`` reading ``in_dim``-wide atom features (see its arguments)."""
    return TaskHead(target, in_dim, **kw)


#: The options a run may set on its heads (``TrainConfig.head_hp``, ``--head-opt K=V``); the
#: element table size is the model's.
HEAD_OPTIONS = options_of(TaskHead, injected=("target", "in_dim", "max_z"))


def biased_norm(norm: Tensor, bias: Tensor, width) -> Tensor:
    """``norm + bias``, or with ``width`` > 0 ``norm + bias * norm^2 / (norm^2 + width^2)`` (0 at 0);
    ``width`` a float or a tensor broadcasting with ``norm`` (entries 0: the whole bias)."""
    width = torch.as_tensor(width, dtype=norm.dtype, device=norm.device)
    sq = norm * norm
    fade = torch.where(width > 0, sq / (sq + width * width).clamp(min=1e-30), torch.ones_like(sq))
    return norm + bias * fade


def _readout(out: Tensor, feats: AtomFeatures, is_mean: Tensor, dipole_idx: Tensor, bias: Tensor,
             dipole_weight: Tensor | None, norm_bias: Tensor | None = None, norm_width: Tensor | None = None) -> Tensor:
    """``(B, T)`` predictions from per-atom outputs ``out`` ``(B, N, T)`` (offsets already added,
    0 on padding): sums, means (``is_mean``), and for the ``dipole_idx`` columns the norm of
    neutralized charges x positions plus ``dipole_weight`` ``(D, F)`` x vector features; + ``bias``,
    except that the norms get ``norm_bias`` ``(D,)`` (default 0), faded in over ``norm_width``
    (:func:`biased_norm`). Runs in float32 (call it with autocast off)."""
    mask = feats.mask.to(torch.float32)
    total = out.sum(dim=1)
    count = mask.sum(dim=1, keepdim=True).clamp(min=1)
    pred = torch.where(is_mean, total / count, total) + bias
    if dipole_idx.numel() and feats.pos is not None:
        q = out.index_select(2, dipole_idx)  # (B, N, D) charges (dipole readouts have no offsets)
        q = (q - q.sum(1, keepdim=True) / count.unsqueeze(1)) * mask.unsqueeze(-1)
        mu = torch.einsum("bnd,bnc->bdc", q, feats.pos.float())
        if dipole_weight is not None and feats.vec is not None:
            v = torch.einsum("bncf,df->bndc", feats.vec.float(), dipole_weight)
            mu = mu + (v * mask[..., None, None]).sum(1)
        norm = torch.sqrt((mu * mu).sum(-1) + 1e-12)
        if norm_bias is not None:
            norm = biased_norm(norm, norm_bias, 0.0 if norm_width is None else norm_width)
        pred = pred.index_copy(1, dipole_idx, norm)
    return pred


def stackable(heads) -> bool:
    """True when :func:`stacked_heads` can evaluate ``heads`` (plain :class:`TaskHead` objects,
    no Set2Set, one MLP shape, one offset table size, atomic dipoles and a bias after the norm on
    all dipole heads or none)."""
    if not heads or not all(type(h) is TaskHead and h.set2set is None for h in heads):
        return False
    shapes = {(h.mlp[0].weight.shape, h.mlp[2].weight.shape) for h in heads}
    zs = {h.offsets.num_embeddings for h in heads if h.offsets is not None}
    dip = {(h.dipole_proj is not None, h.dipole_bias, h.dipole_bias_width) for h in heads if h.readout == "dipole"}
    return len(shapes) == 1 and len(zs) <= 1 and len(dip) <= 1


def stacked_heads(heads, feats: AtomFeatures, is_mean: Tensor | None = None, dipole_idx: Tensor | None = None) -> Tensor:
    """``(B, T)``: what ``torch.stack([h(feats) for h in heads], 1)`` computes, in a few batched ops.

    The heads keep their own parameters (so per-task layers, group lasso and MRN see them as
    before); each call concatenates them, ``T`` small tensors into one per kind, and evaluates
    all tasks in one matmul per layer: a handful of kernels instead of ``T`` small MLPs' worth,
    which matters on a GPU, where those launches dominate (on one H100, 19 heads called one by
    one trained at 29k molecules/s, and an earlier fused head module computing the same at 53k).
    Call only when :func:`stackable` holds.

    Args:
        heads: the task heads, in column order.
        feats: the shared atom features.
        is_mean: ``(T,)`` bool, True for mean readouts; dipole_idx: ``(D,)`` long, the dipole
            heads' columns. Pass them as device buffers (as :class:`~molmtl.mtl._parts.HeadBank`
            does) to avoid a host-to-device copy per call; built from the heads when None.
    """
    T = len(heads)
    H = heads[0].mlp[0].out_features
    device = feats.h.device
    if is_mean is None:
        is_mean = torch.tensor([h.readout == "mean" for h in heads], device=device)
    if dipole_idx is None:
        dipole_idx = torch.tensor([i for i, h in enumerate(heads) if h.readout == "dipole"], dtype=torch.long, device=device)
    w1 = torch.cat([h.mlp[0].weight for h in heads], 0)  # (T*H, F)
    b1 = torch.cat([h.mlp[0].bias for h in heads], 0)
    w2 = torch.cat([h.mlp[2].weight for h in heads], 0)  # (T, H)
    b2 = torch.cat([h.mlp[2].bias for h in heads], 0)  # (T,)
    norms = feats.pos is not None  # dipole heads read out a norm, which takes no bias (unless dipole_bias)
    bias = torch.stack([h.bias if not (norms and h.readout == "dipole" and not h.dipole_bias) else 0.0 * h.bias
                        for h in heads])
    dipole_heads = [h for h in heads if h.readout == "dipole"]
    with torch.autocast(device.type, enabled=False):
        mask = feats.mask.to(torch.float32)
        B, N, _ = feats.h.shape
        a = torch.nn.functional.silu(torch.nn.functional.linear(feats.h.float(), w1, b1)).view(B, N, T, H)
        out = (torch.einsum("bnth,th->bnt", a, w2) + b2) * mask.unsqueeze(-1)  # (B, N, T)
        tables = [h.offsets.weight if h.offsets is not None else None for h in heads]
        if any(t is not None for t in tables):
            rows = next(t for t in tables if t is not None).shape[0]
            table = torch.cat([t if t is not None else out.new_zeros(rows, 1) for t in tables], 1)  # (Z+1, T)
            out = out + table[feats.z] * mask.unsqueeze(-1)
        weight = (torch.cat([h.dipole_proj.weight for h in dipole_heads], 0)
                  if dipole_heads and dipole_heads[0].dipole_proj is not None else None)  # (D, F)
        biased = any(h.dipole_bias for h in dipole_heads)
        norm_bias = torch.stack([h.bias for h in dipole_heads]) if biased else None
        norm_width = torch.tensor([h.dipole_bias_width for h in dipole_heads], device=device) if biased else None
        return _readout(out, feats, is_mean, dipole_idx, bias, weight, norm_bias, norm_width)



__all__ = ["HEAD_OPTIONS", "TaskHead", "biased_norm", "DenseSet2Set", "make_head", "stackable", "stacked_heads"]
