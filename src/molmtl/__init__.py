"""molmtl: multi-task learning for molecular properties, with DFT beside it."""

__version__ = "0.1.0"

__all__ = ["__version__"]
