"""Task heads: readouts (sum, mean, dipole, Set2Set), offsets, padding."""

from __future__ import annotations

import pytest
import torch

from molmtl.errors import InputError
from molmtl.models.base import AtomFeatures
from molmtl.models.heads import DenseSet2Set, TaskHead, make_head
from molmtl.targets import TARGETS, get_target


def _feats(B=3, N=5, F=8, pos=True, vec=False):
    g = torch.Generator().manual_seed(0)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], dtype=torch.bool)[:B, :N]
    h = torch.randn(B, N, F, generator=g)
    z = torch.where(mask, torch.tensor([6, 1, 8, 1, 7])[:N], 0)
    return AtomFeatures(h=h, mask=mask, z=z, pos=torch.randn(B, N, 3, generator=g) if pos else None,
                        vec=torch.randn(B, N, 3, F, generator=g) if vec else None)


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.key)
def test_every_target_gives_one_number_per_molecule(target):
    head = make_head(target, 8)
    out = head(_feats(vec=True))
    assert out.shape == (3,) and torch.isfinite(out).all()


def test_sum_and_mean_readouts_ignore_padding():
    f = _feats(pos=False)
    garbage = AtomFeatures(h=f.h.masked_fill(~f.mask.unsqueeze(-1), 1e3), mask=f.mask, z=f.z)
    for key in ("U0", "homo"):
        head = make_head(get_target(key), 8)
        assert torch.allclose(head(f), head(garbage))
    sum_head, mean_head = make_head(get_target("U0"), 8), make_head(get_target("homo"), 8)
    mean_head.load_state_dict({k: v for k, v in sum_head.state_dict().items() if not k.startswith("offsets")})
    per_atom = sum_head.atom_outputs(f)
    assert torch.allclose(sum_head(f), per_atom.sum(1))
    assert torch.allclose(mean_head(f), per_atom.sum(1) / f.mask.sum(1))


def test_element_offsets_add_per_atom():
    f = _feats(pos=False)
    head = make_head(get_target("U0"), 8)
    base = head(f)
    with torch.no_grad():
        head.offsets.weight[1] = 2.0  # +2 per hydrogen
    n_h = ((f.z == 1) & f.mask).sum(1)
    assert torch.allclose(head(f) - base, 2.0 * n_h.float())
    assert make_head(get_target("homo"), 8).offsets is None


def test_dipole_is_neutral_translation_invariant_and_falls_back():
    f = _feats(vec=True)
    head = make_head(get_target("mu"), 8)
    moved = AtomFeatures(f.h, f.mask, f.z, f.pos + torch.tensor([5.0, -1.0, 2.0]), f.vec)
    assert torch.allclose(head(f), head(moved), atol=1e-4)
    no_vec = AtomFeatures(f.h, f.mask, f.z, f.pos, None)
    assert head(no_vec)[2] < 1e-5  # one atom: its neutral charge is 0, so no dipole without vectors
    q = head.atom_outputs(no_vec)
    q = (q - q.sum(1, keepdim=True) / f.mask.sum(1, keepdim=True)) * f.mask
    expected = torch.linalg.norm((q.unsqueeze(-1) * f.pos).sum(1), dim=-1)
    assert torch.allclose(head(no_vec), expected, atol=1e-5)
    assert (head(f) >= 0).all()
    flat = AtomFeatures(f.h, f.mask, f.z, None, None)
    assert torch.allclose(head(flat), head.atom_outputs(flat).sum(1) + head.bias)


def test_set2set_head_shape_and_padding():
    f = _feats(pos=False)
    head = make_head(get_target("U0"), 8, set2set=True)
    assert isinstance(head.set2set, DenseSet2Set)
    garbage = AtomFeatures(h=f.h.masked_fill(~f.mask.unsqueeze(-1), 1e3), mask=f.mask, z=f.z)
    assert head(f).shape == (3,)
    assert torch.allclose(head(f), head(garbage), atol=1e-5)


def test_head_is_a_module_with_reset():
    head = make_head(get_target("U0"), 8)
    assert isinstance(head, TaskHead)
    with torch.no_grad():
        head.offsets.weight.fill_(1.0)
    head.reset_parameters()
    assert (head.offsets.weight == 0).all()


def test_a_faded_dipole_bias_is_zero_for_a_zero_vector_and_whole_for_large_ones():
    from molmtl.models.heads import biased_norm

    norm = torch.tensor([0.0, 0.01, 10.0])
    out = biased_norm(norm, torch.tensor(0.3), 0.1)
    assert out[0] == 0.0 and out[1] == pytest.approx(0.01 + 0.3 * 1e-4 / (1e-4 + 1e-2), rel=1e-5)
    assert out[2] == pytest.approx(10.3, rel=1e-3)
    torch.testing.assert_close(biased_norm(norm, torch.tensor(0.3), 0.0), norm + 0.3)
    with pytest.raises(InputError, match="dipole_bias_width"):
        make_head(get_target("mu"), 8, dipole_bias=True, dipole_bias_width=-1)
