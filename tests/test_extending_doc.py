"""docs/extending.md's worked examples (an encoder, a strategy, a weighting, a method) run as written."""

from __future__ import annotations

import re
import types
from pathlib import Path

import pytest

from molmtl.cli import main
from molmtl.methods.registry import METHODS
from molmtl.models.registry import ENCODERS
from molmtl.mtl.registry import STRATEGIES, WEIGHTINGS

DOC = Path(__file__).resolve().parents[1] / "docs" / "extending.md"
TINY = ["--max-molecules", "24", "--batch-size", "12", "--epochs", "1", "--accelerator", "cpu", "--no-progress"]


@pytest.fixture
def doc_plugins():
    module = types.ModuleType("extending_doc_plugins")
    for block in re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S):
        exec(compile(block, str(DOC), "exec"), module.__dict__)  # noqa: S102 - the doc's own code
    yield module
    ENCODERS.unregister("distance-mlp")
    STRATEGIES.unregister("shrunk-heads")
    WEIGHTINGS.unregister("inverse-loss")
    METHODS.unregister("bond-count")


@pytest.mark.parametrize("args", [
    ["--encoder", "distance-mlp", "--encoder-opt", "length=2.0", "--tasks", "U0,homo"],
    ["--strategy", "shrunk-heads", "--strategy-opt", "strength=0.01", "--encoder", "gcn", "--tasks", "all"],
    ["--weighting", "inverse-loss", "--weighting-opt", "eps=1e-6", "--encoder", "gcn", "--tasks", "all"],
], ids=["encoder", "strategy", "weighting"])
def test_the_docs_plugins_train_with_their_options(doc_plugins, tmp_path, args, capsys):
    assert main(["-q", "train", *args, *TINY, "--out", str(tmp_path / "run")]) == 0, capsys.readouterr().err
    assert (tmp_path / "run" / "model.pt").is_file()


def test_the_docs_method_compares_beside_the_network(doc_plugins, capsys):
    assert main(["-q", "compare", "CCO", "--methods", "ml,bond-count", "--method-opt", "bond-count.hydrogens=false",
                 "--json"]) == 0
    body = __import__("json").loads(capsys.readouterr().out)
    assert body["methods"]["bond-count"]["properties"] == {"bonds": 2.0} and "ml" in body["methods"]
    assert main(["-q", "compare", "CCO", "--methods", "ml,bond-count"]) == 0
    assert "bonds" in capsys.readouterr().out
