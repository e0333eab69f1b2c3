"""QM9's labels as a method: the reference, at no cost (B3LYP/6-31G(2df,p), Gaussian 09;
Ramakrishnan et al., Sci. Data 1, 140022 (2014)), for molecules that are in QM9."""

from __future__ import annotations

import time

from molmtl.chem.molecule import Molecule
from molmtl.data.qm9 import QM9, load_qm9
from molmtl.errors import NotFoundError
from molmtl.methods.base import Method, Progress
from molmtl.methods.reference import qm9_entry
from molmtl.methods.registry import METHODS
from molmtl.methods.result import (
    Geometry,
    MethodResult,
    molecule_summary,
    properties_in_registry_units,
)


@METHODS.register("qm9")
class QM9Labels(Method):
    """QM9's own labels (the reference): free, for the 130,831 molecules QM9 holds."""

    name = "qm9"
    one_fragment = False

    def __init__(self, *, qm9: QM9 | None = None):
        self._qm9 = qm9

    @property
    def level_of_theory(self) -> str:
        return "QM9 labels (B3LYP/6-31G(2df,p), Gaussian 09)"

    def check(self, molecule: Molecule) -> list[str]:
        return []

    def estimate_seconds(self, molecule: Molecule) -> float:
        return 0.0

    def run(self, molecule: Molecule, progress: Progress | None = None) -> MethodResult:
        t0 = time.perf_counter()
        qm9 = self._qm9 if self._qm9 is not None else load_qm9()
        entry = qm9_entry(molecule, qm9)
        if entry is None:
            raise NotFoundError(f"{molecule.name or molecule.smiles or molecule.formula} is not in QM9, so it has no QM9 labels")
        props, units = properties_in_registry_units(entry.labels)
        result = MethodResult(method=self.name, level_of_theory=self.level_of_theory, molecule=molecule_summary(molecule),
                              properties=props, units=units, geometry=Geometry.of(qm9.molecule(entry.row), "QM9 (B3LYP/6-31G(2df,p))"),
                              warnings=entry.notes("the input geometry"), provenance={"qm9_index": entry.index, "match": entry.match},
                              qm9=entry.to_json())
        result.wall_s = time.perf_counter() - t0
        return result


__all__ = ["QM9Labels"]
