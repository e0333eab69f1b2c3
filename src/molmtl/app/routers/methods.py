"""``GET /api/methods``: each method's level of theory, options, limits, typical error and time."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from molmtl.app import catalogue
from molmtl.app.resources import Resources, get_resources
from molmtl.app.schemas import MethodsBody
from molmtl.methods.estimate import TYPICAL
from molmtl.methods.registry import METHODS
from molmtl.targets import TARGETS

router = APIRouter(tags=["methods"])


@router.get("/api/methods", response_model=MethodsBody, summary="The methods and what to expect of them")
def methods(res: Resources = Depends(get_resources)) -> dict:
    """Every registered method: level of theory, whether it answers in the request or runs as a
    job, the options a client may set, its atom limit, and its typical |error| against QM9 and
    wall time in the methods benchmark (``typical``: null where it has not been measured). Also
    the properties, with their units and chemical accuracy."""
    s = res.settings
    body = [catalogue.describe(name, qm9=res.qm9, slots=s.slots_of(name), time_limit_s=s.time_limit_of(name))
            for name in METHODS.names()]
    props = [{"key": t.key, "description": t.description, "unit": t.unit, "display_unit": t.display_unit,
              "chemical_accuracy": t.chemical_accuracy, "is_energy": t.is_energy} for t in TARGETS]
    return {"methods": body, "properties": props,
            "benchmark": f"benchmarks/methods.py ({'molmtl/methods/' + TYPICAL.name if TYPICAL.is_file() else 'not run yet'})"}
