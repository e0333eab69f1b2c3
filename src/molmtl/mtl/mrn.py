r"""Multilinear relationship networks: task-specific head layers under a tensor-normal prior.

Long et al., "Learning Multiple Tasks with Multilinear Relationship Networks" (NeurIPS 2017). The
encoder is shared (hard sharing); for every head layer :math:`\ell` the task weights are stacked
into :math:`\mathcal{W} \in \mathbb{R}^{d_1 \times d_2 \times T}` (input features x outputs x
tasks) with the prior :math:`\mathrm{vec}(\mathcal{W}) \sim \mathcal{N}(0, \Sigma_1 \otimes
\Sigma_2 \otimes \Sigma_3)`, whose negative log-density gives the penalty

.. math::
    \Omega = \frac{\lambda}{2} \sum_\ell \mathrm{vec}(\mathcal{W})^\top
             (\Sigma_1 \otimes \Sigma_2 \otimes \Sigma_3)^{-1} \mathrm{vec}(\mathcal{W})
           = \frac{\lambda}{2} \sum_\ell \langle \mathcal{W},
             \mathcal{W} \times_1 \Sigma_1^{-1} \times_2 \Sigma_2^{-1} \times_3 \Sigma_3^{-1} \rangle.

Every ``update_every`` steps the covariances get the closed-form flip-flop updates

.. math::
    \Sigma_1 = \frac{\mathcal{W}_{(1)} (\Sigma_3 \otimes \Sigma_2)^{-1} \mathcal{W}_{(1)}^\top}{d_2 T}
    + \epsilon I_{d_1},

and likewise for :math:`\Sigma_2, \Sigma_3`; each is then trace-normalised to :math:`\mathrm{tr}
\Sigma = d` (the prior's scale stays that of the identity it starts from) and its eigenvalues are
clamped below at ``eig_floor`` times the largest, which keeps the inverses well conditioned.

What :math:`\Sigma_3` can show depends on the heads' initialization. With independent random
initializations (the default) each task's hidden units come in an arbitrary order, so two tasks
that learn the same function need not have correlated weights; with ``shared_init`` every task's
prior layers start from the first task's weights (as the paper's task layers start from one
pre-trained network), and short runs then show the initialization rather than the tasks. On 2,000
QM9 molecules (GCN, 19 targets, 10 epochs; ``benchmarks/mrn_init.py``) the off-diagonal task
correlations stayed below 0.1 in absolute value with independent heads at the default lambda
(U0 against U: +0.01) and at 0.98 for every pair with a shared start, which also cost 3 % in
test MAE; see BENCHMARKS.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from molmtl.errors import InputError
from molmtl.mtl.base import EncoderFactory, HeadFactory
from molmtl.mtl.hard import HardSharing
from molmtl.mtl.registry import STRATEGIES


def regularized_covariance(cov: Tensor, eps: float, eig_floor: float) -> tuple[Tensor, Tensor]:
    """Symmetrise, add ``eps I``, clamp eigenvalues, trace-normalise to ``tr = d``; return (cov, inverse)."""
    d = cov.shape[0]
    cov = 0.5 * (cov + cov.T) + eps * torch.eye(d, dtype=cov.dtype, device=cov.device)
    evals, evecs = torch.linalg.eigh(cov)
    evals = evals.clamp(min=eig_floor * evals.max().clamp(min=eps))
    evals = evals * (d / evals.sum())
    return (evecs * evals) @ evecs.T, (evecs / evals) @ evecs.T


def flip_flop(W: Tensor, inv: list[Tensor], eps: float, eig_floor: float) -> list[tuple[Tensor, Tensor]]:
    """One sweep of the closed-form updates of (Sigma_1, Sigma_2, Sigma_3) for ``W`` (d1, d2, T).

    Args:
        W: stacked weights ``(d1, d2, T)``, float64, detached.
        inv: current inverses ``[S1^-1 (d1,d1), S2^-1 (d2,d2), S3^-1 (T,T)]``.

    Returns:
        ``[(S1, S1^-1), (S2, S2^-1), (S3, S3^-1)]``, each updated with the latest others.
    """
    d1, d2, T = W.shape
    i1, i2, i3 = inv
    s1, i1 = regularized_covariance(torch.einsum("abt,bc,ts,ecs->ae", W, i2, i3, W) / (d2 * T), eps, eig_floor)
    s2, i2 = regularized_covariance(torch.einsum("abt,ae,ts,ecs->bc", W, i1, i3, W) / (d1 * T), eps, eig_floor)
    s3, i3 = regularized_covariance(torch.einsum("abt,ae,bc,ecs->ts", W, i1, i2, W) / (d1 * d2), eps, eig_floor)
    return [(s1, i1), (s2, i2), (s3, i3)]


@STRATEGIES.register("mrn")
class MultilinearRelationship(HardSharing):
    r"""Hard-shared encoder; every head ``nn.Linear`` position gets a tensor-normal prior across tasks.

    Args:
        tasks: target keys, in output order.
        encoder_factory: builds the shared encoder.
        head_factory: builds one head per task (heads with the same layer shapes at a position
            share a prior there; positions whose shapes differ between tasks are left out).
        lam (float): prior weight :math:`\lambda` (default 1e-3).
        update_every (int): optimizer steps between covariance updates (default 10).
        eps (float): ridge added to each covariance before normalisation (default 1e-4).
        eig_floor (float): smallest eigenvalue allowed, relative to the largest (default 1e-3).
        shared_init (bool): start every task's prior layers from the first task's initial
            weights (default False; see the module notes).
    """

    def __init__(self, tasks: Sequence[str], encoder_factory: EncoderFactory, head_factory: HeadFactory,
                 lam: float = 1e-3, update_every: int = 10, eps: float = 1e-4, eig_floor: float = 1e-3,
                 shared_init: bool = False):
        super().__init__(tasks, encoder_factory, head_factory)
        if not lam >= 0 or update_every < 1 or not eps > 0 or not 0 < eig_floor < 1:
            raise InputError("mrn needs lam >= 0, update_every >= 1, eps > 0 and 0 < eig_floor < 1.")
        self.lam, self.update_every, self.eps, self.eig_floor = float(lam), int(update_every), float(eps), float(eig_floor)
        per_task = [[m for m in self.heads.head(k).modules() if isinstance(m, nn.Linear)] for k in self.tasks]
        self._layers: list[list[nn.Linear]] = []
        for pos in range(min(len(ls) for ls in per_task)):
            group = [ls[pos] for ls in per_task]
            if all(m.weight.shape == group[0].weight.shape for m in group):
                self._layers.append(group)
        if not self._layers:
            raise InputError("mrn found no head layer with the same shape in every task's head.")
        self.shared_init = bool(shared_init)
        if self.shared_init:
            with torch.no_grad():
                for group in self._layers:
                    for m in group[1:]:
                        m.weight.copy_(group[0].weight)
                        if m.bias is not None and group[0].bias is not None:
                            m.bias.copy_(group[0].bias)
        T = len(self.tasks)
        for n, group in enumerate(self._layers):
            d2, d1 = group[0].weight.shape
            for k, d in enumerate((d1, d2, T)):
                self.register_buffer(f"inv{k + 1}_{n}", torch.eye(d, dtype=torch.float64))
                self.register_buffer(f"cov{k + 1}_{n}", torch.eye(d, dtype=torch.float64))
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))
        self._host_steps: int | None = None  # host copy of ``steps``: no device read per step

    def stacked_weights(self, n: int) -> Tensor:
        """``(d1, d2, T)`` weights of prior layer ``n`` (inputs x outputs x tasks)."""
        return torch.stack([m.weight.T for m in self._layers[n]], dim=-1)

    def penalty(self) -> Tensor:
        total = torch.zeros((), device=self.steps.device)
        if self.lam == 0:
            return total
        for n in range(len(self._layers)):
            W = self.stacked_weights(n)
            i1, i2, i3 = (getattr(self, f"inv{k}_{n}").to(W.dtype) for k in (1, 2, 3))
            total = total + (W * torch.einsum("abt,ae,bc,ts->ecs", W, i1, i2, i3)).sum()
        return 0.5 * self.lam * total

    @torch.no_grad()
    def update_covariances(self) -> None:
        """One flip-flop sweep for every prior layer."""
        for n in range(len(self._layers)):
            W = self.stacked_weights(n).detach().to(torch.float64)
            inv = [getattr(self, f"inv{k}_{n}") for k in (1, 2, 3)]
            for k, (cov, icov) in enumerate(flip_flop(W, inv, self.eps, self.eig_floor), start=1):
                getattr(self, f"cov{k}_{n}").copy_(cov)
                getattr(self, f"inv{k}_{n}").copy_(icov)

    def on_after_step(self) -> None:
        if self._host_steps is None:  # once after construction or loading: one device read
            self._host_steps = int(self.steps)
        self._host_steps += 1
        self.steps += 1
        if self._host_steps % self.update_every == 0:
            self.update_covariances()

    def _load_from_state_dict(self, *args, **kwargs):
        super()._load_from_state_dict(*args, **kwargs)
        self._host_steps = None  # ``steps`` came from the checkpoint

    @property
    def n_prior_layers(self) -> int:
        """Head layer positions under the tensor-normal prior (each has its own task covariance)."""
        return len(self._layers)

    def task_covariance(self, layer: int = 0) -> np.ndarray:
        r"""``(T, T)`` task covariance :math:`\Sigma_3` of prior layer ``layer`` (trace T)."""
        return getattr(self, f"cov3_{layer}").detach().cpu().numpy().copy()

    def task_correlation(self, layer: int = 0) -> np.ndarray:
        r"""``(T, T)`` task correlation from :math:`\Sigma_3`."""
        cov = self.task_covariance(layer)
        sd = np.sqrt(np.diag(cov))
        return cov / np.outer(sd, sd)
