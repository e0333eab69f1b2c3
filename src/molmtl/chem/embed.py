"""3D geometry for a molecule given only as a graph: RDKit ETKDG, then MMFF94.

ETKDG v3 rejects some strained cages that QM9 holds (about 1 molecule in 75 of a random QM9
sample, e.g. ``C1C2OC34COC3C2C14``): its check on tetrahedral centres fails on every attempt.
Those get a fallback: the heavy atoms alone are embedded (ETKDG v3, ETDG and KDG from random
coordinates, three fixed seeds each), hydrogens are placed on them, MMFF94 relaxes each, and the
lowest MMFF energy is kept (without stereo in the SMILES an embedding may pick a strained
diastereomer). Of 4,000 random QM9 molecules 53 failed ETKDG; the fallback placed 33 of them
(``benchmarks/embedding_fallback.py``). Such geometries are poorer inputs than ETKDG's: the shipped
model's U0 MAE on those 33 was 584 meV, against 232 meV on 200 ordinary ETKDG + MMFF geometries
(gap 417 against 235 meV; mu and alpha were no worse), so the molecule carries
:data:`FALLBACK_NOTE`. The first
steps are unchanged, so every molecule the plain recipe embeds keeps its geometry.

Each ETKDG try stops after :data:`ETKDG_MAX_ATTEMPTS` attempts (RDKit's default is 10 per atom,
up to 290 for QM9): a molecule ETKDG rejects spent about 0.26 s in its two failing tries, and
the few such molecules took half of all the ETKDG time. An attempt draws the same random numbers
whatever the cap, so every molecule embedded within the cap keeps its geometry. Of 3,000 random
QM9 molecules 7 (0.23 %) needed more attempts (5 of them now go to the fallback, 2 to the
random-coordinate try), and the ETKDG tries of all 3,000 took 16.8 s instead of 31.3 s
(``benchmarks/embedding_fallback.py --n 3000 --seed 11 --attempts 50 100``; a cap of 100 changes
2 molecules and takes 22.2 s).
"""

from __future__ import annotations

import numpy as np

from molmtl.chem.rdkit_util import quiet_rdkit
from molmtl.errors import InputError

#: Fixed seed so the same SMILES always gets the same geometry.
EMBED_SEED = 0xC0FFEE
#: Attempts of each ETKDG try before it counts as failed (see the module's docstring).
ETKDG_MAX_ATTEMPTS = 50

#: Fallback attempts for molecules ETKDG rejects: (method, seed offset), on heavy atoms, random coordinates.
FALLBACKS = tuple((method, offset) for method in ("ETKDGv3", "ETDG", "KDG") for offset in (0, 1, 2))
#: Bumped when the fallback changes (stores of failures key on it).
FALLBACK_VERSION = 1
#: RDKit molecule property set on fallback geometries, and the warning they carry.
FALLBACK_PROP = "molmtl_embedding_fallback"
FALLBACK_NOTE = ("RDKit's ETKDG rejected this (strained) molecule; its geometry comes from a fallback embedding "
                 "(heavy atoms first, lowest MMFF energy of several): expect larger errors than for other SMILES")


def _params(method: str, seed: int, random_coords: bool, max_attempts: int = 0):
    """RDKit embedding parameters; ``max_attempts`` 0 keeps RDKit's default (10 per atom)."""
    from rdkit.Chem import AllChem  # lazy: RDKit is optional (XYZ-only hosts)

    params = getattr(AllChem, method)()
    params.randomSeed = seed
    params.numThreads = 1
    params.useRandomCoords = random_coords
    params.maxIterations = max_attempts
    return params


def _relax(mol, max_iters: int) -> float | None:
    """MMFF94-relax ``mol`` in place (UFF where MMFF lacks parameters); its final MMFF energy, or None under UFF."""
    from rdkit.Chem import AllChem  # lazy: RDKit is optional (XYZ-only hosts)

    if not AllChem.MMFFHasAllMoleculeParams(mol):
        AllChem.UFFOptimizeMolecule(mol, maxIters=max_iters)
        return None
    field = AllChem.MMFFGetMoleculeForceField(mol, AllChem.MMFFGetMoleculeProperties(mol))
    field.Minimize(maxIts=max_iters)
    return field.CalcEnergy()


def _embed_heavy_atoms(rdmol, seed: int, max_iters: int):
    """Relaxed hydrogen-complete molecule from the lowest-energy heavy-atom embedding (:data:`FALLBACKS`), or None."""
    from rdkit import Chem  # lazy: RDKit is optional (XYZ-only hosts)
    from rdkit.Chem import AllChem  # lazy: RDKit is optional (XYZ-only hosts)

    best, best_energy = None, float("inf")
    for method, offset in FALLBACKS:
        heavy = Chem.Mol(rdmol)
        if AllChem.EmbedMolecule(heavy, _params(method, seed + offset, True)) != 0:
            continue
        mol = Chem.AddHs(heavy, addCoords=True)
        energy = _relax(mol, max_iters)
        energy = float("inf") if energy is None else energy
        if best is None or energy < best_energy:
            best, best_energy = mol, energy
    if best is not None:
        best.SetBoolProp(FALLBACK_PROP, True)
    return best


def embed_rdkit(rdmol, *, seed: int = EMBED_SEED, mmff: bool = True, max_iters: int = 2000):
    """Hydrogen-complete RDKit molecule with one conformer (Angstrom), deterministic for a seed.

    ETKDG v3 places the atoms (from random coordinates if the first try fails); MMFF94 (or UFF
    where MMFF lacks parameters) relaxes them. If both tries fail, the heavy-atom fallback of the
    module's docstring (always relaxed) gives the geometry and sets the :data:`FALLBACK_PROP`
    property; if that fails too, InputError. RDKit's warnings are silenced.
    """
    from rdkit import Chem  # lazy: RDKit is optional (XYZ-only hosts)
    from rdkit.Chem import AllChem  # lazy: RDKit is optional (XYZ-only hosts)

    with quiet_rdkit():
        try:
            mol = Chem.AddHs(rdmol)
            if (AllChem.EmbedMolecule(mol, _params("ETKDGv3", seed, False, ETKDG_MAX_ATTEMPTS)) == 0
                    or AllChem.EmbedMolecule(mol, _params("ETKDGv3", seed, True, ETKDG_MAX_ATTEMPTS)) == 0):
                if mmff and AllChem.MMFFHasAllMoleculeParams(mol):
                    AllChem.MMFFOptimizeMolecule(mol, maxIters=max_iters)
                elif mmff:
                    AllChem.UFFOptimizeMolecule(mol, maxIters=max_iters)
                return mol
            mol = _embed_heavy_atoms(rdmol, seed, max_iters)  # relaxed already: MMFF picks among the attempts
        except (RuntimeError, ValueError) as exc:  # RDKit's C++ checks (e.g. UFF's "Pre-condition Violation")
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise InputError(f"RDKit could not embed {Chem.MolToSmiles(rdmol)} in 3D: {first}") from None
    if mol is None:
        raise InputError(f"RDKit could not embed {Chem.MolToSmiles(rdmol)} in 3D (ETKDG, then "
                         f"{len(FALLBACKS)} heavy-atom attempts)")
    return mol


def rdkit_positions(mol) -> np.ndarray:
    """Positions (Angstrom) of the molecule's first conformer."""
    return np.asarray(mol.GetConformer().GetPositions(), dtype=np.float64)
