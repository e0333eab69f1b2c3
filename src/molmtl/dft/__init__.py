"""DFT at QM9's level (B3LYP/6-31G(2df,p) as Gaussian 09 defines it) and a GFN2-xTB fast tier.

Public surface: :class:`QM9Protocol` (configure, ``run(molecule)``), :class:`CalculationResult`,
:class:`ResultStore`, :func:`calculate` (through the store) and :func:`run_batch` (Dask fan-out).
They are imported on first use (PEP 562): PySCF and Dask take a while to import, and listing the
results store needs neither.
"""

from molmtl.lazy import lazy_exports

_HOMES = {"QM9Protocol": "protocol", "CalculationResult": "result", "ResultStore": "store", "XTBJob": "jobs",
          "calculate": "jobs", "run_batch": "fanout"}

__all__ = ["QM9Protocol", "CalculationResult", "ResultStore", "XTBJob", "calculate", "run_batch"]

__getattr__, __dir__ = lazy_exports(__name__, _HOMES, __all__)
