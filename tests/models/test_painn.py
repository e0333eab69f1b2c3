"""Dense PaiNN: shapes, symmetry (rotation, translation, permutation), padding invariance."""

from __future__ import annotations

import copy
import math
import pickle

import pytest
import torch

from molmtl.data.batching import collate
from molmtl.models.base import MolBatch
from molmtl.models.heads import make_head
from molmtl.models.painn import MESSAGES, PaiNN, cosine_cutoff, pair_geometry, sine_rbf
from molmtl.targets import TARGETS, get_target


def _rotation(seed: int = 0) -> torch.Tensor:
    q, r = torch.linalg.qr(torch.randn(3, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r))
    if torch.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q.float()


def _predict(enc, heads, batch):
    feats = enc(batch)
    return torch.stack([h(feats) for h in heads], dim=1)


@pytest.fixture(params=list(MESSAGES))
def model(request):
    enc = PaiNN(hidden=32, num_layers=2, message=request.param).eval()
    heads = [make_head(t, enc.out_dim).eval() for t in TARGETS]
    return enc, heads


def test_cutoff_and_basis_values():
    d = torch.tensor([0.0, 2.5, 5.0, 6.0])
    assert torch.allclose(cosine_cutoff(d, 5.0), torch.tensor([1.0, 0.5, 0.0, 0.0]), atol=1e-6)
    rbf = sine_rbf(torch.tensor([1.0]), 3, 5.0)
    expected = torch.tensor([math.sin(n * math.pi / 5.0) for n in (1, 2, 3)])
    assert torch.allclose(rbf[0], expected, atol=1e-6)
    assert torch.isfinite(sine_rbf(torch.tensor([1e-5]), 20, 5.0)).all()


