"""Target registry and unit constants."""

from __future__ import annotations

import pytest

from molmtl import units
from molmtl.targets import (
    LIBMTL_TARGETS,
    TARGET_KEYS,
    TARGETS,
    column_target,
    get_target,
    parse_targets,
)


def test_pyg_order_and_units():
    assert TARGET_KEYS == ("mu", "alpha", "homo", "lumo", "gap", "r2", "zpve", "U0", "U", "H", "G", "cv",
                           "U0_atom", "U_atom", "H_atom", "G_atom", "A", "B", "C")
    assert [t.index for t in TARGETS] == list(range(19))
    assert get_target("U0").unit == "eV" and get_target("U0").display_unit == "meV"
    assert get_target("mu").unit == "D" and get_target("alpha").unit == "bohr^3"
    assert get_target("cv").unit == "cal/(mol K)" and get_target("A").unit == "GHz"


def test_chemical_accuracy_gilmer():
    # Gilmer et al. 2017, Table 2, in the registry's units
    assert get_target("mu").chemical_accuracy == 0.1
    assert get_target("homo").chemical_accuracy == pytest.approx(0.043)
    assert get_target("zpve").chemical_accuracy == pytest.approx(0.0012)
    assert get_target("r2").chemical_accuracy == 1.2
    assert get_target("cv").chemical_accuracy == 0.05
    assert get_target("A").chemical_accuracy is None


def test_conversions():
    assert units.hartree_to_ev(1.0) == 27.211386246
    assert units.ev_to_hartree(units.hartree_to_ev(-40.47893)) == pytest.approx(-40.47893, rel=1e-15)
    assert get_target("U0").to_display(1.0) == 1000.0
    assert units.HARTREE_TO_KCALMOL * units.KCALMOL_TO_EV == pytest.approx(units.HARTREE_TO_EV, rel=1e-6)
    assert units.BOHR_TO_ANGSTROM * units.ANGSTROM_TO_BOHR == pytest.approx(1.0)


def test_parse_targets():
    assert parse_targets("all") == TARGET_KEYS
    assert parse_targets("libmtl") == LIBMTL_TARGETS and len(LIBMTL_TARGETS) == 11
    assert parse_targets("u0, HOMO") == ("U0", "homo")
    with pytest.raises(KeyError, match="unknown target"):
        parse_targets("U0,energy")
    with pytest.raises(ValueError, match="repeat"):
        parse_targets("U0,u0")


def test_column_headers_convert_units():
    t, scale = column_target("homo [meV]")
    assert t.key == "homo" and scale == pytest.approx(1e-3)
    assert column_target("U0 [eV]")[1] == 1.0
    assert column_target("logS")[0].index == -1
    with pytest.raises(ValueError, match="not kcal"):
        column_target("U0 [kcal]")
