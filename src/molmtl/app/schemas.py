"""Request and response bodies (Pydantic): they validate what clients send (a bad body is a 422
naming the field) and they are the OpenAPI schema at ``/openapi.json``.

Results keep the one result schema of the CLI's ``--json`` (``docs/result-schema.md``):
:class:`ResultBody` lists its keys, and the bodies allow keys added later.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from molmtl.methods.result import ENERGY_UNITS

EnergyUnit = Literal["meV", "eV", "Hartree"]
Reference = Literal["auto", "qm9", "dft", "none"]
#: A method option's value as JSON gives it.
OptionValue = bool | int | float | str
Options = dict[str, OptionValue]

#: The largest XYZ or SDF text block (characters); the whole body is capped at 1 MB.
MAX_BLOCK_CHARS = 900_000
assert set(ENERGY_UNITS) == {"meV", "eV", "Hartree"}  # EnergyUnit spells them out for the schema


class MoleculeSpec(BaseModel):
    """A molecule: exactly one of ``query`` (a SMILES, a QM9 id such as ``qm9:14``, or a common
    name), ``xyz`` or ``sdf`` (the text of such a file), or ``id`` (a molecule this server stored)."""

    model_config = ConfigDict(extra="forbid")

    query: str | None = Field(None, max_length=500, description="SMILES, QM9 id (qm9:14) or a common name (ethanol)",
                              examples=["Fc1cccnc1", "qm9:14"])
    xyz: str | None = Field(None, max_length=MAX_BLOCK_CHARS, description="the text of an XYZ file (Angstrom)")
    sdf: str | None = Field(None, max_length=MAX_BLOCK_CHARS, description="the text of an SDF/MOL file (its first record)")
    id: str | None = Field(None, pattern=r"^[0-9a-f]{16}$", description="the id POST /api/molecule gave")
    name: str | None = Field(None, max_length=100, description="a label for an XYZ or SDF molecule")
    charge: int | None = Field(None, ge=-8, le=8, description="total charge of an XYZ molecule (default 0)")
    multiplicity: int | None = Field(None, ge=1, le=9, description="spin multiplicity of an XYZ molecule "
                                                                   "(default: the lowest its electrons allow)")
    largest_fragment: bool = Field(False, description="a SMILES of several fragments: keep the largest")

    @model_validator(mode="after")
    def _one_source(self):
        given = [k for k in ("query", "xyz", "sdf", "id") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of query, xyz, sdf or id" + (f" (got {', '.join(given)})" if given else ""))
        if (self.charge is not None or self.multiplicity is not None) and self.xyz is None:
            raise ValueError("charge and multiplicity are for xyz input (SMILES, SDF and QM9 carry their own)")
        return self


class PredictRequest(BaseModel):
    """The network on one molecule, answered in the request."""

    model_config = ConfigDict(extra="forbid")

    molecule: MoleculeSpec
    units: EnergyUnit = Field("eV", description="the unit of every energy in the answer")


class JobRequest(BaseModel):
    """One method that runs as a job (``xtb``, ``dft``) on one molecule."""

    model_config = ConfigDict(extra="forbid")

    molecule: MoleculeSpec
    method: str = Field(..., max_length=40, examples=["xtb"])
    options: Options = Field(default_factory=dict, max_length=20, examples=[{"optimize": False}])


class CompareRequest(BaseModel):
    """Several methods side by side; job methods are started (``submit``) or only looked up."""

    model_config = ConfigDict(extra="forbid")

    molecule: MoleculeSpec
    methods: dict[str, Options] = Field(..., min_length=1, max_length=8, examples=[{"ml": {}, "xtb": {"optimize": False}}])
    reference: Reference = "auto"
    units: EnergyUnit = "eV"
    submit: bool = Field(True, description="start the jobs not yet run (false: report what exists)")


class EstimateRequest(BaseModel):
    """Each method's estimated time (and whether it takes the molecule), before anything runs."""

    model_config = ConfigDict(extra="forbid")

    molecule: MoleculeSpec
    methods: dict[str, Options] = Field(..., min_length=1, max_length=8)


