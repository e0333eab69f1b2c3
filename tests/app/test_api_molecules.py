"""The API's read-only endpoints: health, methods, molecules (SMILES, QM9 ids, names, XYZ, SDF),
estimates, random QM9 picks and the network's predictions, with their errors."""

from __future__ import annotations

import numpy as np
import pytest

from molmtl.config import TrainConfig

ETHANOL_XYZ = """9
ethanol
C  -0.0500  -0.0100   0.0200
C   1.4600   0.0100  -0.0100
O   1.9300   1.3400   0.0300
H  -0.4200  -1.0400   0.0000
H  -0.4300   0.5100  -0.8600
H  -0.4100   0.4800   0.9100
H   1.8300  -0.5200   0.8700
H   1.8400  -0.4900  -0.9000
H   2.9000   1.3000   0.0100
"""

WATER_SDF = """water
     RDKit          3D

  3  2  0  0  0  0  0  0  0  0999 V2000
    0.0000    0.0000    0.1173 O   0  0  0  0  0  0  0  0  0  0  0  0
    0.0000    0.7572   -0.4692 H   0  0  0  0  0  0  0  0  0  0  0  0
    0.0000   -0.7572   -0.4692 H   0  0  0  0  0  0  0  0  0  0  0  0
  1  2  1  0
  1  3  1  0
M  END
$$$$
"""


def test_health_reports_version_qm9_and_job_counts(api):
    body = api.get("/api/health").json()
    assert body["status"] == "ok"  # this application runs no job runner, and says so by not needing one
    assert body["qm9_molecules"] == 130831
    assert set(body["jobs"]) == {"queued", "running", "done", "failed", "cancelled", "interrupted"}


def test_methods_list_level_of_theory_options_and_typical_entries(api):
    body = api.get("/api/methods").json()
    by_name = {m["name"]: m for m in body["methods"]}
    assert {"ml", "xtb", "dft", "qm9"} <= set(by_name)
    assert by_name["xtb"]["level_of_theory"] == "GFN2-xTB" and by_name["xtb"]["runs_as"] == "job"
    assert by_name["ml"]["runs_as"] == "request"
    assert "B3LYP" in by_name["dft"]["level_of_theory"]
    assert {o["name"] for o in by_name["xtb"]["options"]} == {"optimize", "frequencies"}
    dft_options = {o["name"] for o in by_name["dft"]["options"]}
    assert "basis" not in dft_options and "thermo" in dft_options  # a basis name can be a file: never from a client
    assert "model" not in {o["name"] for o in by_name["ml"]["options"]}  # a model is a server path
    for m in body["methods"]:  # measured or null, never made up
        assert m["typical"] is None or m["typical"]["n"] > 0
    keys = [p["key"] for p in body["properties"]]
    assert keys[:3] == ["mu", "alpha", "homo"] and len(keys) == 19


def test_molecule_from_smiles_gives_identity_depiction_geometry_and_estimates(api):
    body = api.post("/api/molecule", json={"query": "Fc1cccnc1"}).json()
    assert body["smiles"] == "Fc1cccnc1" and body["formula"] == "C5H4FN" and body["n_atoms"] == 11
    assert body["qm9"]["index"] == 4210 and body["qm9"]["match"] == "InChIKey"
    assert body["svg"].lstrip().startswith("<?xml") and "<svg" in body["svg"]
    assert body["xyz"].splitlines()[0].strip() == "11"
    assert body["geometry_source"] == "RDKit ETKDG + MMFF"
    assert len(body["id"]) == 16
    methods = body["methods"]
    assert methods["ml"]["refused"] is None and methods["ml"]["estimate_s"] > 0
    assert methods["qm9"]["estimate_s"] == 0.0
    assert methods["xtb"]["runs_as"] == "job"


def test_molecule_id_is_stored_and_read_back(api):
    first = api.post("/api/molecule", json={"query": "CCO"}).json()
    again = api.get(f"/api/molecule/{first['id']}").json()
    assert again["id"] == first["id"] and again["xyz"] == first["xyz"]
    by_id = api.post("/api/molecule", json={"id": first["id"]}).json()
    assert by_id["smiles"] == "CCO"


def test_qm9_id_and_common_name(api):
    qm9 = api.post("/api/molecule", json={"query": "qm9:14"}).json()
    assert qm9["name"] == "qm9:14" and qm9["input"] == "qm9" and qm9["qm9"]["rmsd_angstrom"] == 0.0
    assert qm9["qm9"]["split_part"] in ("train", "val", "test")
    named = api.post("/api/molecule", json={"query": "Benzene"}).json()
    assert named["smiles"] == "c1ccccc1" and named["qm9"] is not None


def test_xyz_and_sdf_blocks(api):
    xyz = api.post("/api/molecule", json={"xyz": ETHANOL_XYZ, "name": "my ethanol"}).json()
    assert xyz["smiles"] == "CCO" and xyz["input"] == "xyz" and xyz["name"] == "my ethanol"
    assert xyz["qm9"]["index"] == 14
    sdf = api.post("/api/molecule", json={"sdf": WATER_SDF, "name": "w"}).json()
    assert sdf["formula"] == "H2O" and sdf["input"] == "sdf"


