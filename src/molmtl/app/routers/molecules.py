"""Molecules: ``POST /api/molecule`` (parse, depict, match QM9), ``GET /api/molecule/{id}``,
``POST /api/estimate`` (each method's time before it runs) and ``GET /api/qm9/random``."""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter, Depends, Path, Query

from molmtl.app import resolve
from molmtl.app.resources import Resources, get_resources
from molmtl.app.schemas import (
    EstimateRequest,
    MethodCheck,
    MoleculeInfo,
    MoleculeSpec,
    Problem,
    Qm9Pick,
)
from molmtl.app.stored import molecule_from_json
from molmtl.errors import NotFoundError

router = APIRouter(tags=["molecules"])
ERRORS = {404: {"model": Problem}, 422: {"description": "a molecule that cannot be read, or a bad body"}}


@router.post("/api/molecule", response_model=MoleculeInfo, responses=ERRORS, summary="Read a molecule")
def read_molecule(spec: MoleculeSpec, res: Resources = Depends(get_resources)) -> dict:
    """A SMILES, QM9 id or name (``query``), an XYZ or SDF text block, or a stored ``id`` -> its id
    (for page URLs and jobs), canonical SMILES, formula, QM9 entry, RDKit's 2D depiction (SVG),
    3D geometry (XYZ) and, per method, the estimated time or why it refuses the molecule."""
    mol, key = resolve.resolve(spec, res)
    return resolve.info(mol, key, res)


@router.get("/api/molecule/{molecule_id}", response_model=MoleculeInfo, responses=ERRORS, summary="A stored molecule")
def stored_molecule(molecule_id: str = Path(..., pattern=r"^[0-9a-f]{16}$"), res: Resources = Depends(get_resources)) -> dict:
    """The molecule stored under ``molecule_id`` (as ``POST /api/molecule`` describes it)."""
    body = res.jobs.get_molecule(molecule_id)
    if body is None:
        raise NotFoundError(f"no molecule {molecule_id} on this server")
    return resolve.info(molecule_from_json(body), molecule_id, res)


@router.post("/api/estimate", response_model=dict[str, MethodCheck], responses=ERRORS, summary="Times before running")
def estimate(body: EstimateRequest, res: Resources = Depends(get_resources)) -> dict:
    """Per method (with its options): the estimated seconds on this server, or why it refuses the molecule."""
    mol, _ = resolve.resolve(body.molecule, res, keep=False)
    return resolve.method_checks(mol, res, body.methods)


@router.get("/api/qm9/random", response_model=Qm9Pick, summary="A random molecule of QM9's test split")
def random_qm9(seed: int | None = Query(None, ge=0, le=2**32 - 1, description="for a repeatable pick"),
               res: Resources = Depends(get_resources)) -> dict:
    """A molecule from the standard split's test part (10,831 molecules the network never trained on)."""
    rng = np.random.default_rng(seed)
    row = int(res.test_rows[rng.integers(len(res.test_rows))])
    index = int(res.qm9.qm9_index[row])
    return {"index": index, "smiles": res.qm9.canonical_smiles[row], "query": f"qm9:{index}", "split_part": "test"}
