"""DFT at QM9's level (B3LYP/6-31G(2df,p) as Gaussian 09 defines it) and a GFN2-xTB fast tier.

Public surface: :class:`QM9Protocol` (configure, ``run(molecule)``), :class:`CalculationResult`,
:class:`ResultStore`, :func:`calculate` (through the store) and :func:`run_batch` (Dask fan-out).
They are imported on first use (PEP 562): PySCF and Dask take a while to import, and listing the
results store needs neither.
"""

from importlib import import_module

_HOMES = {"QM9Protocol": "protocol", "CalculationResult": "result", "ResultStore": "store", "XTBJob": "jobs",
          "calculate": "jobs", "run_batch": "fanout"}

__all__ = ["QM9Protocol", "CalculationResult", "ResultStore", "XTBJob", "calculate", "run_batch"]


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)


def __dir__():
    return sorted(set(globals()) | set(__all__))
