"""Balancers: overfit one batch, reduction to the sum, torchjd paths, state and registry errors."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

from molmtl.errors import InputError
from molmtl.mtl.base import StrategyOutput, masked_task_losses
from molmtl.mtl.hard import HardSharing
from molmtl.mtl.registry import STRATEGIES, WEIGHTINGS

BALANCERS = WEIGHTINGS.names()
from mtl_toys import TASKS, encoder_factory, head_factory, toy_batch, train

JACOBIAN = ("upgrad", "mgda", "pcgrad", "cagrad", "nashmtl", "imtlg", "alignedmtl")


def hard(**hp):
    return STRATEGIES.build("hard", tasks=TASKS, encoder_factory=encoder_factory(), head_factory=head_factory, **hp)


def grads(module) -> dict[str, torch.Tensor]:
    return {n: p.grad.clone() for n, p in module.named_parameters()}


def one_step(strategy, balancer, batch):
    strategy.zero_grad(set_to_none=True)
    out = strategy(batch)
    losses = masked_task_losses(out.pred, batch.y)
    logs = balancer.backward(losses, strategy, out, strategy.penalty())
    return logs


@pytest.mark.parametrize("name", BALANCERS)
def test_balancer_overfits_one_batch(name, batch):
    torch.manual_seed(0)
    strategy = hard()
    # FAMO weights tasks by 1 / loss (it balances relative improvement) with slowly adapting
    # logits, so the summed loss falls more slowly on this toy: ~13x in 120 steps, ~100x in 200.
    steps = 200 if name == "famo" else 60
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cvxpy's DPP notice for Nash-MTL
        history = train(strategy, WEIGHTINGS.build(name, n_tasks=len(TASKS)), batch, steps=steps, lr=2e-2)
    assert history[-1] < history[0] / 10


@pytest.mark.parametrize("name", BALANCERS)
def test_every_parameter_gets_a_grad_and_logs_are_scalars(name, batch):
    torch.manual_seed(0)
    strategy = hard(group_lasso=1e-3)
    balancer = WEIGHTINGS.build(name, n_tasks=len(TASKS))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logs = one_step(strategy, balancer, batch)
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in [*strategy.parameters(), *balancer.parameters()])
    # floats, or 0-d detached tensors (kept on the device: logging them needs no host sync)
    assert all(isinstance(v, float) or (isinstance(v, torch.Tensor) and v.dim() == 0 and not v.requires_grad)
               for v in logs.values())
    assert all(math.isfinite(float(v)) for v in logs.values())


@pytest.mark.parametrize("name", ["upgrad", "mgda", "imtlg"])
def test_jacobian_balancer_without_shared_parameters_is_the_sum(name, batch):
    torch.manual_seed(0)
    strategy = STRATEGIES.build("soft", tasks=TASKS, encoder_factory=encoder_factory(), head_factory=head_factory, lam=0.1)
    one_step(strategy, WEIGHTINGS.build("equal", n_tasks=4), batch)
    expected = grads(strategy)
    one_step(strategy, WEIGHTINGS.build(name, n_tasks=4), batch)
    for n, g in grads(strategy).items():
        assert torch.allclose(g, expected[n]), n


def test_equal_conflict_free_upgrad_matches_sum():
    """One task: UPGrad of a single-row Jacobian is that row, i.e. the ordinary gradient."""
    torch.manual_seed(0)
    batch = toy_batch(n_tasks=1)
    strategy = STRATEGIES.build("hard", tasks=["U0"], encoder_factory=encoder_factory(), head_factory=head_factory)
    one_step(strategy, WEIGHTINGS.build("equal", n_tasks=1), batch)
    expected = grads(strategy)
    one_step(strategy, WEIGHTINGS.build("upgrad", n_tasks=1), batch)
    assert all(torch.allclose(g, expected[n], atol=1e-6) for n, g in grads(strategy).items())


class NoFeatures(HardSharing):
    """Hard sharing that hides its features, to exercise the full-Jacobian path."""

    def forward(self, batch):
        return StrategyOutput(pred=super().forward(batch).pred, features=None)


@pytest.mark.parametrize("name", ["upgrad", "mgda"])
def test_feature_and_full_jacobian_paths_agree(name, batch):
    torch.manual_seed(0)
    a = hard()
    torch.manual_seed(0)
    b = NoFeatures(TASKS, encoder_factory(), head_factory)
    logs_a = one_step(a, WEIGHTINGS.build(name, n_tasks=4), batch)
    logs_b = one_step(b, WEIGHTINGS.build(name, n_tasks=4), batch)
    ga, gb = grads(a), grads(b)
    for n in ga:
        assert torch.allclose(ga[n], gb[n], rtol=1e-4, atol=1e-6), n
    assert logs_a.keys() == {f"w/{k}" for k in TASKS}
    assert all(abs(logs_a[k] - logs_b[k]) < 1e-4 for k in logs_a)


def test_mgda_weights_are_convex(batch):
    torch.manual_seed(0)
    logs = one_step(hard(), WEIGHTINGS.build("mgda", n_tasks=4), batch)
    w = torch.tensor(list(logs.values()))
    assert (w >= -1e-6).all() and abs(float(w.sum()) - 1.0) < 1e-4


def test_uw_gradient_matches_formula(batch):
    torch.manual_seed(0)
    strategy, balancer = hard(), WEIGHTINGS.build("uw", n_tasks=4, init_log_var=0.5)
    out = strategy(batch)
    losses = masked_task_losses(out.pred, batch.y)
    balancer.backward(losses, strategy, out, strategy.penalty())
    # d/ds [0.5 exp(-s) L + 0.5 s] = 0.5 - 0.5 exp(-s) L
    expected = 0.5 - 0.5 * torch.exp(torch.tensor(-0.5)) * losses.detach()
    assert torch.allclose(balancer.log_var.grad, expected, rtol=1e-5)


def test_dwa_weights_follow_loss_ratios():
    dwa = WEIGHTINGS.build("dwa", n_tasks=3, temperature=2.0)
    dwa.history.copy_(torch.tensor([[1.0, 1.0, 1.0], [0.5, 1.0, 2.0]]))
    dwa.n_periods.fill_(2)
    r = torch.tensor([0.5, 1.0, 2.0])
    assert torch.allclose(dwa.weights(), 3 * torch.softmax(r / 2.0, dim=0))


@pytest.mark.parametrize("name", ["dwa", "famo", "gradnorm", "uw", "nashmtl"])
def test_state_round_trips_through_state_dict(name, batch):
    torch.manual_seed(0)
    strategy, balancer = hard(), WEIGHTINGS.build(name, n_tasks=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train(strategy, balancer, batch, steps=4)
        state = balancer.state_dict()
        assert state  # something to checkpoint
        clone = WEIGHTINGS.build(name, n_tasks=4)
        clone.load_state_dict(state)
        for k, v in clone.state_dict().items():
            if isinstance(v, torch.Tensor):
                assert torch.equal(v, state[k])
        # The clone then takes the same step as the original.
        one_step(strategy, balancer, batch)
        g1 = grads(strategy)
        one_step(strategy, clone, batch)
    assert all(torch.allclose(g, g1[n], rtol=1e-4, atol=1e-6) for n, g in grads(strategy).items())


def test_famo_upweights_the_task_that_stalls():
    famo = WEIGHTINGS.build("famo", n_tasks=2, lr=0.1, gamma=0.0)
    strategy = hard()
    strategy.tasks = ("U0", "homo")  # only the names are used for logging here
    w = torch.zeros(2, requires_grad=True)
    for step in range(30):
        # Task 0's loss halves every step, task 1's stays put.
        losses = torch.stack([torch.tensor(0.5**step) * (1 + w[0]), 1.0 + w[1]])
        logs = famo.backward(losses, strategy, StrategyOutput(pred=losses[None]), torch.zeros(()))
    assert logs["z/homo"] > 0.9


def test_registry_errors():
    with pytest.raises(InputError, match="choose one of: alignedmtl, cagrad, dwa, equal, famo, gradnorm, imtlg, mgda, nashmtl, pcgrad, upgrad, uw"):
        WEIGHTINGS.build("adam", n_tasks=3)
    with pytest.raises(InputError, match="no option 'temp'.*temperature"):
        WEIGHTINGS.build("dwa", n_tasks=3, temp=2.0)
    with pytest.raises(InputError, match="no option 'x'"):
        WEIGHTINGS.build("cagrad", n_tasks=3, x=1)
    with pytest.raises(InputError, match="positive integer"):
        WEIGHTINGS.build("equal", n_tasks=0)
    with pytest.raises(InputError, match="option 'jacobian' takes one of params, features"):
        WEIGHTINGS.build("upgrad", n_tasks=3, jacobian="full")
    assert WEIGHTINGS.build("Nash-MTL", n_tasks=3, max_norm=2.0, parallel_chunk_size=1).parallel_chunk_size == 1
    assert WEIGHTINGS.build("aligned_mtl", n_tasks=3) is not None


@pytest.mark.parametrize("name", ["upgrad", "mgda", "nashmtl"])
def test_feature_jacobian_mode(name, batch):
    """jacobian='features': shared grads are those of sum_t w_t L_t, head grads those of sum_t L_t."""
    torch.manual_seed(0)
    strategy = hard()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logs = one_step(strategy, WEIGHTINGS.build(name, n_tasks=4, jacobian="features"), batch)
    got = grads(strategy)
    w = torch.tensor([logs[f"w/{k}"] for k in TASKS])
    out = strategy(batch)
    losses = masked_task_losses(out.pred, batch.y)
    shared = strategy.shared_parameters()
    expected = torch.autograd.grad((w * losses).sum(), shared, retain_graph=True)
    names = {id(p): n for n, p in strategy.named_parameters()}
    for p, g in zip(shared, expected):
        assert torch.allclose(got[names[id(p)]], g, rtol=1e-4, atol=1e-6)
    heads = [p for p in strategy.task_parameters()]
    for p, g in zip(heads, torch.autograd.grad(losses.sum(), heads)):
        assert torch.allclose(got[names[id(p)]], g, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", ["upgrad", "imtlg"])
def test_feature_jacobian_mode_overfits(name, batch):
    torch.manual_seed(0)
    history = train(hard(), WEIGHTINGS.build(name, n_tasks=4, jacobian="features"), batch, steps=60, lr=2e-2)
    assert history[-1] < history[0] / 10


def test_gradnorm_weight_gradient_and_renormalisation(batch):
    torch.manual_seed(0)
    strategy, gn = hard(), WEIGHTINGS.build("gradnorm", n_tasks=4, alpha=1.5)
    out = strategy(batch)
    losses = masked_task_losses(out.pred, batch.y)
    norms = torch.stack([torch.autograd.grad(losses[t], out.features, retain_graph=True)[0].norm() for t in range(4)])
    gn.backward(losses, strategy, out, strategy.penalty())
    # First step: L(0) = L, so r = 1 and the target is the mean of G = w * norms (w = 1).
    target = norms.mean()
    assert torch.allclose(gn.weight.grad, torch.sign(norms - target) * norms, rtol=1e-4)
    with torch.no_grad():
        gn.weight.sub_(0.3 * gn.weight.grad / gn.weight.grad.abs().max())
    logs = one_step(strategy, gn, batch)
    assert abs(sum(logs.values()) - 4.0) < 1e-4  # renormalised to sum T before use


def test_dwa_period_accumulation_without_host_syncs():
    # period 2: the first two periods keep weights 1; after them the ratio of the last two
    # period means (task a: 2/1) sets the weights. The update is masked tensor arithmetic.
    dwa = WEIGHTINGS.build("dwa", n_tasks=3, temperature=2.0, period=2)
    holder = torch.nn.Linear(1, 1)  # stands in for a strategy: .tasks and parameters to fill
    torch.nn.init.ones_(holder.weight)  # losses = the listed values (positive)
    holder.tasks = ("a", "b", "c")
    seen = []
    for loss in ([1, 1, 1], [1, 1, 1], [2, 1, 1], [2, 1, 1], [4, 1, 1]):
        seen.append(dwa.weights().clone())
        losses = torch.tensor(loss, dtype=torch.float32) * holder.weight.sum()
        dwa.backward(losses, holder, StrategyOutput(pred=losses[None]), torch.zeros(()))
    assert all(torch.equal(w, torch.ones(3)) for w in seen[:4])
    assert torch.allclose(seen[4], 3 * torch.softmax(torch.tensor([2.0, 1.0, 1.0]) / 2.0, dim=0))
    assert int(dwa.n_periods) == 2 and int(dwa.acc_n) == 1
