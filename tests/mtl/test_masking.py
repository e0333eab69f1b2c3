"""NaN labels are masked: they contribute exactly zero gradient, for every strategy and several balancers."""

from __future__ import annotations

import warnings

import pytest
import torch
from mtl_toys import TASKS, encoder_factory, head_factory, toy_batch

from molmtl.models.base import MolBatch
from molmtl.mtl.base import masked_task_losses
from molmtl.mtl.registry import STRATEGIES, WEIGHTINGS

BALANCERS = ["equal", "uw", "gradnorm", "dwa", "famo", "upgrad", "mgda"]


def build(name, **hp):
    if name == "clustered":
        hp["groups"] = [["alpha", "mu"], ["U0", "homo"]]
    return STRATEGIES.build(name, tasks=TASKS, encoder_factory=encoder_factory(), head_factory=head_factory, **hp)


def step_grads(strategy, balancer_name, batch):
    strategy.zero_grad(set_to_none=True)
    balancer = WEIGHTINGS.build(balancer_name, n_tasks=len(TASKS))
    out = strategy(batch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        balancer.backward(masked_task_losses(out.pred, batch.y), strategy, out, strategy.penalty())
    return {n: p.grad.clone() for n, p in strategy.named_parameters()}


def test_masked_loss_gradient_is_zero_at_nan_entries():
    pred = torch.randn(5, 3, requires_grad=True)
    y = torch.randn(5, 3)
    y[1, 0] = y[3, 2] = y[4, 2] = float("nan")
    for kind in ("mse", "l1"):
        losses = masked_task_losses(pred, y, kind)
        (grad,) = torch.autograd.grad(losses.sum(), pred)
        assert grad[1, 0] == 0 and grad[3, 2] == 0 and grad[4, 2] == 0
        assert torch.count_nonzero(grad) == 12
        ok = ~torch.isnan(y)
        per = (pred - y).pow(2) if kind == "mse" else (pred - y).abs()
        expected = torch.stack([per[ok[:, t], t].mean() for t in range(3)])
        assert torch.allclose(losses, expected)


@pytest.mark.parametrize("strategy_name", STRATEGIES)
@pytest.mark.parametrize("balancer_name", ["equal", "upgrad"])
def test_unlabelled_molecule_changes_no_gradient(strategy_name, balancer_name):
    """A molecule whose labels are all NaN leaves every gradient as if it were not in the batch."""
    full = toy_batch(n_mol=9)
    full.y[8] = float("nan")
    part = MolBatch(z=full.z[:8], pos=full.pos[:8], mask=full.mask[:8], y=full.y[:8])
    torch.manual_seed(0)
    strategy = build(strategy_name)
    g_full, g_part = step_grads(strategy, balancer_name, full), step_grads(strategy, balancer_name, part)
    for n in g_full:
        assert torch.allclose(g_full[n], g_part[n], rtol=1e-5, atol=1e-7), n


@pytest.mark.parametrize("balancer_name", BALANCERS)
def test_nan_labels_give_finite_grads_and_a_silent_head(balancer_name):
    """Scattered NaN labels leave every gradient finite; a task with no label in the batch sends
    exactly zero gradient to its head, whatever the balancer."""
    batch = toy_batch(n_mol=8)
    batch.y[[0, 3, 5], [1, 2, 0]] = float("nan")
    batch.y[:, 3] = float("nan")  # no mu label at all
    torch.manual_seed(0)
    strategy = build("hard")
    g = step_grads(strategy, balancer_name, batch)
    assert all(torch.isfinite(v).all() for v in g.values())
    mu_head = [n for n in g if n.startswith("heads.heads.t_mu.")]
    assert mu_head and all(torch.count_nonzero(g[n]) == 0 for n in mu_head)
    assert all(torch.count_nonzero(g[n]) > 0 for n in g if n.startswith("heads.heads.t_U0."))


@pytest.mark.parametrize("strategy_name", STRATEGIES)
def test_task_without_labels_gets_zero_gradient_on_its_own_parameters(strategy_name):
    batch = toy_batch(n_mol=8)
    batch.y[:, 1] = float("nan")  # no homo label in the batch
    torch.manual_seed(0)
    # MRN's prior couples the heads by design (its penalty moves an unlabelled head); switch it off.
    strategy = build(strategy_name, lam=0.0) if strategy_name == "mrn" else build(strategy_name)
    g = step_grads(strategy, "equal", batch)
    own = {
        "single": "heads.1.", "soft": "heads.1.", "cross-stitch": "heads.1.", "hard": "heads.heads.t_homo.",
        "mrn": "heads.heads.t_homo.", "clustered": "models.1.heads.heads.t_homo.",
    }[strategy_name]
    owned = [n for n in g if n.startswith(own)]
    assert owned and all(torch.count_nonzero(g[n]) == 0 for n in owned)
    if strategy_name == "single":  # its whole model
        assert all(torch.count_nonzero(g[n]) == 0 for n in g if n.startswith("encoders.1."))


@pytest.mark.parametrize("jacobian", ["params", "features"])
def test_jacobian_balancers_skip_tasks_without_labels(jacobian):
    """MGDA would return the zero vector if the unlabelled task's zero row stayed in the Jacobian."""
    batch = toy_batch(n_mol=8)
    batch.y[:, 3] = float("nan")
    torch.manual_seed(0)
    strategy = build("hard")
    strategy.zero_grad(set_to_none=True)
    out = strategy(batch)
    logs = WEIGHTINGS.build("mgda", n_tasks=4, jacobian=jacobian).backward(
        masked_task_losses(out.pred, batch.y), strategy, out, strategy.penalty())
    assert logs["w/mu"] == 0.0 and abs(sum(logs.values()) - 1.0) < 1e-4
    assert all(torch.count_nonzero(p.grad) > 0 for p in strategy.shared_parameters())
