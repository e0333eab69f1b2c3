"""torch.compile routing (PaiNN's own static compile or the whole strategy), the fused AdamW, and
training steps that read no tensor values on the host. All on CPU with tiny models."""


import numpy as np
import torch
from trainhelp import tiny_config

from molmtl.inference import build_strategy
from molmtl.models.painn import PaiNN
from molmtl.training.module import _compiled_forward
from molmtl.training.run import train


def test_compile_uses_painns_own_static_compile():
    strategy = build_strategy(tiny_config())
    forward = _compiled_forward(strategy)
    encoders = [m for m in strategy.modules() if isinstance(m, PaiNN)]
    assert forward is strategy and encoders and all(e.compile for e in encoders)
    # on CPU PaiNN's compile flag is a no-op: the same numbers as eager
    from molmtl.data.batching import PaddedDataset
    from molmtl.data.qm9 import load_qm9
    from molmtl.targets import get_target

    qm9 = load_qm9()
    batch = PaddedDataset.from_qm9(qm9.subset(np.arange(4)), [get_target(k) for k in strategy.tasks]).batch(slice(0, 4))
    eager = build_strategy(tiny_config())
    eager.load_state_dict(strategy.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(forward(batch).pred, eager(batch).pred)


def test_compile_wraps_strategies_without_their_own():
    strategy = build_strategy(tiny_config(encoder="gcn", encoder_hp={"hidden": 8}))
    assert _compiled_forward(strategy) is not strategy


def test_compile_routing_by_strategy_and_batch_shapes():
    from molmtl.training.module import release_compiled

    cross = build_strategy(tiny_config(strategy="cross-stitch"))
    assert _compiled_forward(cross) is not cross  # layer-wise: PaiNN.forward is never called
    assert not any(m.compile for m in cross.modules() if isinstance(m, PaiNN))
    hard = build_strategy(tiny_config())
    assert _compiled_forward(hard, static=False) is not hard  # DataLoader batches vary in width
    assert _compiled_forward(hard, static=True) is hard
    release_compiled(hard)
    assert not any(m.compile or m._compiled is not None for m in hard.modules() if isinstance(m, PaiNN))


def test_fused_adamw_only_when_every_parameter_is_on_cuda():
    from types import SimpleNamespace

    from molmtl.training.module import adamw_options

    cuda, cpu = SimpleNamespace(is_cuda=True), SimpleNamespace(is_cuda=False)
    assert adamw_options([cuda, cuda]) == {"fused": True}
    assert adamw_options([cuda, cpu]) == {} and adamw_options([]) == {}
    # on CPU, the module's optimizer is torch's default AdamW
    from molmtl.models.normalize import TargetScaler
    from molmtl.targets import get_target
    from molmtl.training.module import MTLModule
    from molmtl.training.run import build_balancer

    cfg = tiny_config()
    module = MTLModule(cfg, build_strategy(cfg), build_balancer(cfg), TargetScaler([get_target(k) for k in cfg.tasks]), 1)
    opt = module.configure_optimizers()["optimizer"]
    assert isinstance(opt, torch.optim.AdamW) and not opt.defaults.get("fused")


def test_training_steps_read_no_tensor_values_on_the_host(tmp_path, monkeypatch):
    """No ``.item()``/``float(tensor)``/``bool(tensor)`` in a training step (each waits for the GPU
    there), except torch's own optimizer-step counters, which live on the host."""
    import traceback

    from torch.utils._python_dispatch import TorchDispatchMode

    from molmtl.training.module import MTLModule

    reads = []

    class HostReads(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func.__name__.split(".")[0] in ("_local_scalar_dense", "nonzero"):
                stack = traceback.extract_stack()[:-1]
                if not any("torch/optim/" in f.filename for f in stack):
                    reads.append(f"{func.__name__} at {stack[-1].filename}:{stack[-1].lineno}")
            return func(*args, **(kwargs or {}))

    step = MTLModule.training_step

    def watched(self, batch, batch_idx):
        with HostReads():
            return step(self, batch, batch_idx)

    monkeypatch.setattr(MTLModule, "training_step", watched)
    train(tiny_config(device_data=True, max_molecules=32, batch_size=8, epochs=2, trim_to=8, sort_window=32),
          tmp_path, progress=False)
    assert reads == [], reads


def test_fused_adamw_trains_under_bf16_mixed_with_clipping(tmp_path, monkeypatch):
    """The CUDA set-up (fused AdamW, bf16-mixed, gradient clipping) on the CPU: Lightning's own
    clipping refuses fused optimizers under mixed precision, so the module clips with torch."""
    import torch

    from molmtl.training import module as module_mod
    from molmtl.training.run import train

    monkeypatch.setattr(module_mod, "adamw_options", lambda params: {"fused": True})
    seen = []
    real_step = torch.optim.AdamW.step

    def step(self, *args, **kwargs):
        seen.append(self.defaults.get("fused"))
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", step)
    norms = []
    real_clip = torch.nn.utils.clip_grad_norm_
    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", lambda params, max_norm, **kw: norms.append(
        (max_norm, float(real_clip(params, max_norm, **kw)))))
    cfg = tiny_config(precision="bf16-mixed", grad_clip=1e-3, epochs=1)
    train(cfg, tmp_path / "run", progress=False)
    assert seen and all(seen)  # every step went through the fused optimizer
    assert len(norms) == len(seen) and all(m == 1e-3 and n > 0 for m, n in norms)  # and was clipped first