def test_pair_geometry_masks_self_padding_and_far_pairs():
    pos = torch.tensor([[[0.0, 0, 0], [1.0, 0, 0], [7.0, 0, 0], [0.0, 0, 0]]])
    mask = torch.tensor([[True, True, True, False]])
    d, unit, pair = pair_geometry(pos, mask, cutoff=5.0)
    assert pair[0].tolist() == [[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    assert torch.allclose(unit[0, 0, 1], torch.tensor([1.0, 0, 0]))
    assert torch.allclose(d[0, 0, 2], torch.tensor(7.0))


def test_shapes_and_padding_rows_zero(model, batch8):
    enc, heads = model
    feats = enc(batch8)
    B, N = batch8.z.shape
    assert feats.h.shape == (B, N, 32) and feats.vec.shape == (B, N, 3, 32)
    assert torch.equal(feats.mask, batch8.mask) and feats.pos is batch8.pos
    assert (feats.h[~batch8.mask] == 0).all() and (feats.vec[~batch8.mask] == 0).all()
    assert _predict(enc, heads, batch8).shape == (B, len(TARGETS))


def test_padding_invariance(model, dataset8):
    enc, heads = model
    items = [dataset8[i] for i in range(len(dataset8))]
    together = _predict(enc, heads, collate(items, graph=False, geometry=True))
    for i in (0, 3, 7):
        alone = _predict(enc, heads, collate([items[i]], graph=False, geometry=True))
        assert torch.allclose(alone[0], together[i], atol=1e-4, rtol=1e-4)


def test_rotation_translation_invariance_and_dipole_equivariance(model, batch8):
    enc, heads = model
    R, shift = _rotation(1), torch.tensor([3.0, -2.0, 0.5])
    moved_pos = (batch8.pos @ R.T + shift) * batch8.mask.unsqueeze(-1)
    moved = MolBatch(batch8.z, moved_pos, batch8.mask, batch8.y)
    assert torch.allclose(_predict(enc, heads, batch8), _predict(enc, heads, moved), atol=1e-4, rtol=1e-4)
    dip = heads[0]
    assert dip.target.key == "mu"
    mu, mu_moved = dip.dipole_vector(enc(batch8)), dip.dipole_vector(enc(moved))
    assert torch.allclose(mu @ R.T, mu_moved, atol=1e-4, rtol=1e-4)
    assert mu.abs().max() > 1e-3  # not trivially zero


def test_atom_permutation_invariance(model, batch8):
    enc, heads = model
    n = int(batch8.mask[0].sum())
    perm = torch.arange(batch8.z.shape[1])
    perm[:n] = torch.randperm(n, generator=torch.Generator().manual_seed(3))
    permuted = MolBatch(batch8.z[:, perm], batch8.pos[:, perm], batch8.mask[:, perm], batch8.y)
    a, b = _predict(enc, heads, batch8), _predict(enc, heads, permuted)
    assert torch.allclose(a[0], b[0], atol=1e-4, rtol=1e-4)


def test_flags_are_noops_on_cpu_and_model_copies(batch8):
    plain = PaiNN(hidden=16, num_layers=1)
    flagged = PaiNN(hidden=16, num_layers=1, compile=True, bf16=True)
    flagged.load_state_dict(plain.state_dict())
    assert torch.equal(plain(batch8).h, flagged(batch8).h)
    flagged._compiled = torch.compile(flagged._layers)  # as after a CUDA forward (not run here)
    clone = pickle.loads(pickle.dumps(copy.deepcopy(flagged)))
    assert clone._compiled is None and flagged._compiled is not None
    assert torch.equal(clone(batch8).h, plain(batch8).h)


def test_needs_positions(batch8):
    with pytest.raises(ValueError, match="3D positions"):
        PaiNN(hidden=8, num_layers=1)(MolBatch(batch8.z, None, batch8.mask))


def test_cutoff_limits_interactions():
    # two atoms 6 A apart do not see each other with the 5 A cutoff: same features as alone
    enc = PaiNN(hidden=16, num_layers=2).eval()
    z = torch.tensor([[6, 8]])
    pos = torch.tensor([[[0.0, 0, 0], [6.0, 0, 0]]])
    both = enc(MolBatch(z, pos, torch.ones(1, 2, dtype=torch.bool)))
    alone = enc(MolBatch(z[:, :1], pos[:, :1], torch.ones(1, 1, dtype=torch.bool)))
    assert torch.allclose(both.h[0, 0], alone.h[0, 0], atol=1e-6)
    assert get_target("U0").readout == "sum"


def _reference_painn(enc: PaiNN, batch: MolBatch):
    """PaiNN written directly from the paper's equations (elementwise over all pairs)."""
    z, pos, mask = batch.z, batch.pos, batch.mask
    d, unit, pair = pair_geometry(pos, mask, enc.cutoff)
    rbf = sine_rbf(d, enc.n_rbf, enc.cutoff)
    fcut = cosine_cutoff(d, enc.cutoff) * pair
    s = enc.embedding(z)
    v = s.new_zeros(*s.shape[:2], 3, s.shape[-1])
    m = mask.unsqueeze(-1).float()
    F_ = enc.hidden
    for msg, upd in zip(enc.messages, enc.updates):
        w = msg.filter(rbf) * fcut.unsqueeze(-1)
        x = msg.phi(s).unsqueeze(1) * w
        x_s, x_vv, x_vs = torch.split(x, F_, dim=-1)
        ds = x_s.sum(2)
        dv = (x_vv.unsqueeze(3) * v.unsqueeze(1)).sum(2) + (x_vs.unsqueeze(3) * unit.unsqueeze(-1)).sum(2)
        s, v = s + ds, v + dv
        uv, vv = upd.U(v), upd.V(v)
        a = upd.mlp(torch.cat([s, torch.sqrt((vv * vv).sum(2) + 1e-8)], -1))
        a_vv, a_sv, a_ss = torch.split(a, F_, dim=-1)
        s, v = (s + a_sv * (uv * vv).sum(2) + a_ss) * m, (v + a_vv.unsqueeze(2) * uv) * m.unsqueeze(2)
    return s, v


def test_matches_the_papers_equations(batch8):
    enc = PaiNN(hidden=24, num_layers=3).eval()
    with torch.no_grad():
        for p in enc.parameters():  # larger weights than the default init: every term matters
            p.mul_(1.5)
    feats = enc(batch8)
    with torch.no_grad():
        s_ref, v_ref = _reference_painn(enc, batch8)
    scale = float(s_ref.abs().max())
    assert torch.allclose(feats.h, s_ref, atol=1e-4 * scale, rtol=1e-4)
    assert torch.allclose(feats.vec, v_ref, atol=1e-4 * float(v_ref.abs().max()), rtol=1e-4)
    assert v_ref.abs().max() > 1e-2


@pytest.mark.parametrize("message", list(MESSAGES))
def test_bf16_autocast_path_runs_and_stays_close(batch8, message):
    # the CUDA bf16 path, exercised with CPU autocast: dtypes must mix correctly (bmm, Linear, einsum)
    enc = PaiNN(hidden=32, num_layers=3, message=message).eval()
    with torch.no_grad():
        s32, v32 = enc._layers(batch8.z, batch8.pos, batch8.mask)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            s16, v16 = enc._layers(batch8.z, batch8.pos, batch8.mask)
    assert torch.isfinite(s16.float()).all() and torch.isfinite(v16.float()).all()
    rel = (s16.float() - s32).norm() / s32.norm()
    rel_v = (v16.float() - v32).norm() / v32.norm()
    assert rel < 0.05 and rel_v < 0.05, (float(rel), float(rel_v))


@pytest.mark.parametrize("autocast", [False, True])
@pytest.mark.parametrize("message", list(MESSAGES))
def test_layers_trace_as_one_graph(batch8, message, autocast):
    # what --compile relies on: dynamo captures the whole layer stack (no graph breaks), forward
    # and backward, also under bf16 autocast (--precision bf16-mixed); aot_eager needs no C++
    # compiler, so this runs on CPU
    enc = PaiNN(hidden=16, num_layers=2, message=message)
    compiled = torch.compile(enc._layers, backend="aot_eager", fullgraph=True, dynamic=False)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        s, v = compiled(batch8.z, batch8.pos, batch8.mask)
    (s.float().sum() + v.float().sum()).backward()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        s0, _ = enc._layers(batch8.z, batch8.pos, batch8.mask)
    assert torch.allclose(s.float(), s0.float(), atol=1e-5)
    assert enc.messages[0].filter.weight.grad is not None
    assert enc.embedding.weight.grad[1].abs().sum() > 0 and not enc.embedding.weight.grad[0].any()


@pytest.mark.parametrize("other", [m for m in MESSAGES if m != "bmm"])
@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
def test_message_variants_agree_in_outputs_and_gradients(batch8, other, dtype, tol):
    # the same parameters computed another way (elementwise pair tensors, basis-first sums)
    torch.manual_seed(0)
    bmm = PaiNN(hidden=24, num_layers=3, n_rbf=12, message="bmm").to(dtype)
    with torch.no_grad():
        for p in bmm.parameters():  # larger weights than the default init: every term matters
            p.mul_(1.5)
    variant = PaiNN(hidden=24, num_layers=3, n_rbf=12, message=other).to(dtype)
    variant.load_state_dict(bmm.state_dict())
    pos = batch8.pos.to(dtype)
    results = []
    for enc in (bmm, variant):
        s, v = enc._layers(batch8.z, pos, batch8.mask)
        (s.pow(2).sum() + (v * torch.linspace(-1, 1, 3, dtype=dtype).view(3, 1)).sum()).backward()
        results.append((s.detach(), v.detach(), {n: p.grad for n, p in enc.named_parameters()}))
    (s0, v0, g0), (s1, v1, g1) = results
    assert float(v0.abs().max()) > 1e-2
    torch.testing.assert_close(s1, s0, rtol=tol, atol=tol * float(s0.abs().max()))
    torch.testing.assert_close(v1, v0, rtol=tol, atol=tol * float(v0.abs().max()))
    assert g0.keys() == g1.keys()
    for name in g0:
        torch.testing.assert_close(g1[name], g0[name], rtol=tol, atol=tol * float(g0[name].abs().max()) + tol, msg=name)


def test_unknown_message_variant():
    with pytest.raises(ValueError, match="unknown PaiNN message"):
        PaiNN(message="scatter")


def test_embedding_as_one_hot_product_equals_the_lookup_and_its_gradient():
    torch.manual_seed(0)
    m = PaiNN(hidden=16, num_layers=1)
    z = torch.tensor([[6, 1, 1, 8, 0, 0], [7, 1, 1, 1, 9, 0]])
    s, v = m._embed(z)
    assert torch.equal(s, m.embedding(z)) and s.dtype == torch.float32
    with torch.autocast("cpu", dtype=torch.bfloat16):  # the table's dtype whatever autocast says
        assert torch.equal(m._embed(z)[0], s)
    assert v.shape == (2, 6, 3, 16) and not v.any()
    assert not s[z == 0].any()  # padding atoms start at zero
    g = torch.randn_like(s)
    grad_ours = torch.autograd.grad((s * g).sum(), m.embedding.weight)[0]
    grad_lookup = torch.autograd.grad((m.embedding(z) * g).sum(), m.embedding.weight)[0]
    torch.testing.assert_close(grad_ours, grad_lookup, rtol=0, atol=1e-6)
    assert not grad_ours[0].any()  # the padding row is never trained
