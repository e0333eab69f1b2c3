"""The one Registry: names, lazy discovery, checked and typed options, pickling by reference."""

from __future__ import annotations

import math
import pickle
import subprocess
import sys
from functools import partial
from typing import Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from molmtl.errors import InputError
from molmtl.models.registry import ENCODERS
from molmtl.mtl.registry import STRATEGIES, WEIGHTINGS
from molmtl.registry import Registry, coerce, normalize_name, parse_pairs


def test_names_match_ignoring_case_dashes_and_underscores():
    assert normalize_name(" Cross_Stitch ") == normalize_name("cross-stitch") == "crossstitch"
    assert STRATEGIES.canonical("CROSS_STITCH") == "cross-stitch"
    assert WEIGHTINGS.canonical("Nash-MTL") == "nashmtl" and ENCODERS.canonical("PaiNN") == "painn"
    assert set(ENCODERS.names()) == {"dmpnn", "gcn", "mpnn", "painn"}
    assert set(STRATEGIES.names()) == {"single", "hard", "soft", "cross-stitch", "mrn", "clustered"}
    assert len(WEIGHTINGS.names()) == 12


def test_options_come_from_signatures_with_types_defaults_and_help():
    soft = STRATEGIES.options("soft")
    assert list(soft) == ["lam", "same_init"] and soft["lam"].default == 1e-3 and soft["lam"].annotation is float
    assert "coupling weight" in soft["lam"].help
    assert "aggregator" not in WEIGHTINGS.options("upgrad") and "n_tasks" not in WEIGHTINGS.options("nashmtl")
    assert WEIGHTINGS.options("cagrad")["c"].default == 0.4  # molmtl's default, not torchjd's required argument
    assert "max_z" not in ENCODERS.options("painn") and "in_dim" not in ENCODERS.options("gcn")


def test_wrong_names_options_and_types_are_one_sentence():
    with pytest.raises(InputError, match=r"^unknown encoder 'schnet'; choose one of: dmpnn, gcn, mpnn, painn$"):
        ENCODERS.entry("schnet")
    with pytest.raises(InputError, match=r"^encoder 'painn' has no option 'width'; its options are: hidden, num_layers"):
        ENCODERS.check_options("painn", {"width": 3})
    with pytest.raises(InputError, match=r"option 'hidden' takes int, got 'wide'"):
        ENCODERS.parse_options("painn", ["hidden=wide"])
    with pytest.raises(InputError, match=r"option 'message' takes one of bmm, elementwise, basis"):
        ENCODERS.check_options("painn", {"message": "scatter"})
    with pytest.raises(InputError, match="KEY=VALUE"):
        parse_pairs(["lam"])
    assert ENCODERS.parse_options("painn", ["hidden=8", "cutoff=4", "bf16=yes"]) == {"hidden": 8, "cutoff": 4.0, "bf16": True}


def test_a_registry_finds_plugins_in_its_package_and_by_decorator():
    reg = Registry("toy thing")
    try:
        @reg.register("widget")
        def make_widget(size: int = 2, shape: Literal["round", "square"] = "round"):
            """A widget."""
            return (size, shape)

        assert reg.build("Widget", size="3") == (3, "round")
        assert reg.describe().startswith("widget: A widget.")
        with pytest.raises(ValueError, match="registered twice"):
            reg.register("widget")(lambda: None)
        with pytest.raises(ValueError, match="already a registry"):
            Registry("toy thing")
    finally:
        from molmtl import registry as module

        module._REGISTRIES.pop("toy thing")


def test_factories_pickle_by_reference_for_ddp_and_workers():
    factory = partial(ENCODERS.build, "painn", hidden=8, num_layers=1)
    again = pickle.loads(pickle.dumps(factory))
    assert again.func.__self__ is ENCODERS and again().out_dim == 8


def test_a_dmpnn_forward_pass_does_not_import_pytorch_geometric():
    # the D-MPNN (a SMILES model's companion) and 2D batches need no PyG: two seconds off a cold predict
    code = ("import sys; from molmtl.models.registry import ENCODERS; from molmtl.chem.parse import from_smiles; "
            "from molmtl.data.batching import MolDataset, collate; "
            "ds = MolDataset([from_smiles(s, embed=False) for s in ('CCO', 'c1ccccc1', 'C')], graph=True, geometry=False); "
            "f = ENCODERS.build('dmpnn', hidden=8)(collate([ds[i] for i in range(3)], graph=True, geometry=False)); "
            "print(tuple(f.h.shape), 'torch_geometric' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "(3, 6, 8) False", out.stderr


def test_building_painn_does_not_import_pytorch_geometric():
    code = ("import sys; from molmtl.models.registry import ENCODERS; ENCODERS.build('painn', hidden=8); "
            "print('torch_geometric' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_float_options_round_trip_through_text(x):
    assert coerce(repr(x), float, 0.0, "x") == x


@given(st.integers())
def test_int_options_round_trip_through_text(n):
    assert coerce(str(n), int, 0, "n") == n
    assert coerce(str(n), float, 0.0, "n") == float(n)


@given(st.text(max_size=20))
def test_any_text_is_a_value_or_one_sentence(text):
    for kind, default in ((float, 1.0), (int | None, None), (bool, False), (Literal["a", "b"], "a"), (tuple[str, ...], ())):
        try:
            value = coerce(text, kind, default, "opt")
        except InputError as exc:
            assert "opt takes" in str(exc) and "\n" not in str(exc)
        else:
            assert value is None or not isinstance(value, float) or not math.isnan(value) or "nan" in text.lower()


@given(st.lists(st.text(max_size=12), max_size=4))
def test_pairs_parse_or_say_why(items):
    try:
        pairs = parse_pairs(items)
    except InputError as exc:
        assert "KEY=VALUE" in str(exc)
    else:
        assert all(isinstance(k, str) and k for k in pairs)
