"""Helpers every balancer uses."""

from __future__ import annotations

import torch
from torch import Tensor

from molmtl.mtl.base import Strategy


def fill_missing_grads(*modules: torch.nn.Module) -> None:
    """Give every trainable parameter that no loss reached a zero ``.grad`` (the Balancer contract)."""
    for module in modules:
        for p in module.parameters():
            if p.requires_grad and p.grad is None:
                p.grad = torch.zeros_like(p)


def backward_penalty(penalty: Tensor) -> None:
    """Backpropagate the strategy's regularizer when it depends on parameters."""
    if penalty.requires_grad:
        penalty.backward()


def weight_log(strategy: Strategy, weights: Tensor, prefix: str = "w") -> dict[str, Tensor]:
    """``{"w/<task>": weight}`` for logging, as 0-d float32 tensors on the weights' device (no
    host-device copy, so logging does not make the host wait for the GPU every step)."""
    w = weights.detach().float().clone()  # a copy: in-place updates of the weights must not change the log
    return {f"{prefix}/{k}": w[i] for i, k in enumerate(strategy.tasks)}


def active_tasks(losses: Tensor) -> Tensor:
    """``(T,)`` bool: tasks whose loss is positive (a task with no label in the batch has loss 0)."""
    return losses.detach() > 0


def per_task_grads(losses: Tensor, inputs: list[Tensor], batched: bool = True) -> list[list[Tensor]]:
    """``[t][k]`` = d losses[t] / d inputs[k] (zeros where unused); the graph is kept.

    One vmapped backward (``is_grads_batched``) when ``batched``; a loop over tasks otherwise or
    when an op has no batching rule.
    """
    T = losses.shape[0]
    if batched:
        try:
            eye = torch.eye(T, dtype=losses.dtype, device=losses.device)
            gs = torch.autograd.grad(losses, inputs, eye, retain_graph=True, allow_unused=True, is_grads_batched=True)
            gs = [torch.zeros(T, *x.shape, dtype=x.dtype, device=x.device) if g is None else g for x, g in zip(inputs, gs)]
            return [[g[t] for g in gs] for t in range(T)]
        except RuntimeError:
            pass
    rows = []
    for t in range(T):
        gs = torch.autograd.grad(losses[t], inputs, retain_graph=True, allow_unused=True)
        rows.append([torch.zeros_like(x) if g is None else g for x, g in zip(inputs, gs)])
    return rows
