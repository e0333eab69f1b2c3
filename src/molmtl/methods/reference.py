"""QM9's entry for a molecule, and whether a geometry is QM9's conformer.

Wherever a result is set beside QM9's label (predict, compare, dft run), the label is QM9's for
*its* geometry: B3LYP's minimum that QM9 found. A user's XYZ file (or an RDKit embedding, or a
DFT optimization from one) may sit in another conformer with other orbital energies and dipole.
:func:`qm9_entry` finds the molecule (by QM9 id, else by InChIKey or SMILES) and compares the
geometries: the all-atom RMSD after the best alignment over the molecule's symmetry-equivalent
atom orders (RDKit's ``GetBestRMS`` on bonds perceived from the coordinates).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from molmtl.chem.molecule import Molecule
from molmtl.chem.rdkit_util import quiet_rdkit
from molmtl.data.qm9 import QM9
from molmtl.targets import TARGET_KEYS

#: Above this all-atom RMSD (Angstrom) a geometry counts as another conformer than QM9's. The same
#: conformer from MMFF or GFN2-xTB sits 0.05-0.2 Angstrom from B3LYP's; ethanol's gauche and trans
#: conformers (the OH hydrogen turned) are 0.4 apart.
SAME_CONFORMER_RMSD_ANGSTROM = 0.3
#: Symmetry-equivalent atom orders tried at most (molecules with many methyl groups have millions).
_MAX_MATCHES = 2000


@dataclass
class QM9Entry:
    """Where a molecule is in QM9.

    Attributes:
        row: its row in the loaded QM9; index: QM9's own id.
        match: how it was found (``QM9 id``, ``InChIKey``, ``canonical SMILES``, ``SMILES without stereo``).
        rmsd_angstrom: all-atom RMSD between the given geometry and QM9's (None without a geometry
            or where bonds could not be perceived); same_conformer: RMSD below the threshold.
        others: QM9 ids of other entries with the same identity (stereoisomers).
        labels: QM9's 19 values in the registry's units.
    """

    row: int
    index: int
    match: str
    rmsd_angstrom: float | None
    same_conformer: bool | None
    others: list[int]
    labels: dict[str, float]

    def to_json(self, split_part: str | None = None) -> dict:
        body = {"index": self.index, "match": self.match, "rmsd_angstrom": self.rmsd_angstrom,
                "same_conformer": self.same_conformer, "other_entries": self.others, "labels": self.labels}
        if split_part is not None:
            body["split_part"] = split_part
        return body

    def notes(self, geometry_from: str = "this geometry") -> list[str]:
        """Sentences for a result set beside these labels."""
        out = []
        if self.same_conformer is False:
            out.append(f"{geometry_from} is another conformer than QM9's (all-atom RMSD {self.rmsd_angstrom:.2f} "
                       f"Angstrom): QM9's labels are for QM9 {self.index}'s own conformer")
        if self.others:
            out.append(f"other QM9 entries share this molecule's identity (stereoisomers): "
                       f"{', '.join(map(str, self.others[:3]))}")
        return out


def geometry_rmsd(a: Molecule, b: Molecule) -> float | None:
    """All-atom RMSD (Angstrom) of two geometries of one molecule after the best alignment over
    symmetry-equivalent atom orders; None if bonds cannot be perceived or the graphs differ."""
    if a.positions is None or b.positions is None or a.n_atoms != b.n_atoms:
        return None
    if sorted(a.atomic_numbers.tolist()) != sorted(b.atomic_numbers.tolist()):
        return None
    try:
        from rdkit import Chem  # lazy: RDKit is optional (XYZ-only hosts)
        from rdkit.Chem import rdDetermineBonds, rdMolAlign  # lazy: as above
    except ImportError:
        return None
    with quiet_rdkit():
        try:
            mols = []
            for m in (a, b):
                rd = Chem.MolFromXYZBlock(m.to_xyz(comment=""))
                rdDetermineBonds.DetermineConnectivity(rd)
                mols.append(rd)
            return float(rdMolAlign.GetBestRMS(mols[0], mols[1], maxMatches=_MAX_MATCHES))
        except (RuntimeError, ValueError):  # no mapping between the perceived graphs
            return None


def qm9_entry(molecule: Molecule, qm9: QM9, *, compare_geometry: bool = True) -> QM9Entry | None:
    """QM9's entry for ``molecule`` (None when it is not in QM9), with the geometry comparison."""
    rows, how = qm9.find_how(molecule)
    if not rows:
        return None
    row = int(rows[0])
    ref = qm9.molecule(row)
    rmsd = None
    if molecule.qm9_index is not None and molecule.positions is not None \
            and np.array_equal(molecule.positions, ref.positions):
        rmsd = 0.0
    elif compare_geometry:
        rmsd = geometry_rmsd(molecule, ref)
    same = None if rmsd is None else rmsd < SAME_CONFORMER_RMSD_ANGSTROM
    labels = {k: float(qm9.targets[row, j]) for j, k in enumerate(TARGET_KEYS)}
    return QM9Entry(row, int(qm9.qm9_index[row]), how, rmsd, same, [int(qm9.qm9_index[r]) for r in rows[1:]], labels)


__all__ = ["QM9Entry", "qm9_entry", "geometry_rmsd", "SAME_CONFORMER_RMSD_ANGSTROM"]
