"""Toy encoder, head and batch for the multi-task tests (CPU, milliseconds per step)."""

from __future__ import annotations

import torch
from torch import nn

from molmtl.models.base import AtomFeatures, Encoder, MolBatch, masked_mean, masked_sum
from molmtl.mtl.base import StrategyOutput, masked_task_losses

TASKS = ("U0", "homo", "alpha", "mu")


class ToyEncoder(Encoder):
    """Embedding of z plus distance to the centroid, then residual blocks with a molecule-mean message.

    Exposes ``stages()`` (embed, block 1, block 2, ...) for cross-stitch.
    """

    def __init__(self, hidden: int = 16, n_blocks: int = 2, with_vec: bool = False):
        super().__init__()
        self.out_dim = hidden
        self.with_vec = with_vec
        self.emb = nn.Embedding(10, hidden)
        self.dist = nn.Linear(1, hidden)
        self.blocks = nn.ModuleList(nn.Linear(2 * hidden, hidden) for _ in range(n_blocks))

    def _embed(self, state, batch: MolBatch) -> AtomFeatures:
        centre = masked_mean(batch.pos, batch.mask)[:, None, :]
        r = (batch.pos - centre).norm(dim=-1, keepdim=True)
        h = (self.emb(batch.z) + self.dist(r)) * batch.mask[..., None]
        vec = (batch.pos - centre)[..., None] * h[:, :, None, :] if self.with_vec else None
        return AtomFeatures(h=h, mask=batch.mask, z=batch.z, pos=batch.pos, vec=vec)

    def _block(self, k: int):
        def stage(state: AtomFeatures, batch: MolBatch) -> AtomFeatures:
            msg = masked_mean(state.h, state.mask)[:, None, :].expand_as(state.h)
            h = state.h + torch.tanh(self.blocks[k](torch.cat([state.h, msg], dim=-1)))
            h = h * state.mask[..., None]
            vec = None if state.vec is None else state.vec * torch.sigmoid(h)[:, :, None, :]
            return AtomFeatures(h=h, mask=state.mask, z=state.z, pos=state.pos, vec=vec)
        return stage

    def stages(self):
        return [self._embed, *(self._block(k) for k in range(len(self.blocks)))]

    def forward(self, batch: MolBatch) -> AtomFeatures:
        state = None
        for stage in self.stages():
            state = stage(state, batch)
        return state


class ToyHead(nn.Module):
    """Linear -> SiLU -> Linear per atom, summed over atoms (plus the vector norm if present)."""

    def __init__(self, in_dim: int, hidden: int = 16):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(in_dim, hidden), nn.SiLU(), nn.Linear(hidden, 1))

    def forward(self, feats: AtomFeatures) -> torch.Tensor:
        h = feats.h if feats.vec is None else feats.h + feats.vec.norm(dim=2)
        return masked_sum(self.mlp(h), feats.mask).squeeze(-1)


def toy_batch(n_mol: int = 8, n_tasks: int = len(TASKS), seed: int = 0, max_atoms: int = 6) -> MolBatch:
    g = torch.Generator().manual_seed(seed)
    n_atoms = torch.randint(2, max_atoms + 1, (n_mol,), generator=g)
    mask = torch.arange(max_atoms)[None, :] < n_atoms[:, None]
    elements = torch.tensor([1, 6, 7, 8, 9])
    z = elements[torch.randint(0, 5, (n_mol, max_atoms), generator=g)] * mask
    pos = torch.randn(n_mol, max_atoms, 3, generator=g) * mask[..., None]
    y = torch.randn(n_mol, n_tasks, generator=g)
    return MolBatch(z=z, pos=pos, mask=mask, y=y)


def encoder_factory(hidden: int = 16, with_vec: bool = False):
    return lambda: ToyEncoder(hidden, with_vec=with_vec)


def head_factory(target, in_dim: int) -> nn.Module:
    return ToyHead(in_dim)


def train(strategy, balancer, batch: MolBatch, steps: int = 150, lr: float = 1e-2, optimizer: str = "adam"):
    """Train on one batch; return the list of total (unweighted) losses per step."""
    params = [*strategy.parameters(), *balancer.parameters()]
    opt = torch.optim.Adam(params, lr=lr) if optimizer == "adam" else torch.optim.SGD(params, lr=lr)
    history = []
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        out: StrategyOutput = strategy(batch)
        losses = masked_task_losses(out.pred, batch.y)
        balancer.backward(losses, strategy, out, strategy.penalty())
        opt.step()
        strategy.on_after_step()
        history.append(float(losses.detach().sum()))
    return history

