"""What a user names a molecule by (a file, a QM9 id, a SMILES) -> a Molecule, QM9 ids included."""

from __future__ import annotations

from molmtl.chem.molecule import Molecule
from molmtl.chem.parse import parse_molecule
from molmtl.data.qm9 import QM9, load_qm9


def read_molecule(spec: str, *, embed: bool = True, dataset: QM9 | None = None, charge: int | None = None,
                  multiplicity: int | None = None, largest_fragment: bool = False) -> Molecule:
    """:func:`molmtl.chem.parse.parse_molecule` with QM9 ids (``qm9:14``, ``14``, ``gdb_14``)
    looked up in ``dataset`` (QM9, loaded on demand when None): QM9's own geometry and identity.
    ``charge``, ``multiplicity`` (XYZ files) and ``largest_fragment`` (SMILES) are parse_molecule's."""

    def qm9_molecule(index: int) -> Molecule:
        qm9 = dataset if dataset is not None else load_qm9()
        return qm9.molecule(qm9.position_of_index(index))

    return parse_molecule(spec, embed=embed, qm9_molecule=qm9_molecule, charge=charge, multiplicity=multiplicity,
                          largest_fragment=largest_fragment)


__all__ = ["read_molecule"]
