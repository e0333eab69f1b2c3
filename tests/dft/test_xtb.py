"""GFN2-xTB fast tier (tblite)."""

from __future__ import annotations

import numpy as np

from molmtl.dft import xtb


def test_singlepoint_and_optimization(water):
    sp = xtb.singlepoint(water.atomic_numbers, water.positions_bohr)
    assert -5.2 < sp["energy"] < -4.9  # GFN2-xTB water: about -5.07 Hartree
    opt = xtb.optimize(water)
    d = np.linalg.norm(opt.positions[1] - opt.positions[0])
    assert 0.94 < d < 0.98  # O-H bond (Angstrom)
    assert xtb.singlepoint(opt.atomic_numbers, opt.positions_bohr)["energy"] <= sp["energy"] + 1e-8


def test_run_xtb_is_labelled_and_has_three_frequencies(water):
    res = xtb.run_xtb(water)
    assert res.method == "GFN2-xTB" and res.warnings and "different level of theory" in res.warnings[0]
    assert len(res.frequencies_cm1) == 3 and res.n_imaginary == 0
    assert 1400 < min(res.frequencies_cm1) < 1700 and max(res.frequencies_cm1) < 4000
    assert "U0_atom" not in res.properties and res.properties["zpve"] > 0
