"""Shared fixtures for the DFT tests: small molecules, QM9 rows, a temporary store."""

from __future__ import annotations

import numpy as np
import pytest

from molmtl.chem.molecule import Molecule

#: Water near its B3LYP geometry (Angstrom).
WATER = Molecule(atomic_numbers=np.array([8, 1, 1]),
                 positions=np.array([[0.0, 0.0, 0.1173], [0.0, 0.7572, -0.4692], [0.0, -0.7572, -0.4692]]),
                 name="water", smiles="O", source="xyz")


@pytest.fixture
def df_basis() -> dict:
    """STO-3G plus one d and one f shell on O: cheap, yet 6D/7F differs from 5D/7F and 6D/10F."""
    from pyscf import gto

    return {"O": gto.basis.load("sto-3g", "O") + [[2, [1.2, 1.0]], [3, [1.4, 1.0]]], "H": "sto-3g"}


@pytest.fixture
def water() -> Molecule:
    return WATER


@pytest.fixture(scope="session")
def qm9_small(qm9):
    """QM9 ids 1..6 (CH4, NH3, H2O, C2H2, HCN, CH2O) with their labels."""
    ds = qm9
    return {i: (ds.molecule(ds.position_of_index(i)), ds.raw_record(ds.position_of_index(i)),
                ds.extras(ds.position_of_index(i))) for i in range(1, 7)}


@pytest.fixture
def store(tmp_path):
    from molmtl.dft.store import ResultStore

    return ResultStore(tmp_path / "dft.sqlite")
