"""Whatever a client sends, the API answers 2xx or 4xx with a sentence, never 5xx (hypothesis
over the bodies), and Schemathesis finds no server error from ``/openapi.json``."""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from webhelp import settings_for

from molmtl.app.main import create_app

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                    max_leaves=12)
#: Texts that look like what users type: SMILES-ish characters, ids, paths, markup.
TYPED = st.text(alphabet="CNOFSPclnos()[]=#@+-123456789/\\.: qm<>&'\"", max_size=40) | st.sampled_from(
    ["qm9:1", "qm9:0", "gdb_7", "../etc/passwd", "<script>alert(1)</script>", "C" * 60, "[Se]", "[U]", "[CH3]", "c1ccccc1",
     "C[Se]C", "[NH4+]", "CI", "[He]", "[H][H]", "Fc1cccnc1"])
XYZ_LINE = st.tuples(st.sampled_from(["C", "H", "O", "N", "Xx", "1", "nan"]),
                     *[st.floats(allow_nan=True, allow_infinity=True, width=32)] * 3)
XYZ = st.builds(lambda n, rows: f"{n}\n\n" + "".join(f"{a} {x} {y} {z}\n" for a, x, y, z in rows),
                st.integers(-2, 12), st.lists(XYZ_LINE, max_size=8))
SPEC = st.fixed_dictionaries({}, optional={"query": TYPED, "xyz": XYZ, "sdf": st.text(max_size=80),
                                           "id": st.text(max_size=20), "name": TYPED, "charge": st.integers(-12, 12),
                                           "multiplicity": st.integers(-1, 12), "largest_fragment": st.booleans()})
FAST = settings(max_examples=30, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _answer_is_a_sentence(r) -> None:
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        body = r.json()
        assert isinstance(body["detail"], (str, list)) and body["detail"]
        assert "Traceback" not in r.text


@FAST
@given(spec=SPEC)
def test_any_molecule_body_is_answered_without_a_server_error(api, spec):
    _answer_is_a_sentence(api.post("/api/molecule", json=spec))


@FAST
@given(spec=SPEC, units=st.sampled_from(["eV", "meV", "Hartree", "kJ", ""]))
def test_any_predict_body_is_answered_without_a_server_error(api, spec, units):
    _answer_is_a_sentence(api.post("/api/predict", json={"molecule": spec, "units": units}))


@FAST
@given(method=st.sampled_from(["xtb", "dft", "ml", "qm9", "XTB", "", "x" * 50]), options=st.dictionaries(
    st.sampled_from(["optimize", "frequencies", "thermo", "device", "basis", "model", "lookup", "zzz"]),
    st.booleans() | st.integers() | st.text(max_size=12), max_size=3), query=TYPED)
def test_any_job_body_is_answered_without_a_server_error(api, method, options, query):
    r = api.post("/api/jobs", json={"molecule": {"query": query}, "method": method, "options": options})
    _answer_is_a_sentence(r)
    if r.status_code in (200, 202):
        api.delete(f"/api/jobs/{r.json()['id']}")  # keep the (never dispatched) queue short


@settings(FAST, max_examples=12)
@given(query=TYPED, methods=st.dictionaries(st.sampled_from(["ml", "xtb", "dft", "qm9"]), st.just({}), min_size=1),
       reference=st.sampled_from(["auto", "qm9", "dft", "none"]), submit=st.booleans())
def test_any_compare_body_is_answered_without_a_server_error(api, query, methods, reference, submit):
    body = {"molecule": {"query": query}, "methods": methods, "reference": reference, "submit": submit}
    _answer_is_a_sentence(api.post("/api/compare", json=body))


@FAST
@given(body=JSON)
def test_arbitrary_json_is_answered_without_a_server_error(api, body):
    for path in ("/api/molecule", "/api/predict", "/api/jobs", "/api/compare", "/api/estimate"):
        _answer_is_a_sentence(api.post(path, json=body))


@pytest.fixture(scope="module")
def openapi_schema(tmp_path_factory, qm9):
    app = create_app(settings_for(tmp_path_factory.mktemp("schemathesis"), start_workers=False, queue_limit=4), qm9=qm9,
                     allowed_hosts=("testserver",))  # the Host Schemathesis' ASGI client sends
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_schemathesis_finds_no_server_error(openapi_schema):
    """Every operation of /openapi.json, with requests generated to fit its schema and to break it
    (Schemathesis' strategies, run in one test so that the application and its QM9 are made once)."""
    failures, calls = [], Counter()
    for result in openapi_schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
            @given(case=operation.as_strategy(generation_mode=mode))
            def check(case):
                response = case.call()
                calls[response.status_code // 100] += 1
                if response.status_code >= 500:
                    failures.append(f"{operation.label}: {response.status_code} for {case.body!r:.200}")
                case.validate_response(response, checks=[not_a_server_error])

            try:
                check()
            except Unsatisfiable:  # no request breaks the schema of an operation that takes nothing
                assert mode is GenerationMode.NEGATIVE and not operation.body and not operation.query, operation.label
    assert not failures, failures
    assert calls[4] > 100 and calls[2] > 20 and set(calls) <= {2, 4}, calls
