"""RDKit embedding: the cap on ETKDG's attempts keeps the geometries ETKDG makes within it."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rdkit")

from rdkit import Chem  # noqa: E402
from rdkit.Chem import AllChem  # noqa: E402

from molmtl.chem.embed import (  # noqa: E402
    EMBED_SEED,
    ETKDG_MAX_ATTEMPTS,
    FALLBACK_PROP,
    _params,
    embed_rdkit,
)
from molmtl.chem.rdkit_util import quiet_rdkit  # noqa: E402
from molmtl.data.geometries import embedding_recipe  # noqa: E402

# QM9 molecules: ordinary ones, a strained one ETKDG places after 20-50 attempts, and one it places only
# after more than ETKDG_MAX_ATTEMPTS attempts with RDKit's default (which now takes the fallback)
ORDINARY = ("CCO", "c1ccncc1F", "CC(C)(O)C#N", "N#CC1C2CN1C1CC21")
NEEDS_MANY_ATTEMPTS = "O=C1NC2C3CC2C1O3"


def _uncapped_etkdg(smiles: str) -> np.ndarray | None:
    """Positions from RDKit's own default number of attempts (the recipe before the cap), before MMFF."""
    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    with quiet_rdkit():
        for random_coords in (False, True):
            if AllChem.EmbedMolecule(mol, _params("ETKDGv3", EMBED_SEED, random_coords)) == 0:
                return mol.GetConformer().GetPositions()
    return None


@pytest.mark.parametrize("smiles", ORDINARY)
def test_the_attempt_cap_keeps_the_geometry_of_molecules_embedded_within_it(smiles):
    capped = embed_rdkit(Chem.MolFromSmiles(smiles), mmff=False)
    assert not capped.HasProp(FALLBACK_PROP)
    np.testing.assert_array_equal(capped.GetConformer().GetPositions(), _uncapped_etkdg(smiles))


def test_a_molecule_that_needs_more_attempts_than_the_cap_gets_the_fallback():
    assert _uncapped_etkdg(NEEDS_MANY_ATTEMPTS) is not None  # RDKit's default places it, late
    mol = embed_rdkit(Chem.MolFromSmiles(NEEDS_MANY_ATTEMPTS))
    assert mol.HasProp(FALLBACK_PROP)
    pos = mol.GetConformer().GetPositions()
    assert np.isfinite(pos).all() and mol.GetNumAtoms() == 16  # C6H7NO2
    d = np.linalg.norm(pos[:, None] - pos[None], axis=-1) + 10 * np.eye(len(pos))
    assert d.min() > 0.9  # no two atoms on top of each other (C-H is about 1.09 A)


def test_the_stored_geometries_key_names_the_cap():
    assert f"attempts={ETKDG_MAX_ATTEMPTS}" in embedding_recipe()