@pytest.mark.parametrize(("body", "words"), [
    ({"query": "C1CC"}, "not a valid SMILES"),
    ({"query": "   "}, "no molecule given"),
    ({"query": "qm9:abc"}, "not a QM9 id"),
    ({"query": "C" * 300}, "atoms with its hydrogens"),
    ({"query": "CCO.O"}, "2 fragments"),
    ({"xyz": "3\n\nO 0 0 0\nH 0 0 0.1\nH 0 0.9 0\n"}, "Angstrom apart"),
    ({"xyz": "2\n\nO 0 0 0\nH 0 0 nan\n"}, "not a finite coordinate"),
    ({"xyz": "5\n\nO 0 0 0\n"}, "fewer coordinate lines"),
    ({"xyz": "1\n\nXx 0 0 0\n"}, "not a chemical element"),
    ({"xyz": "100000\n\n"}, "at most 500"),
    ({"sdf": "not a mol block"}, "no valid molecule"),
    ({"sdf": "$$$$"}, "empty"),
])
def test_bad_molecules_are_422_with_one_sentence(api, body, words):
    r = api.post("/api/molecule", json=body)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, str) and words in detail and "Traceback" not in detail


@pytest.mark.parametrize("body", [
    {}, {"query": "C", "xyz": "1\n\nC 0 0 0\n"}, {"query": "C", "charge": 1}, {"query": 5}, {"smiles": "C"},
    {"query": "x" * 501}, {"id": "../../etc/passwd"},
])
def test_wrong_bodies_are_422_naming_the_problem(api, body):
    r = api.post("/api/molecule", json=body)
    assert r.status_code == 422
    assert r.json()["message"] and isinstance(r.json()["detail"], list)


def test_a_molecule_that_does_not_exist_is_404(api):
    assert api.get("/api/molecule/0123456789abcdef").status_code == 404
    assert api.post("/api/molecule", json={"id": "0123456789abcdef"}).status_code == 404
    r = api.post("/api/molecule", json={"query": "qm9:999999"})
    assert r.status_code == 404 and "QM9 has no molecule 999999" in r.json()["detail"]


def test_a_path_is_never_read(api, tmp_path):
    readable = tmp_path / "methane.xyz"
    readable.write_text("1\nonly-in-the-file\nC 0 0 0\n")  # a valid XYZ file: read, it would give a molecule
    for text in (str(readable), "/etc/passwd", "../../../../etc/hostname"):
        r = api.post("/api/molecule", json={"query": text})
        assert r.status_code == 422, text  # taken as a SMILES (which it is not), never as a file
        assert "only-in-the-file" not in r.text and "root:" not in r.text


def test_estimate_follows_the_options(api):
    mol = api.post("/api/molecule", json={"query": "qm9:14"}).json()
    full = api.post("/api/estimate", json={"molecule": {"id": mol["id"]}, "methods": {"dft": {}}}).json()["dft"]
    quick = api.post("/api/estimate", json={"molecule": {"id": mol["id"]},
                                            "methods": {"dft": {"thermo": False, "optimize": False}}}).json()["dft"]
    if full["estimate_s"] is not None:  # the methods benchmark's DFT timings are shipped
        assert quick["estimate_s"] < full["estimate_s"]
    bad = api.post("/api/estimate", json={"molecule": {"id": mol["id"]}, "methods": {"dft": {"basis": "/etc/passwd"}}})
    assert bad.status_code == 422 and "takes no option 'basis'" in bad.json()["detail"]
    unknown = api.post("/api/estimate", json={"molecule": {"id": mol["id"]}, "methods": {"nope": {}}})
    assert unknown.status_code == 422 and "unknown method" in unknown.json()["detail"]


def test_random_qm9_molecule_is_from_the_test_split(api, qm9):
    a = api.get("/api/qm9/random", params={"seed": 7}).json()
    b = api.get("/api/qm9/random", params={"seed": 7}).json()
    assert a == b and a["split_part"] == "test" and a["query"] == f"qm9:{a['index']}"
    test = set(np.asarray(TrainConfig().split_for(len(qm9), qm9.canonical_smiles).test).tolist())
    assert qm9.position_of_index(a["index"]) in test
    assert api.get("/api/qm9/random", params={"seed": -1}).status_code == 422


def test_predict_gives_the_result_schema_with_units(api):
    body = api.post("/api/predict", json={"molecule": {"query": "qm9:4210"}}).json()
    assert body["schema"] == "molmtl.result" and body["schema_version"] == 1 and body["method"] == "ml"
    assert len(body["properties"]) == 19 and body["units"]["U0"] == "eV" and body["units"]["mu"] == "D"
    assert set(body["uncertainty"]) == set(body["properties"])
    assert body["qm9"]["index"] == 4210 and body["qm9"]["split_part"] == "test"
    assert abs(body["properties"]["homo"] - body["qm9"]["labels"]["homo"]) < 0.5  # eV: the network is close to QM9
    mev = api.post("/api/predict", json={"molecule": {"query": "qm9:4210"}, "units": "meV"}).json()
    assert mev["units"]["U0"] == "meV" and mev["properties"]["U0"] == pytest.approx(1000 * body["properties"]["U0"])


def test_predict_refuses_what_the_network_cannot_take(api):
    r = api.post("/api/predict", json={"molecule": {"query": "[Na+].[Cl-]", "largest_fragment": True}})
    assert r.status_code == 422 and "xtb" in r.json()["detail"].lower()
    r = api.post("/api/predict", json={"molecule": {"query": "CCO"}, "units": "kcal"})
    assert r.status_code == 422 and "units" in r.json()["message"]
