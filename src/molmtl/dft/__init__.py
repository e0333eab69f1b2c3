"""DFT at QM9's level (B3LYP/6-31G(2df,p) as Gaussian 09 defines it) and a GFN2-xTB fast tier.

Public surface: :class:`QM9Protocol` (configure, ``run(molecule)``), :class:`CalculationResult`,
:class:`ResultStore`, :func:`calculate` (through the store) and :func:`run_batch` (Dask fan-out).
"""

from molmtl.dft.jobs import XTBJob, calculate
from molmtl.dft.protocol import QM9Protocol
from molmtl.dft.result import CalculationResult
from molmtl.dft.store import ResultStore

__all__ = ["QM9Protocol", "CalculationResult", "ResultStore", "XTBJob", "calculate", "run_batch"]


def __getattr__(name):  # Dask is imported only when a batch runs
    if name == "run_batch":
        from molmtl.dft.fanout import run_batch

        return run_batch
    raise AttributeError(name)
