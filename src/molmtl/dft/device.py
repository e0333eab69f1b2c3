"""Where the DFT runs: ``cpu`` (PySCF) or ``gpu`` (GPU4PySCF, optional extra ``molmtl[gpu]``)."""

from __future__ import annotations

import logging

from molmtl.errors import InputError

log = logging.getLogger(__name__)


def gpu_available() -> bool:
    """True when GPU4PySCF imports and CUDA sees at least one device."""
    try:
        import cupy  # lazy: optional GPU packages; a failed import means no GPU
        import gpu4pyscf  # noqa: F401  # lazy: optional GPU packages; a failed import means no GPU

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # ImportError, CUDA driver errors: no usable GPU
        return False


def resolve_device(device: str) -> str:
    """``auto`` -> ``gpu`` if available else ``cpu``; ``gpu`` without a GPU is an InputError."""
    if device == "cpu":
        return "cpu"
    if device == "auto":
        return "gpu" if gpu_available() else "cpu"
    if device == "gpu":
        if not gpu_available():
            raise InputError("--device gpu needs GPU4PySCF (pip install molmtl[gpu]) and a visible CUDA GPU")
        return "gpu"
    raise InputError(f"device {device!r} is not one of auto, cpu, gpu")
