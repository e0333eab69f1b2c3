import math

import pytest

from molmtl.config import TrainConfig
from molmtl.errors import InputError
from molmtl.targets import LIBMTL_TARGETS
from molmtl.training.protocols import LIBMTL_STL_MAE, protocol_config
from molmtl.training.schedule import lr_factor


def test_lr_factor_warmup_then_cosine():
    f = lambda s: lr_factor(s, total_steps=110, warmup_steps=10, min_ratio=0.1)  # noqa: E731
    assert f(0) == pytest.approx(0.1) and f(4) == pytest.approx(0.5) and f(9) == pytest.approx(1.0)
    assert f(10) == pytest.approx(1.0)
    assert f(60) == pytest.approx(0.1 + 0.9 * 0.5)  # half way through the cosine
    assert f(110) == pytest.approx(0.1) and f(500) == pytest.approx(0.1)
    steps = [f(s) for s in range(10, 111)]
    assert all(a >= b for a, b in zip(steps, steps[1:]))


def test_config_round_trip_and_validation():
    cfg = TrainConfig(tasks=["U0", "homo"], epochs=3, split_sizes=[100, 10], strategy_hp={"lam": 0.1})
    again = TrainConfig.from_dict(cfg.to_dict())
    assert again == cfg
    for ok in (dict(devices="auto"), dict(devices=2), dict(devices=-1), dict(devices="0,1"), dict(accelerator="GPU")):
        TrainConfig(**ok)
    assert TrainConfig(accelerator=" CPU").accelerator == "cpu"  # Lightning only knows lower-case names and again.tasks == ("U0", "homo") and again.split_sizes == (100, 10)
    for bad in (dict(epochs=0), dict(batch_size=-1), dict(lr=0.0), dict(loss="huber"), dict(precision="16-mixed"),
                dict(schedule="step"), dict(max_molecules=0), dict(precision="bf16-true"), dict(weight_decay=-0.1),
                dict(seed=-1), dict(early_stopping=-2), dict(accelerator="tpu-ish"), dict(devices="x"),
                dict(devices=0)):
        with pytest.raises(InputError):
            TrainConfig(**bad)


def test_libmtl_protocol():
    cfg = protocol_config("libmtl")
    assert cfg.tasks == LIBMTL_TARGETS and cfg.encoder == "mpnn" and cfg.encoder_hp["hidden"] == 64
    assert cfg.split_sizes == (110_831, 10_000) and cfg.batch_size == 120 and cfg.lr == 1e-3
    assert cfg.normalization == "zscore" and cfg.schedule == "plateau" and cfg.plateau_factor == 0.7
    assert set(LIBMTL_STL_MAE) == set(LIBMTL_TARGETS) and LIBMTL_STL_MAE["U0_atom"] == pytest.approx(58.838)
    with pytest.raises(InputError):
        protocol_config("nope")
    assert math.isclose(protocol_config("libmtl", epochs=2).epochs, 2)
