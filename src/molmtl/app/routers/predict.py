"""``POST /api/predict``: the network on one molecule, in the request (milliseconds)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from molmtl.app import resolve
from molmtl.app.resources import Resources, get_resources
from molmtl.app.schemas import PredictRequest, Problem, ResultBody
from molmtl.methods.result import in_energy_unit

router = APIRouter(tags=["predict"])


@router.post("/api/predict", response_model=ResultBody, response_model_by_alias=True,
             responses={404: {"model": Problem}, 422: {"description": "a molecule the network cannot take, or a bad body"}},
             summary="The network's 19 properties")
def predict(body: PredictRequest, res: Resources = Depends(get_resources)) -> dict:
    """The multi-task network's properties with units, uncertainty (``uncertainty``: one sigma
    per property where the model has one) and the domain verdict (``extras.domain``, when the
    model gives one), beside QM9's entry when the molecule is in QM9. The body is the result
    schema of ``molmtl predict --json`` (``docs/result-schema.md``)."""
    with res.network_slots:  # parsing embeds a SMILES: as much CPU as the prediction
        mol, _ = resolve.resolve(body.molecule, res, keep=False)
        result = res.network.run(mol)
    return in_energy_unit(result, body.units).to_json()
