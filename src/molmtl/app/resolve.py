"""A request's molecule -> (Molecule, id), and what ``POST /api/molecule`` says about it."""

from __future__ import annotations

from typing import Any

from molmtl.app import catalogue
from molmtl.app.molecules import (
    depiction_svg,
    molecule_from_query,
    molecule_from_sdf,
    molecule_from_xyz,
)
from molmtl.app.resources import Resources
from molmtl.app.schemas import MoleculeSpec
from molmtl.app.stored import molecule_from_json, molecule_key, molecule_to_json
from molmtl.chem.molecule import Molecule
from molmtl.errors import MolmtlError, NotFoundError
from molmtl.methods.ml import GEOMETRY_SOURCES, split_part
from molmtl.methods.ml import load as load_model
from molmtl.methods.reference import qm9_entry
from molmtl.methods.registry import METHODS


def parse(spec: MoleculeSpec, res: Resources) -> Molecule:
    """The molecule ``spec`` gives (InputError, one sentence, when it cannot be read)."""
    if spec.id is not None:
        stored = res.jobs.get_molecule(spec.id)
        if stored is None:
            raise NotFoundError(f"no molecule {spec.id} on this server (POST /api/molecule gives ids)")
        return molecule_from_json(stored)
    if spec.query is not None:
        return molecule_from_query(spec.query, res.qm9, largest_fragment=spec.largest_fragment)
    if spec.xyz is not None:
        return molecule_from_xyz(spec.xyz, name=spec.name, charge=spec.charge, multiplicity=spec.multiplicity)
    return molecule_from_sdf(spec.sdf, name=spec.name)


def resolve(spec: MoleculeSpec, res: Resources, *, keep: bool = True) -> tuple[Molecule, str]:
    """``(molecule, id)``; with ``keep`` the molecule is stored under its id (a page URL, a job)."""
    mol = parse(spec, res)
    key = spec.id if spec.id is not None else molecule_key(mol)
    if keep and spec.id is None:
        given = "query" if spec.query is not None else "xyz" if spec.xyz is not None else "sdf"
        res.jobs.put_molecule(key, molecule_to_json(mol), given)
    return mol, key


def method_checks(mol: Molecule, res: Resources, methods: dict[str, dict] | None = None) -> dict[str, dict[str, Any]]:
    """Per method (all registered, or ``methods`` with their options): estimated seconds, and why it
    would refuse the molecule (None when it takes it)."""
    wanted = methods if methods is not None else {name: {} for name in METHODS.names()}
    out = {}
    for name, options in wanted.items():
        canonical = METHODS.canonical(name)
        method = catalogue.build(canonical, catalogue.resolve_options(canonical, options), qm9=res.qm9, store=None)
        est, refused = catalogue.assess(method, mol, max_dft_minutes=res.settings.max_dft_minutes)
        if canonical == "qm9" and refused is None and not res.qm9.find(mol):
            est, refused = None, f"{mol.name or mol.smiles or mol.formula} is not in QM9, so it has no QM9 labels"
        out[canonical] = {"estimate_s": est, "refused": refused,
                          "runs_as": "job" if catalogue.runs_as_job(canonical) else "request"}
    return out


def qm9_summary(mol: Molecule, res: Resources) -> dict[str, Any] | None:
    """QM9's entry for the molecule (index, how found, conformer, labels, split part), or None."""
    entry = qm9_entry(mol, res.qm9)
    if entry is None:
        return None
    trained, _ = _network_model(mol)
    part = split_part(trained, res.qm9, entry.row) if trained is not None else None
    return {**entry.to_json(split_part=part), "smiles": res.qm9.canonical_smiles[entry.row]}


def _network_model(mol: Molecule):
    try:
        return load_model(source=mol.source)
    except MolmtlError:
        return None, None


def info(mol: Molecule, key: str, res: Resources) -> dict[str, Any]:
    """The body of ``POST /api/molecule``."""
    return {"id": key, "name": mol.name, "smiles": mol.smiles, "formula": mol.formula, "n_atoms": mol.n_atoms,
            "charge": mol.charge, "multiplicity": mol.multiplicity, "input": mol.source, "qm9": qm9_summary(mol, res),
            "svg": depiction_svg(mol), "xyz": "" if mol.positions is None else mol.to_xyz(comment=""),
            "geometry_source": GEOMETRY_SOURCES.get(mol.source, mol.source), "warnings": list(mol.warnings),
            "methods": method_checks(mol, res)}


__all__ = ["parse", "resolve", "info", "method_checks", "qm9_summary"]
