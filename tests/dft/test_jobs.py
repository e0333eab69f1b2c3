"""One calculation through the store; bad input gives a clear error and a failed row."""

from __future__ import annotations

import numpy as np
import pytest

from molmtl.chem.molecule import Molecule
from molmtl.dft.jobs import calculate
from molmtl.dft.protocol import QM9Protocol
from molmtl.errors import CalculationError, InputError, UnsupportedMoleculeError

CHEAP = dict(basis="sto-3g", convention="spherical", optimize=False, thermo=False, polarizability=False,
             grid=(40, 110), device="cpu")


def test_cache_hit_on_rerun(store, water):
    proto = QM9Protocol(**CHEAP)
    key, res, cached = calculate(water, proto, store)
    assert not cached and store.get(key).status == "done"
    assert set(res.properties) >= {"homo", "lumo", "gap", "mu", "r2", "A", "B", "C"}
    assert res.properties["homo"] == pytest.approx(res.raw["homo"] * 27.211386246)  # eV
    key2, res2, cached2 = calculate(water, proto, store)
    assert cached2 and key2 == key and res2.raw == res.raw


@pytest.mark.parametrize("mol, error", [
    (Molecule(np.array([11, 17]), np.array([[0, 0, 0], [0, 0, 2.4]]), name="NaCl"), UnsupportedMoleculeError),
    (Molecule(np.array([8, 1]), np.array([[0, 0, 0], [0, 0, 0.97]]), charge=-1, name="OH-"), UnsupportedMoleculeError),
    (Molecule(np.array([8, 1]), np.array([[0, 0, 0], [0, 0, 0.97]]), multiplicity=2, name="OH"), UnsupportedMoleculeError),
])
def test_unsupported_molecules_fail_with_a_row(store, mol, error):
    with pytest.raises(error) as info:
        calculate(mol, QM9Protocol(**CHEAP), store)
    assert str(info.value).count(".") <= 1  # one sentence
    (rec,) = store.records("failed")
    assert rec.error == str(info.value)


def test_scf_non_convergence_is_a_failed_row(store, water):
    proto = QM9Protocol(**{**CHEAP, "max_cycle": 2})
    with pytest.raises(CalculationError, match="SCF did not converge"):
        calculate(water, proto, store)
    assert store.records("failed")[0].error == "SCF did not converge in 2 cycles"


def test_bad_settings_are_input_errors():
    with pytest.raises(InputError):
        QM9Protocol(convention="5d")
    with pytest.raises(InputError):
        QM9Protocol(device="tpu")
