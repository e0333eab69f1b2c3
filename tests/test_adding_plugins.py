"""Adding a plug-in is one file: a toy strategy and a toy weighting, defined and registered in this
module alone, train through ``molmtl train`` with their options set by --strategy-opt and
--weighting-opt, and come back from the model file through the same registry."""

from __future__ import annotations

import pytest
import torch

from molmtl.cli import main
from molmtl.inference import load_model
from molmtl.mtl.balancers._common import fill_missing_grads
from molmtl.mtl.base import Balancer, StrategyOutput
from molmtl.mtl.hard import HardSharing
from molmtl.mtl.registry import STRATEGIES, WEIGHTINGS

TINY = ["--encoder", "painn", "--hidden", "16", "--layers", "1", "--tasks", "U0,homo", "--max-molecules", "24",
        "--batch-size", "12", "--epochs", "2", "--accelerator", "cpu", "--no-progress"]


class ScaledSharing(HardSharing):
    """Hard sharing whose normalized predictions are multiplied by a fixed factor (a toy).

    Args:
        scale (float): the factor.
    """

    def __init__(self, tasks, encoder_factory, head_factory, scale: float = 1.0):
        super().__init__(tasks, encoder_factory, head_factory)
        self.scale = float(scale)

    def forward(self, batch) -> StrategyOutput:
        out = super().forward(batch)
        return StrategyOutput(pred=out.pred * self.scale, features=out.features)


class GeometricWeights(Balancer):
    """Fixed loss weights base**t for task t (a toy); records the weights of every step.

    Args:
        base (float): the ratio of successive tasks' weights.
    """

    steps: list[list[float]] = []

    def __init__(self, n_tasks: int, base: float = 1.0):
        super().__init__()
        self.register_buffer("w", float(base) ** torch.arange(n_tasks, dtype=torch.float32))

    def backward(self, losses, strategy, output, penalty):
        ((self.w.to(losses.dtype) * losses).sum() + penalty).backward()
        fill_missing_grads(strategy, self)
        GeometricWeights.steps.append(self.w.tolist())
        return {}


@pytest.fixture
def toy_plugins():
    STRATEGIES.register("toy-scaled")(ScaledSharing)
    WEIGHTINGS.register("toy-geometric")(GeometricWeights)
    GeometricWeights.steps = []
    yield
    STRATEGIES.unregister("toy-scaled")
    WEIGHTINGS.unregister("toy-geometric")


def test_a_toy_strategy_and_weighting_train_through_the_cli_with_their_options(tmp_path, toy_plugins, capsys):
    run = tmp_path / "run"
    args = ["-q", "train", "--out", str(run), *TINY, "--strategy", "toy_scaled", "--strategy-opt", "scale=0.5",
            "--weighting", "Toy-Geometric", "--weighting-opt", "base=2"]
    assert main(args) == 0, capsys.readouterr().err
    assert GeometricWeights.steps and all(w == [1.0, 2.0] for w in GeometricWeights.steps)  # 2 epochs x 2 batches
    assert len(GeometricWeights.steps) == 4
    model = load_model(run)  # rebuilt through the registry from the names and options in the file
    assert model.config.strategy == "toy-scaled" and model.config.strategy_hp == {"scale": 0.5}
    assert model.config.weighting == "toy-geometric" and model.config.weighting_hp == {"base": 2.0}
    assert isinstance(model.strategy, ScaledSharing) and model.strategy.scale == 0.5


def test_a_toy_plugins_wrong_option_is_one_sentence(tmp_path, toy_plugins, capsys):
    assert main(["-q", "train", "--out", str(tmp_path / "r"), *TINY, "--strategy", "toy-scaled",
                 "--strategy-opt", "scal=0.5", "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: strategy 'toy-scaled' has no option 'scal'; its options are: scale"
    assert main(["-q", "train", "--out", str(tmp_path / "r"), *TINY, "--weighting", "toy-geometric",
                 "--weighting-opt", "base=two", "--dry-run"]) == 2
    assert capsys.readouterr().err.strip() == "error: weighting 'toy-geometric' option 'base' takes float, got 'two'"


def test_plugins_command_lists_a_registered_toy_with_its_options(toy_plugins, capsys):
    assert main(["plugins", "strategies"]) == 0
    out = capsys.readouterr().out
    assert "toy-scaled: Hard sharing whose normalized predictions are multiplied by a fixed factor" in out
    assert "scale (float, default 1.0): the factor." in out
    assert main(["plugins", "nonsense"]) == 2
