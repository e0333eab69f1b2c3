"""Per-property uncertainty (sigma) of a trained model, calibrated on its validation part.

A :class:`Calibration` (stored in the model file under ``"uncertainty"``) gives each molecule a
sigma per property in the property's unit from its embedding; :func:`calibration_of` reads it
off a loaded model, :func:`calibrate` fits one for a model file and reports on the test part,
:func:`write_calibration` stores it, :func:`latent_verdict` is the latent-distance part of a
domain verdict. Methods, numbers and limits: ``docs/uncertainty.md``.

The names are imported on first use (PEP 562): a prediction that reads a calibration imports
numpy and torch only, not the fitting code or matplotlib.
"""

from molmtl.lazy import lazy_exports

_HOMES = {
    "Calibration": "calibration", "calibration_of": "calibration", "METHOD_FEATURES": "calibration",
    "calibrate": "calibrate", "fit_calibration": "calibrate", "calibrate_after_training": "calibrate",
    "DEFAULT_METHOD": "calibrate", "write_calibration": "store", "latent_verdict": "domain",
    "write_report": "report", "calibration_report": "report", "split_outputs": "data",
}

__all__ = list(_HOMES)

__getattr__, __dir__ = lazy_exports(__name__, _HOMES, __all__)
