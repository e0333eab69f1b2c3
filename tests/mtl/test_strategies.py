"""Strategies: overfit one batch, shapes, registry errors, and each strategy's own behaviour."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from mtl_toys import TASKS, encoder_factory, head_factory, train
from torch import nn

from molmtl.errors import InputError, NotFoundError
from molmtl.models.base import AtomFeatures, Encoder
from molmtl.mtl.grouping import load_grouping
from molmtl.mtl.mrn import flip_flop
from molmtl.mtl.registry import STRATEGIES, WEIGHTINGS

GROUPS = [["alpha", "mu"], ["U0", "homo"]]


def build(name, with_vec=False, **hp):
    if name == "clustered":
        hp.setdefault("groups", GROUPS)
    return STRATEGIES.build(name, tasks=TASKS, encoder_factory=encoder_factory(with_vec=with_vec),
                         head_factory=head_factory, **hp)


@pytest.mark.parametrize("name", [*STRATEGIES, "hard+group_lasso"])
def test_strategy_overfits_one_batch(name, batch):
    torch.manual_seed(0)
    strategy = build("hard", group_lasso=1e-3) if name == "hard+group_lasso" else build(name)
    history = train(strategy, WEIGHTINGS.build("equal", n_tasks=len(TASKS)), batch, steps=80, lr=2e-2)
    assert history[-1] < history[0] / 10


@pytest.mark.parametrize("name", STRATEGIES)
@pytest.mark.parametrize("with_vec", [False, True])
def test_output_shapes(name, with_vec, batch):
    torch.manual_seed(0)
    strategy = build(name, with_vec=with_vec)
    out = strategy(batch)
    assert strategy.tasks == TASKS
    assert out.pred.shape == (len(batch), len(TASKS))
    assert strategy.penalty().shape == ()
    if name in ("single", "soft"):
        assert out.features is None and strategy.shared_parameters() == []
    else:
        assert out.features and all(f.shape[:2] == batch.z.shape for f in out.features)
        assert len(out.features) % (2 if with_vec else 1) == 0
        shared = {id(p) for p in strategy.shared_parameters()}
        assert shared and not shared & {id(p) for p in strategy.task_parameters()}


def test_registry_errors():
    with pytest.raises(InputError, match="choose one of: clustered, cross-stitch, hard, mrn, single, soft"):
        build("hardd")
    with pytest.raises(InputError, match="no option 'lamda'.*lam"):
        build("soft", lamda=1.0)
    with pytest.raises(InputError, match="unknown task 'U00'"):
        STRATEGIES.build("hard", tasks=["U00"], encoder_factory=encoder_factory(), head_factory=head_factory)
    with pytest.raises(InputError, match="repeat"):
        STRATEGIES.build("hard", tasks=["U0", "u0"], encoder_factory=encoder_factory(), head_factory=head_factory)
    assert build("cross_stitch").tasks == TASKS  # underscores accepted


def test_single_task_losses_reach_only_their_model(batch):
    torch.manual_seed(0)
    strategy = build("single")
    out = strategy(batch)
    out.pred[:, 1].sum().backward()
    for k in range(len(TASKS)):
        grads = [p.grad for p in [*strategy.encoders[k].parameters(), *strategy.heads[k].parameters()]]
        if k == 1:
            assert all(g is not None and g.abs().sum() > 0 for g in grads[1:])
        else:
            assert all(g is None or torch.count_nonzero(g) == 0 for g in grads)


# ---------------------------------------------------------------- soft sharing

def test_soft_penalty_equals_pairwise_sum():
    torch.manual_seed(0)
    strategy = build("soft", lam=0.3)
    brute = sum(((a - b) ** 2).sum() for i, ea in enumerate(strategy.encoders) for eb in strategy.encoders[i + 1:]
                for a, b in zip(ea.parameters(), eb.parameters()))
    assert torch.allclose(strategy.penalty(), 0.3 * brute, rtol=1e-5)


def test_soft_lambda_zero_is_single_task(batch):
    torch.manual_seed(0)
    single = build("single")
    torch.manual_seed(0)
    soft = build("soft", lam=0.0)
    for s in (single, soft):
        train(s, WEIGHTINGS.build("equal", n_tasks=4), batch, steps=10)
    assert torch.allclose(single(batch).pred, soft(batch).pred, atol=1e-6)
    # Started from one shared initialisation, uncoupled encoders drift apart.
    torch.manual_seed(0)
    tied = build("soft", lam=0.0, same_init=True)
    assert float(tied.distance().detach()) == 0.0
    train(tied, WEIGHTINGS.build("equal", n_tasks=4), batch, steps=20)
    assert float(tied.distance().detach()) > 1e-2


def test_soft_large_lambda_ties_encoders(batch):
    torch.manual_seed(0)
    strategy = build("soft", lam=10.0)  # SGD contraction per step: 1 - 2 lr lam T = 0.2
    start = float(strategy.distance().detach())
    train(strategy, WEIGHTINGS.build("equal", n_tasks=4), batch, steps=40, lr=0.01, optimizer="sgd")
    assert float(strategy.distance().detach()) < 1e-2 * start


# ---------------------------------------------------------------- group lasso

def test_group_lasso_drives_groups_to_zero(batch):
    norms = {}
    for weight in (0.0, 10.0):
        torch.manual_seed(0)
        strategy = build("hard", group_lasso=weight)
        train(strategy, WEIGHTINGS.build("equal", n_tasks=4), batch, steps=150, lr=1e-3, optimizer="sgd")
        norms[weight] = strategy.group_norms().detach()
    assert norms[0.0].shape == (len(TASKS), 16)
    # Subgradient steps leave the groups oscillating within ~lr * weight = 0.01 of zero.
    assert float(norms[10.0].max()) < 0.03
    assert float(norms[10.0].mean()) < 0.1 * float(norms[0.0].mean())


def test_group_lasso_needs_a_linear_head():
    class Opaque(nn.Module):
        def forward(self, feats):
            return feats.h.sum(dim=(1, 2))

    with pytest.raises(InputError, match="no nn.Linear"):
        STRATEGIES.build("hard", tasks=TASKS, encoder_factory=encoder_factory(), head_factory=lambda t, d: Opaque(),
                      group_lasso=1.0)


# ---------------------------------------------------------------- cross-stitch

def test_cross_stitch_starts_near_identity_and_rejects_plain_encoders():
    strategy = build("cross-stitch")
    assert len(strategy.alphas) == 3  # embed + 2 blocks
    a = strategy.alphas[0].detach()
    assert torch.allclose(a.diagonal(), torch.full((4,), 0.9)) and torch.allclose(a.sum(dim=1), torch.ones(4))

    class Plain(Encoder):
        out_dim = 4

        def forward(self, batch):
            return AtomFeatures(h=torch.zeros(*batch.z.shape, 4), mask=batch.mask, z=batch.z)

    with pytest.raises(InputError, match="stages"):
        STRATEGIES.build("cross-stitch", tasks=TASKS, encoder_factory=Plain, head_factory=head_factory)


def test_cross_stitch_identity_is_single_task(batch):
    torch.manual_seed(0)
    single = build("single")
    torch.manual_seed(0)
    stitched = build("cross-stitch", self_weight=1.0)
    assert torch.allclose(single(batch).pred, stitched(batch).pred, atol=1e-6)


# ---------------------------------------------------------------- MRN

def test_mrn_covariance_is_symmetric_psd(batch):
    torch.manual_seed(0)
    strategy = build("mrn", lam=1e-2, update_every=5)
    train(strategy, WEIGHTINGS.build("equal", n_tasks=4), batch, steps=30)
    cov = strategy.task_covariance()
    assert cov.shape == (4, 4)
    assert np.allclose(cov, cov.T)
    assert np.linalg.eigvalsh(cov).min() > 0
    assert np.isclose(np.trace(cov), 4.0)
    assert not np.allclose(cov, np.eye(4))  # it was updated
    corr = strategy.task_correlation()
    assert np.allclose(np.diag(corr), 1.0) and np.all(np.abs(corr) <= 1 + 1e-9)


def test_mrn_penalty_matches_kronecker_form(batch):
    torch.manual_seed(0)
    strategy = build("mrn", lam=0.5, update_every=1)
    train(strategy, WEIGHTINGS.build("equal", n_tasks=4), batch, steps=3)
    total = 0.0
    for n in range(len(strategy._layers)):
        W = strategy.stacked_weights(n).detach().double()
        inv = [getattr(strategy, f"inv{k}_{n}") for k in (1, 2, 3)]
        big = torch.kron(torch.kron(inv[0], inv[1]), inv[2])
        total += float(W.reshape(-1) @ big @ W.reshape(-1))
    assert np.isclose(float(strategy.penalty().detach()), 0.25 * total, rtol=1e-4)


def test_flip_flop_recovers_task_correlation():
    g = torch.Generator().manual_seed(0)
    d1, d2, rho = 40, 30, 0.8
    chol = torch.linalg.cholesky(torch.tensor([[1.0, rho, 0.0], [rho, 1.0, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64))
    W = torch.einsum("abs,ts->abt", torch.randn(d1, d2, 3, generator=g, dtype=torch.float64), chol)
    inv = [torch.eye(d, dtype=torch.float64) for d in (d1, d2, 3)]
    for _ in range(5):
        out = flip_flop(W, inv, eps=1e-6, eig_floor=1e-6)
        inv = [i for _, i in out]
    s3 = out[2][0]
    corr = s3 / torch.outer(s3.diagonal().sqrt(), s3.diagonal().sqrt())
    assert abs(float(corr[0, 1]) - rho) < 0.05 and abs(float(corr[0, 2])) < 0.1


# ---------------------------------------------------------------- clustered

def test_clustered_merges_in_task_order(batch):
    torch.manual_seed(0)
    strategy = build("clustered")
    pred = strategy(batch).pred
    for g, group in enumerate(GROUPS):
        model = strategy.models[g]
        feats = model.encoder(batch)
        for key in group:
            assert torch.equal(pred[:, TASKS.index(key)], model.heads.head(key)(feats))


def test_clustered_grouping_checks_and_files(tmp_path):
    with pytest.raises(InputError, match="missing: mu"):
        build("clustered", groups=[["alpha"], ["U0", "homo"]])
    with pytest.raises(InputError, match="more than one group: U0"):
        build("clustered", groups=[["alpha", "mu", "U0"], ["U0", "homo"]])
    with pytest.raises(InputError, match="needs groups"):
        build("clustered", groups=None)
    (tmp_path / "g.json").write_text(json.dumps({"a": GROUPS[0], "b": GROUPS[1]}))
    (tmp_path / "g.yaml").write_text("- [alpha, mu]\n- [U0, homo]\n")
    (tmp_path / "g.txt").write_text("# two clusters\nalpha, mu\nU0 homo  # energies\n")
    for name in ("g.json", "g.yaml", "g.txt"):
        assert load_grouping(tmp_path / name) == GROUPS
    assert build("clustered", groups=str(tmp_path / "g.txt")).groups == GROUPS
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(InputError, match="not valid JSON"):
        load_grouping(tmp_path / "bad.json")
    with pytest.raises(NotFoundError):
        load_grouping(tmp_path / "none.json")


def test_mrn_updates_every_k_steps_across_a_state_dict_reload(batch, monkeypatch):
    strategy = build("mrn", lam=1e-2, update_every=3)
    calls = []
    monkeypatch.setattr(strategy, "update_covariances", lambda: calls.append(int(strategy.steps)))
    for _ in range(4):
        strategy.on_after_step()
    assert calls == [3] and int(strategy.steps) == 4
    fresh = build("mrn", lam=1e-2, update_every=3)
    fresh.load_state_dict(strategy.state_dict())  # a resumed run: the step count comes from the checkpoint
    monkeypatch.setattr(fresh, "update_covariances", lambda: calls.append(int(fresh.steps)))
    for _ in range(3):
        fresh.on_after_step()
    assert calls == [3, 6] and int(fresh.steps) == 7


def test_mrn_shared_init_starts_every_task_from_the_same_head_weights(batch):
    torch.manual_seed(0)
    shared = build("mrn", shared_init=True, update_every=1)
    for n in range(shared.n_prior_layers):
        W = shared.stacked_weights(n)
        assert all(torch.equal(W[..., 0], W[..., t]) for t in range(1, W.shape[-1]))
    shared.update_covariances()  # identical task weights: every task correlation 1, less the eigenvalue floor's lift
    assert shared.task_correlation(0).min() > 0.99
    torch.manual_seed(0)
    independent = build("mrn")
    assert not torch.equal(independent.stacked_weights(0)[..., 0], independent.stacked_weights(0)[..., 1])
