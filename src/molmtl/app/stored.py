"""A molecule as the web job store keeps it: JSON, and a key of its identity and geometry.

Kept apart from ``molecules.py`` (parsing: RDKit, the network's limits) so that a Dask worker
that runs a job imports neither torch nor the network to read its molecule back.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np

from molmtl.chem.molecule import Molecule


def molecule_to_json(mol: Molecule) -> dict[str, Any]:
    """A JSON-ready dict that :func:`molecule_from_json` turns back into the same Molecule."""
    return {"atomic_numbers": [int(z) for z in mol.atomic_numbers],
            "positions_angstrom": None if mol.positions is None else [[float(c) for c in p] for p in mol.positions],
            "smiles": mol.smiles, "charge": int(mol.charge), "multiplicity": int(mol.multiplicity), "name": mol.name,
            "qm9_index": mol.qm9_index, "source": mol.source, "warnings": list(mol.warnings)}


def molecule_from_json(body: dict[str, Any]) -> Molecule:
    pos = body.get("positions_angstrom")
    return Molecule(np.asarray(body["atomic_numbers"], dtype=np.int64), None if pos is None else np.asarray(pos, float),
                    smiles=body.get("smiles"), charge=int(body.get("charge", 0)),
                    multiplicity=int(body.get("multiplicity", 1)), name=body.get("name"),
                    qm9_index=body.get("qm9_index"), source=body.get("source", "unknown"),
                    warnings=tuple(body.get("warnings", ())))


def molecule_key(mol: Molecule) -> str:
    """16 hex digits of SHA-256 over the identity and geometry (rounded to 1e-6 Angstrom)."""
    pos = None if mol.positions is None else (np.round(np.asarray(mol.positions, float), 6) + 0.0).tolist()
    ident = {"z": [int(z) for z in mol.atomic_numbers], "pos": pos, "charge": int(mol.charge),
             "mult": int(mol.multiplicity), "smiles": mol.smiles, "qm9": mol.qm9_index, "source": mol.source}
    return hashlib.sha256(json.dumps(ident, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]



__all__ = ["molecule_to_json", "molecule_from_json", "molecule_key"]
