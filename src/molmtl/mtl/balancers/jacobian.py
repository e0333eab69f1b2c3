r"""Jacobian-descent balancers through torchjd 0.18 aggregators.

The Jacobian :math:`J \in \mathbb{R}^{T \times P}` of the task losses w.r.t. the strategy's shared
parameters is reduced by an aggregator :math:`\mathcal{A}(J)` into their ``.grad``; task-specific
parameters get ordinary gradients of their own loss. When the strategy returns
``StrategyOutput.features``, torchjd's ``mtl_backward`` backpropagates per-task gradients to the
features and the Jacobian from there (one vmapped backward through the encoder); otherwise the
full Jacobian w.r.t. the shared parameters is built with ``autojac.backward``. Strategies without
shared parameters (single, soft) reduce to the plain sum.

The exact Jacobian costs about one encoder backward per task (vmapped: fast on a GPU, ~T times a
plain step on one CPU thread). ``jacobian="features"`` instead takes the weights from the Jacobian
w.r.t. the shared *representation* :math:`Z` (T backwards through the heads only) and sends
:math:`\sum_t w_t \nabla_Z L_t` through the encoder once, the MGDA-UB approximation of Sener and
Koltun (2018, Sec. 3.3) applied to every aggregator: about the cost of a plain step.

Aggregators: UPGrad (Quinton and Rey 2024), MGDA (Sener and Koltun 2018), PCGrad (Yu et al.
2020), CAGrad (Liu et al. 2021), Nash-MTL (Navon et al. 2022), IMTL-G (Liu et al. 2021),
Aligned-MTL (Senushkin et al. 2023).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor
from torchjd.aggregation import IMTLG, MGDA, AlignedMTL, CAGrad, NashMTL, PCGrad, UPGrad
from torchjd.autojac import backward as jd_backward
from torchjd.autojac import jac_to_grad, mtl_backward

from molmtl.errors import InputError
from molmtl.mtl.balancers._common import (
    backward_penalty,
    fill_missing_grads,
    per_task_grads,
    weight_log,
)
from molmtl.mtl.base import Balancer, Strategy, StrategyOutput
from molmtl.mtl.registry import WEIGHTINGS


class JacobianBalancer(Balancer):
    """Aggregate the task Jacobian on shared parameters with a torchjd ``Aggregator``.

    Args:
        aggregator: a ``torchjd.aggregation.WeightedAggregator`` (all seven named ones are).
        parallel_chunk_size (int | None): torchjd's vmap chunk size (None = all tasks at once; 1
            avoids vmap, for ops it does not support).
        jacobian (str): ``"params"`` (exact, default) or ``"features"`` (representation
            Jacobian, needs ``StrategyOutput.features``; falls back to ``"params"`` without).
    """

    def __init__(self, aggregator, parallel_chunk_size: int | None = None, jacobian: Literal["params", "features"] = "params"):
        super().__init__()
        if jacobian not in ("params", "features"):
            raise InputError(f"jacobian must be 'params' or 'features', got {jacobian!r}.")
        self.aggregator = aggregator
        self.parallel_chunk_size = parallel_chunk_size
        self.jacobian = jacobian

    # Nash-MTL keeps its last weights (the warm start of its solver) and a step count as plain
    # attributes; carry them through state_dict so a resumed run continues where it stopped.
    def get_extra_state(self) -> dict:
        w = self.aggregator.weighting
        if not hasattr(w, "prvs_alpha"):
            return {}
        return {"prvs_alpha": torch.as_tensor(w.prvs_alpha).clone(), "step": float(w.step)}

    def set_extra_state(self, state: dict) -> None:
        w = self.aggregator.weighting
        if not state or not hasattr(w, "prvs_alpha"):
            return
        w.prvs_alpha = state["prvs_alpha"].numpy().astype(w.prvs_alpha.dtype)
        w.step = state["step"]
        if w.step > 0:  # torchjd builds its cvxpy problem on step 0 only
            w._init_optim_problem()

    def _features_backward(self, losses: Tensor, active: Tensor, strategy: Strategy, features: list[Tensor]) -> Tensor:
        """Weights of the ``active`` tasks from the representation Jacobian; sets grads; returns them."""
        rows = per_task_grads(losses[active], features, batched=self.parallel_chunk_size != 1)
        J = torch.stack([torch.cat([g.reshape(-1) for g in row]) for row in rows])  # (T_active, sum |Z|)
        weights = self.aggregator.weighting(J).to(losses.dtype)
        _accumulate(losses.sum(), [p for p in strategy.task_parameters() if p.requires_grad])
        z_grads = [sum(w * row[k] for w, row in zip(weights, rows)) for k in range(len(features))]
        torch.autograd.backward(features, z_grads, inputs=strategy.shared_parameters())
        return weights

    def backward(self, losses: Tensor, strategy: Strategy, output: StrategyOutput, penalty: Tensor) -> dict[str, float]:
        shared = strategy.shared_parameters()
        T = losses.shape[0]
        # A task with no label in the batch (loss exactly 0) is no objective this step: its zero
        # row would make MGDA's min-norm point 0 and stall every task. Nash-MTL needs all T rows.
        active = torch.arange(T, device=losses.device)
        if not hasattr(self.aggregator.weighting, "prvs_alpha"):
            active = active[losses.detach() > 0]
        if not shared or len(active) <= 1:
            (losses.sum() + penalty).backward()
            fill_missing_grads(strategy, self)
            return {}
        weights = torch.zeros(T, dtype=losses.dtype, device=losses.device)
        if self.jacobian == "features" and output.features:
            weights[active] = self._features_backward(losses, active, strategy, output.features)
        else:
            tensors = [losses[t] for t in active.tolist()]
            if output.features:
                # The per-task losses share one graph (they are columns of one masked loss), so it
                # is retained across the task backwards; it is freed with the tensors on return.
                mtl_backward(tensors, features=output.features, shared_params=shared, retain_graph=True,
                             parallel_chunk_size=self.parallel_chunk_size)
            else:
                jd_backward(tensors, inputs=shared, retain_graph=True, parallel_chunk_size=self.parallel_chunk_size)
                _accumulate(losses.sum(), [p for p in strategy.task_parameters() if p.requires_grad])
            w = jac_to_grad(shared, self.aggregator)
            if w is not None:
                weights[active] = w.to(weights.dtype)
        backward_penalty(penalty)
        fill_missing_grads(strategy, self)
        return weight_log(strategy, weights)


def _accumulate(loss: Tensor, params: list[Tensor]) -> None:
    """Add d loss / d params to ``.grad`` (graph kept: other backwards may follow)."""
    if not params:
        return
    for p, g in zip(params, torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)):
        if g is not None:
            p.grad = g if p.grad is None else p.grad + g


def _register(name: str, cls, summary: str, **defaults) -> None:
    """Register ``name``: a :class:`JacobianBalancer` around torchjd's ``cls``; its options are the
    aggregator's (``defaults`` where molmtl's differ) and ``parallel_chunk_size``, ``jacobian``."""

    def make(n_tasks: int, parallel_chunk_size: int | None = None, jacobian: Literal["params", "features"] = "params",
             **options) -> JacobianBalancer:
        kwargs = {**defaults, **options}
        if cls is NashMTL:
            kwargs["n_tasks"] = n_tasks
        return JacobianBalancer(cls(**kwargs), parallel_chunk_size=parallel_chunk_size, jacobian=jacobian)

    make.__name__ = make.__qualname__ = f"make_{name}"
    make.__doc__ = JacobianBalancer.__doc__  # the help of parallel_chunk_size and jacobian
    WEIGHTINGS.register(name, options_from=(cls, make), defaults=defaults, summary=summary)(make)


_register("upgrad", UPGrad, "UPGrad (Quinton and Rey 2024): the Jacobian projected onto the dual cone")
_register("mgda", MGDA, "MGDA (Sener and Koltun 2018): the min-norm point of the task gradients' hull")
_register("pcgrad", PCGrad, "PCGrad (Yu et al. 2020): conflicting gradients projected away")
_register("cagrad", CAGrad, "CAGrad (Liu et al. 2021): the average gradient, conflict-averse", c=0.4)  # c = 0.4 as LibMTL's QM9 runs
_register("nashmtl", NashMTL, "Nash-MTL (Navon et al. 2022): a bargaining solution of the task gradients")
_register("imtlg", IMTLG, "IMTL-G (Liu et al. 2021): equal projections of the update on every task gradient")
_register("alignedmtl", AlignedMTL, "Aligned-MTL (Senushkin et al. 2023): the task gradients' condition number aligned")