# ---------------------------------------------------------------------- responses
class Open(BaseModel):
    """A body that may carry keys added after this schema was written."""

    model_config = ConfigDict(extra="allow")


class ResultBody(Open):
    """One method's result: the schema of ``docs/result-schema.md`` (``molmtl.result``, version 1)."""

    schema_: str = Field("molmtl.result", alias="schema")
    schema_version: int
    method: str
    level_of_theory: str
    molecule: dict[str, Any]
    properties: dict[str, float | None]
    units: dict[str, str]
    uncertainty: dict[str, float | None] = {}
    geometry: dict[str, Any] | None = None
    timings_s: dict[str, float] = {}
    wall_s: float
    warnings: list[str] = []
    provenance: dict[str, Any] = {}
    extras: dict[str, Any] = {}
    qm9: dict[str, Any] | None = None


class MethodCheck(Open):
    estimate_s: float | None = Field(None, description="estimated seconds on this server (None: not measured)")
    refused: str | None = Field(None, description="why the method does not take the molecule")
    runs_as: Literal["request", "job"]


class MoleculeInfo(Open):
    """A parsed molecule: identity, QM9 entry, depiction, geometry, and what each method would do."""

    id: str
    name: str | None
    smiles: str | None
    formula: str
    n_atoms: int
    charge: int
    multiplicity: int
    input: str
    qm9: dict[str, Any] | None
    svg: str | None = Field(None, description="RDKit's 2D depiction (SVG text)")
    xyz: str = Field(..., description="the 3D geometry as XYZ text (Angstrom)")
    geometry_source: str
    warnings: list[str]
    methods: dict[str, MethodCheck]


class JobBody(Open):
    id: str
    method: str
    options: dict[str, Any]
    molecule_id: str
    molecule: dict[str, Any]
    status: Literal["queued", "running", "done", "failed", "cancelled", "interrupted"]
    stage: str | None
    fraction: float | None
    estimate_s: float | None
    elapsed_s: float | None
    time_limit_s: float | None
    attempts: int
    error: str | None
    cached: bool
    created: float
    started: float | None
    finished: float | None
    result: ResultBody | None
    queue_position: int | None = None
    links: dict[str, str]


class CompareBody(Open):
    """``molmtl compare --json``'s body, with the jobs behind it and what is still running."""

    molecule: dict[str, Any]
    molecule_id: str
    energy_unit: str
    reference: dict[str, Any]
    methods: dict[str, dict[str, Any]]
    failures: dict[str, str]
    estimates_s: dict[str, float]
    typical: dict[str, Any]
    jobs: dict[str, JobBody]
    pending: list[str]
    chemical_accuracy: dict[str, float]


class MethodInfo(Open):
    name: str
    summary: str
    level_of_theory: str
    runs_as: Literal["request", "job"]
    max_atoms: int | None
    options: list[dict[str, Any]]
    typical: dict[str, Any] | None
    slots: int | None
    time_limit_s: float | None


class MethodsBody(Open):
    methods: list[MethodInfo]
    properties: list[dict[str, Any]]
    benchmark: str


class Health(Open):
    status: Literal["ok", "degraded"]
    version: str
    qm9_molecules: int
    workers: int
    jobs: dict[str, int]
    queue_limit: int
    uptime_s: float


class Qm9Pick(Open):
    index: int
    smiles: str
    query: str
    split_part: str


class Problem(BaseModel):
    """An error: one sentence."""

    detail: str


__all__ = ["MoleculeSpec", "PredictRequest", "JobRequest", "CompareRequest", "EstimateRequest", "ResultBody",
           "MoleculeInfo", "MethodCheck", "JobBody", "CompareBody", "MethodInfo", "MethodsBody", "Health", "Qm9Pick",
           "Problem", "EnergyUnit", "Reference", "Options"]
