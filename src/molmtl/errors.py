"""Exceptions that carry a message meant for the user.

The CLI prints ``str(error)`` as one sentence and exits with code 2; library callers catch the
class they care about. Everything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class MolmtlError(Exception):
    """Base class: an error whose message is written for the user."""


class InputError(MolmtlError, ValueError):
    """Bad user input: an unparsable molecule, a malformed file, a wrong option value."""


class UnsupportedMoleculeError(InputError):
    """A valid molecule that a method cannot handle (element, charge, spin, size)."""


class NotFoundError(MolmtlError, LookupError):
    """A record, file or model that does not exist."""


class CalculationError(MolmtlError, RuntimeError):
    """A calculation that ran but failed (e.g. SCF not converged)."""
