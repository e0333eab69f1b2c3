"""The contract every method keeps.

A method is configured when it is built (its options), then ``run(molecule)`` returns a
:class:`~molmtl.methods.result.MethodResult`. Before it starts, ``check(molecule)`` refuses what
it cannot take with one sentence (geometry sanity from :mod:`molmtl.chem.geometry`, its
elements, charge, spin and size) and ``estimate_seconds(molecule)`` says how long it will take,
so a caller can warn or refuse before a long calculation.
"""

from __future__ import annotations

from collections.abc import Callable

from molmtl.chem.geometry import check_geometry, fragment_note, require_one_fragment
from molmtl.chem.molecule import Molecule
from molmtl.methods.result import MethodResult

#: ``progress(stage, fraction)``: a method reports the stage it enters (``embedding``, ``SCF``,
#: ``optimization step 3``, ``Hessian``...) and, where it knows, how far it is (0..1; None).
Progress = Callable[[str, float | None], None]


def no_progress(stage: str, fraction: float | None = None) -> None:
    """The progress callback that reports nothing."""


class Method:
    """Base class of the methods.

    Attributes:
        name: the registry name (``ml``, ``xtb``, ``dft``, ``qm9``).
        max_atoms: the most atoms the method takes (its documented limit).
        one_fragment: True when a geometry of several fragments is refused (quantum methods).
    """

    name: str = ""
    max_atoms: int | None = None
    one_fragment: bool = True

    @property
    def level_of_theory(self) -> str:  # pragma: no cover - interface
        raise NotImplementedError

    def check(self, molecule: Molecule) -> list[str]:
        """InputError (one sentence) for a molecule the method cannot take; else its warnings."""
        check_geometry(molecule, max_atoms=self.max_atoms, method=self.label)
        if self.one_fragment:
            require_one_fragment(molecule, self.label)
            return []
        note = fragment_note(molecule)
        return [f"{note}: the network predicts them as one molecule"] if note else []

    @property
    def label(self) -> str:
        """The method's name in sentences."""
        return self.level_of_theory

    def estimate_seconds(self, molecule: Molecule) -> float:  # pragma: no cover - interface
        raise NotImplementedError

    def run(self, molecule: Molecule, progress: Progress | None = None) -> MethodResult:  # pragma: no cover
        raise NotImplementedError


__all__ = ["Method", "Progress", "no_progress"]
