"""Domain checks and 2D features."""

from __future__ import annotations

import numpy as np
import pytest

from molmtl.chem.features import ATOM_FEATURE_DIM, BOND_FEATURE_DIM, graph_from_smiles
from molmtl.chem.molecule import Molecule
from molmtl.chem.parse import from_smiles
from molmtl.chem.validate import domain_problems, require_supported
from molmtl.errors import UnsupportedMoleculeError


def test_domain_problems():
    assert domain_problems(from_smiles("CCO", embed=False)) == []
    assert "contains Si" in domain_problems(from_smiles("C[Si](C)C", embed=False))[0]
    assert "charge +1" in domain_problems(from_smiles("[NH4+]", embed=False))[0]
    assert "multiplicity 2" in domain_problems(from_smiles("[CH3]", embed=False))[0]
    assert "10 heavy atoms" in domain_problems(from_smiles("CCCCCCCCCC", embed=False))[0]


def test_require_supported():
    require_supported(from_smiles("CCO", embed=False))
    with pytest.raises(UnsupportedMoleculeError, match="contains Cl"):
        require_supported(from_smiles("CCl", embed=False), method="DFT")
    with pytest.raises(UnsupportedMoleculeError, match="only neutral"):
        require_supported(from_smiles("[O-]C", embed=False))
    with pytest.raises(UnsupportedMoleculeError, match="open-shell"):
        require_supported(from_smiles("[CH3]", embed=False))
    odd = Molecule(np.array([1]), np.zeros((1, 3)), multiplicity=1)
    with pytest.raises(UnsupportedMoleculeError, match="cannot have spin multiplicity 1"):
        require_supported(odd)


def test_graph_features_acetic_acid():
    g = graph_from_smiles("CC(=O)O")
    assert g.x.shape == (4, ATOM_FEATURE_DIM) and g.edge_attr.shape == (6, BOND_FEATURE_DIM)
    assert g.edge_index.shape == (2, 6)
    assert g.z.tolist() == [6, 6, 8, 8]
    assert g.x[:, :6].sum(axis=1).tolist() == [1, 1, 1, 1]  # one-hot element
    # the methyl carbon carries three hydrogens: NUM_HS one-hot slot 3
    offset = 6 + 7 + 4
    assert g.x[0, offset + 3] == 1
    double = [i for i in range(6) if g.edge_attr[i, 1] == 1]
    assert len(double) == 2  # C=O in both directions


def test_graph_single_atom_and_aromatic():
    assert graph_from_smiles("C").edge_index.shape == (2, 0)
    g = graph_from_smiles("c1ccccc1")
    assert g.edge_attr[:, 3].all()  # aromatic bonds
