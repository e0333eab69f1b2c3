"""``POST /api/compare``: several methods side by side on one molecule, as ``molmtl compare --json``."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from fastapi.responses import PlainTextResponse

from molmtl.app import resolve
from molmtl.app.comparing import compare_body
from molmtl.app.resources import Resources, get_resources
from molmtl.app.schemas import CompareBody, CompareRequest, Problem

router = APIRouter(tags=["compare"])


@router.post("/api/compare", response_model=CompareBody,
             responses={200: {"content": {"text/csv": {}}, "description": "the comparison (JSON, or CSV with format=csv)"},
                        404: {"model": Problem}, 422: {"description": "a molecule that cannot be read, or a bad body"},
                        429: {"model": Problem, "description": "the queue is full (see Retry-After)"}},
             summary="Methods side by side")
def compare_methods(body: CompareRequest, format: str = Query("json", pattern="^(json|csv)$"),
                    res: Resources = Depends(get_resources)):
    """The network and QM9's labels now; xTB and DFT from their jobs (started with ``submit``,
    else only looked up): values +- sigma, the reference (QM9's label when the molecule is in QM9,
    else DFT's values), |error| per method, wall times and estimates, failures with reasons, the
    jobs still running (``pending``) and chemical accuracy per property (for colouring errors).
    ``format=csv``: the table as ``molmtl compare --csv`` writes it."""
    mol, molecule_id = resolve.resolve(body.molecule, res)
    out, comparison = compare_body(mol, molecule_id, body.methods, res, reference=body.reference, unit=body.units,
                       submit_jobs=body.submit)
    if format == "csv":
        return PlainTextResponse(comparison.to_csv(), media_type="text/csv",
                                 headers={"Content-Disposition": f'attachment; filename="molmtl-{molecule_id}.csv"'})
    return out
