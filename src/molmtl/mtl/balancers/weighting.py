r"""Loss-weighting balancers: the gradient is that of :math:`\sum_t w_t L_t + \Omega`.

``equal`` (:math:`w_t = 1`), ``uw`` (Kendall et al. 2018), ``dwa`` (Liu et al. 2019) and ``famo``
(Liu et al. 2023). GradNorm lives in ``gradnorm.py``. Balancers with learned weights (``uw``)
expose them as parameters: the training loop must give ``balancer.parameters()`` to its optimizer.
All state sits in buffers, so ``state_dict()`` checkpoints it.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from molmtl.errors import InputError
from molmtl.mtl.balancers._common import active_tasks, fill_missing_grads, weight_log
from molmtl.mtl.base import Balancer, Strategy, StrategyOutput
from molmtl.mtl.registry import WEIGHTINGS


@WEIGHTINGS.register("equal")
class EqualWeighting(Balancer):
    r"""Plain sum :math:`\sum_t L_t` (the ``EW`` baseline of LibMTL)."""

    def __init__(self, n_tasks: int):
        super().__init__()
        self.n_tasks = n_tasks

    def backward(self, losses: Tensor, strategy: Strategy, output: StrategyOutput, penalty: Tensor) -> dict[str, float]:
        (losses.sum() + penalty).backward()
        fill_missing_grads(strategy, self)
        return {}


@WEIGHTINGS.register("uw")
class UncertaintyWeighting(Balancer):
    r"""Homoscedastic uncertainty weighting.

    Kendall, Gal and Cipolla, "Multi-Task Learning Using Uncertainty to Weigh Losses for Scene
    Geometry and Semantics" (CVPR 2018). With learned :math:`s_t = \log\sigma_t^2`,

    .. math::
        \mathcal{L} = \sum_t \tfrac12 e^{-s_t} L_t + \tfrac12 s_t .

    Args:
        n_tasks: number of tasks :math:`T`.
        init_log_var (float): initial :math:`s_t` (default 0).
    """

    def __init__(self, n_tasks: int, init_log_var: float = 0.0):
        super().__init__()
        self.log_var = nn.Parameter(torch.full((n_tasks,), float(init_log_var)))

    def backward(self, losses: Tensor, strategy: Strategy, output: StrategyOutput, penalty: Tensor) -> dict[str, float]:
        s = self.log_var.to(losses.dtype)
        (0.5 * (torch.exp(-s) * losses + s).sum() + penalty).backward()
        fill_missing_grads(strategy, self)
        return weight_log(strategy, 0.5 * torch.exp(-s))


@WEIGHTINGS.register("dwa")
class DynamicWeightAverage(Balancer):
    r"""Dynamic weight average.

    Liu, Johns and Davison, "End-to-End Multi-Task Learning with Attention" (CVPR 2019):

    .. math::
        w_t = T \, \mathrm{softmax}_t\!\left(\frac{r_t}{\tau}\right), \qquad
        r_t = \frac{\bar L_t^{(k-1)}}{\bar L_t^{(k-2)}},

    where :math:`\bar L^{(k)}` is the mean loss over period :math:`k`. The paper's period is an
    epoch; here it is ``period`` calls (default 1 = every step). Weights are 1 for the first two
    periods; a task with no label in a period keeps :math:`r_t = 1`.

    Args:
        n_tasks: number of tasks :math:`T`.
        temperature (float): :math:`\tau` (default 2).
        period (int): backward calls averaged into one period (default 1).
    """

    def __init__(self, n_tasks: int, temperature: float = 2.0, period: int = 1):
        super().__init__()
        if not temperature > 0 or period < 1:
            raise InputError("dwa needs temperature > 0 and period >= 1.")
        self.n_tasks, self.temperature, self.period = n_tasks, float(temperature), int(period)
        self.register_buffer("history", torch.zeros(2, n_tasks))  # [period k-2, period k-1]
        self.register_buffer("n_periods", torch.zeros((), dtype=torch.long))
        self.register_buffer("acc", torch.zeros(n_tasks))
        self.register_buffer("acc_n", torch.zeros((), dtype=torch.long))

    def weights(self) -> Tensor:
        """``(T,)`` current task weights (sum T). Branch-free on the buffers: no host-device sync."""
        prev2, prev1 = self.history
        ok = (prev2 > 0) & (prev1 > 0)
        r = torch.where(ok, prev1 / prev2.clamp(min=1e-30), torch.ones_like(prev1))
        w = self.n_tasks * torch.softmax(r / self.temperature, dim=0)
        return torch.where(self.n_periods >= 2, w, torch.ones_like(w))

    def backward(self, losses: Tensor, strategy: Strategy, output: StrategyOutput, penalty: Tensor) -> dict[str, float]:
        w = self.weights().to(losses.dtype)
        ((w * losses).sum() + penalty).backward()
        fill_missing_grads(strategy, self)
        with torch.no_grad():  # the end-of-period update as masked tensor ops (no sync)
            self.acc += losses.detach().to(self.acc.dtype)
            self.acc_n += 1
            done = self.acc_n == self.period
            self.history.copy_(torch.where(done, torch.stack([self.history[1], self.acc / self.period]), self.history))
            self.n_periods += done.long()
            self.acc.mul_(~done)
            self.acc_n.mul_(~done)
        return weight_log(strategy, w)


@WEIGHTINGS.register("famo")
class FAMO(Balancer):
    r"""Fast adaptive multitask optimization.

    Liu et al., "FAMO: Fast Adaptive Multitask Optimization" (NeurIPS 2023). With task logits
    :math:`\xi` and :math:`z = \mathrm{softmax}(\xi)` the model follows the gradient of

    .. math::
        \mathcal{L} = \frac{1}{c} \sum_t z_t \log(L_t + \epsilon), \qquad
        c = \sum_t \frac{z_t}{L_t + \epsilon}\ \text{(held constant)},

    and :math:`\xi` is updated (Adam, learning rate ``lr``, weight decay ``gamma``) with the
    gradient :math:`J_{\mathrm{softmax}}(\xi)^\top \delta`, :math:`\delta_t = \log(L_t^{old}+\epsilon)
    - \log(L_t^{new}+\epsilon)`, the decrease of each task's log-loss. The paper recomputes
    :math:`L^{new}` on the same batch after the step; here :math:`L^{new}` is the next call's
    losses (no extra forward pass). Tasks with zero loss (no label in the batch) sit out.

    Args:
        n_tasks: number of tasks :math:`T`.
        lr (float): learning rate of the logits (default 0.025, as the paper).
        gamma (float): weight decay of the logits (default 1e-3, as the paper).
        eps (float): :math:`\epsilon` (default 1e-8).
    """

    def __init__(self, n_tasks: int, lr: float = 0.025, gamma: float = 1e-3, eps: float = 1e-8):
        super().__init__()
        if not lr > 0 or not gamma >= 0 or not eps > 0:
            raise InputError("famo needs lr > 0, gamma >= 0 and eps > 0.")
        self.lr, self.gamma, self.eps = float(lr), float(gamma), float(eps)
        for name in ("logits", "adam_m", "adam_v", "prev_loss"):
            self.register_buffer(name, torch.zeros(n_tasks))
        self.register_buffer("adam_t", torch.zeros((), dtype=torch.long))
        self.register_buffer("has_prev", torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def _update_logits(self, losses: Tensor) -> None:
        """One Adam step on the logits, applied only once a previous loss exists (``has_prev``);
        written as masked tensor arithmetic so that it never reads a buffer on the host."""
        ok = (self.prev_loss > 0) & (losses > 0)
        delta = torch.where(ok, torch.log(self.prev_loss + self.eps) - torch.log(losses + self.eps), 0.0)
        z = torch.softmax(self.logits, dim=0)
        grad = z * (delta - (z * delta).sum()) + self.gamma * self.logits  # J_softmax^T delta + L2
        beta1, beta2 = 0.9, 0.999
        step = self.has_prev
        self.adam_t += step.long()
        m = torch.where(step, beta1 * self.adam_m + (1 - beta1) * grad, self.adam_m)
        v = torch.where(step, beta2 * self.adam_v + (1 - beta2) * grad * grad, self.adam_v)
        t = self.adam_t.clamp(min=1).to(m.dtype)
        m_hat, v_hat = m / (1 - torch.pow(beta1, t)), v / (1 - torch.pow(beta2, t))
        self.logits.copy_(torch.where(step, self.logits - self.lr * m_hat / (v_hat.sqrt() + 1e-8), self.logits))
        self.adam_m.copy_(m)
        self.adam_v.copy_(v)

    def backward(self, losses: Tensor, strategy: Strategy, output: StrategyOutput, penalty: Tensor) -> dict[str, float]:
        detached = losses.detach().to(self.logits.dtype)
        self._update_logits(detached)
        active = active_tasks(detached)
        # no active task: every logit is -inf, softmax gives NaN, nan_to_num gives weights 0
        z = torch.softmax(self.logits.masked_fill(~active, float("-inf")), dim=0)
        z = torch.nan_to_num(z).to(losses.dtype)
        d = losses + self.eps
        c = (z / d.detach()).sum().clamp(min=1e-30)
        ((z * torch.log(d)).sum() / c + penalty).backward()
        fill_missing_grads(strategy, self)
        self.prev_loss.copy_(detached)
        self.has_prev.fill_(True)
        return weight_log(strategy, torch.softmax(self.logits, dim=0), prefix="z")
