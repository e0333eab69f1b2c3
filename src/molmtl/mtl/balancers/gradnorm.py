r"""GradNorm: learned task weights that equalise gradient norms at the shared representation.

Chen et al., "GradNorm: Gradient Normalization for Adaptive Loss Balancing in Deep Multitask
Networks" (ICML 2018). With :math:`G_t = \lVert \nabla_{a} w_t L_t \rVert` at the anchor
:math:`a`, the relative inverse training rate :math:`r_t = \tilde L_t / \mathrm{mean}(\tilde L)`,
:math:`\tilde L_t = L_t / L_t(0)`,

.. math::
    \mathcal{L}_{grad} = \sum_t \left| G_t - \bar G \, r_t^{\alpha} \right|

(target held constant) gives the weights' gradient, the model follows :math:`\sum_t w_t L_t`, and
after each step the weights are renormalised to :math:`\sum_t w_t = T`. The anchor is the shared
representation (``StrategyOutput.features``) when the strategy has one (as LibMTL's
representation-gradient variant), else the last shared parameter, else each task's prediction.
Because :math:`w_t` is a scalar, :math:`G_t = w_t \lVert\nabla_a L_t\rVert` and no second-order
gradient is needed.

Args:
    n_tasks: number of tasks :math:`T`.
    alpha (float): restoring force :math:`\alpha` (default 1.5, the paper's QM9-like regression
        setting uses 0.12-1.5).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from molmtl.errors import InputError
from molmtl.mtl.balancers._common import fill_missing_grads, per_task_grads, weight_log
from molmtl.mtl.base import Balancer, Strategy, StrategyOutput
from molmtl.mtl.registry import WEIGHTINGS


@WEIGHTINGS.register("gradnorm", summary="GradNorm (Chen et al. 2018): learned weights that equalise the tasks' gradient norms")
class GradNorm(Balancer):
    """See the module docstring. The training loop must optimize ``balancer.parameters()``."""

    def __init__(self, n_tasks: int, alpha: float = 1.5):
        super().__init__()
        if not alpha >= 0:
            raise InputError(f"gradnorm needs alpha >= 0, got {alpha}.")
        self.alpha = float(alpha)
        self.weight = nn.Parameter(torch.ones(n_tasks))
        self.register_buffer("initial_loss", torch.zeros(n_tasks))

    def _anchor(self, strategy: Strategy, output: StrategyOutput) -> list[Tensor] | None:
        if output.features:
            return [f for f in output.features if f.requires_grad]
        shared = strategy.shared_parameters()
        return [shared[-1]] if shared else None

    def grad_norms(self, losses: Tensor, strategy: Strategy, output: StrategyOutput) -> Tensor:
        r"""``(T,)`` :math:`\lVert\nabla_a L_t\rVert` (graph retained)."""
        if not losses.requires_grad:
            return torch.zeros_like(losses)
        anchor = self._anchor(strategy, output)
        if anchor is None:  # each task's own prediction column
            rows = per_task_grads(losses, [output.pred])
            return torch.stack([row[0][:, t].norm() for t, row in enumerate(rows)]).detach()
        rows = per_task_grads(losses, anchor)
        return torch.stack([torch.sqrt(sum(g.pow(2).sum() for g in row)) for row in rows]).detach()

    def backward(self, losses: Tensor, strategy: Strategy, output: StrategyOutput, penalty: Tensor) -> dict[str, float]:
        T = losses.shape[0]
        with torch.no_grad():  # renormalise after the previous optimizer step
            self.weight.clamp_(min=1e-6)
            self.weight.mul_(T / self.weight.sum())
            fresh = (self.initial_loss == 0) & (losses.detach() > 0)
            self.initial_loss.copy_(torch.where(fresh, losses.detach().to(self.initial_loss.dtype), self.initial_loss))
        norms = self.grad_norms(losses, strategy, output)
        w = self.weight.detach().to(losses.dtype)
        with torch.no_grad():
            active = (self.initial_loss > 0) & (losses.detach() > 0)
            G = w * norms
            ratio = torch.where(active, losses.detach() / self.initial_loss.clamp(min=1e-30).to(losses.dtype), 0.0)
            n_active = active.sum().clamp(min=1)
            r = ratio / (ratio.sum() / n_active).clamp(min=1e-30)
            target = (G[active].sum() / n_active) * r.pow(self.alpha)
            grad_w = torch.where(active, torch.sign(G - target) * norms, 0.0)
        ((w * losses).sum() + penalty).backward()
        self.weight.grad = grad_w.to(self.weight.dtype) if self.weight.grad is None else self.weight.grad + grad_w
        fill_missing_grads(strategy, self)
        return weight_log(strategy, w)
