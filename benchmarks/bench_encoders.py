"""Speed of our dense PaiNN (19 heads) against PyG's SchNet, in one run on the same data and device.

Both models train on all 19 QM9 targets (normalized by one TargetScaler) with Adam; we time a
training step (forward + backward + optimizer step) and inference (forward only) in molecules/s,
and on CUDA the peak memory. SchNet is PyG's ``torch_geometric.nn.models.SchNet(hidden_channels=128,
num_filters=128, num_interactions=6, cutoff=10.0)`` with its last layer widened to 19 outputs; its
neighbour list (``radius_graph`` needs torch-cluster, not installed) is built by
:class:`DenseRadiusGraph` inside its forward, so the time includes it, as it would include
``radius_graph``. Batches for both models are prepared before timing.

PaiNN's message-block implementations (``--painn-messages bmm,elementwise,basis``: per-feature
filters times neighbour blocks, elementwise pair tensors, or sums against the radial basis first;
the same parameters and numbers) are timed in the same run.
``--compile`` compiles PaiNN's layers (what ``molmtl train --compile --device-data`` does);
``--compile-model`` compiles the whole model (encoder and heads) instead.

Usage::

    python benchmarks/bench_encoders.py --device cpu --batch-size 32 --steps 5
    python benchmarks/bench_encoders.py --device cuda --batch-size 1024 --steps 50 --compile --bf16 \
        --painn-messages bmm,elementwise --heads bank,fused --trim-to 8
"""

from __future__ import annotations

import argparse
import logging
import time

import numpy as np
import torch
from torch import Tensor, nn

from molmtl.data.batching import PaddedDataset
from molmtl.data.qm9 import load_qm9
from molmtl.models.base import MolBatch
from molmtl.models.heads import make_head
from molmtl.models.normalize import TargetScaler
from molmtl.models.painn import MESSAGES, PaiNN
from molmtl.mtl._parts import HeadBank
from molmtl.targets import TARGETS
from molmtl.training.module import allow_recompiles

log = logging.getLogger("bench_encoders")

QM9_TRAIN = 110_000  # molecules in a standard QM9 training epoch


class DenseRadiusGraph(nn.Module):
    """SchNet's ``interaction_graph``: all pairs of distinct atoms of a molecule within ``cutoff``
    (Angstrom), found with a dense per-molecule distance matrix. Returns ``(edge_index, edge_weight)``."""

    def __init__(self, cutoff: float):
        super().__init__()
        self.cutoff = cutoff

    def forward(self, pos: Tensor, batch: Tensor) -> tuple[Tensor, Tensor]:
        from torch_geometric.utils import to_dense_batch

        dense, mask = to_dense_batch(pos, batch)
        flat = torch.full(mask.shape, -1, dtype=torch.long, device=pos.device)
        flat[mask] = torch.arange(pos.shape[0], device=pos.device)
        d = torch.cdist(dense, dense)
        eye = torch.eye(mask.shape[1], dtype=torch.bool, device=pos.device)
        keep = mask.unsqueeze(1) & mask.unsqueeze(2) & ~eye & (d < self.cutoff)
        b, i, j = keep.nonzero(as_tuple=True)
        row, col = flat[b, i], flat[b, j]
        return torch.stack([row, col]), (pos[row] - pos[col]).norm(dim=-1)


def make_schnet(n_out: int, cutoff: float = 10.0) -> nn.Module:
    from torch_geometric.nn.models import SchNet

    model = SchNet(hidden_channels=128, num_filters=128, num_interactions=6, cutoff=cutoff,
                   interaction_graph=DenseRadiusGraph(cutoff))
    model.lin2 = nn.Linear(model.lin2.in_features, n_out)  # 19 targets at once
    return model


class PaiNNMultiHead(nn.Module):
    """PaiNN encoder shared by one head per target (hard sharing).

    ``heads``: ``"loop"`` (19 TaskHeads called one by one) or ``"bank"`` (the HeadBank that
    ``molmtl train --strategy hard`` uses: the same 19 TaskHeads, evaluated stacked). (A third
    kind, FusedHeads, one set of fused parameters computing the same, was removed with the
    architecture change of 2026-12-04: nothing trained with it.)
    """

    #: ``heads`` choices and their row labels.
    KINDS = {"loop": "19 TaskHeads, one by one", "bank": "HeadBank(19), stacked (molmtl train's hard sharing)"}

    def __init__(self, heads: str, **kw):
        super().__init__()
        self.encoder = PaiNN(**kw)
        self.kind = heads
        if heads == "bank":
            self.heads = HeadBank(TARGETS, make_head, self.encoder.out_dim)
        else:
            self.heads = nn.ModuleList(make_head(t, self.encoder.out_dim) for t in TARGETS)

    def forward(self, batch: MolBatch) -> Tensor:
        feats = self.encoder(batch)
        if self.kind == "loop":
            return torch.stack([h(feats) for h in self.heads], dim=1)
        return self.heads(feats)


def masked_mse(pred: Tensor, target: Tensor) -> Tensor:
    ok = ~torch.isnan(target)
    return ((pred - target.nan_to_num()) ** 2 * ok).sum() / ok.sum().clamp(min=1)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_model(name, model, inputs, targets, *, device, steps: int, warmup: int, batch_size: int,
               fused_adam: bool = False) -> dict:
    """Train and inference throughput (molecules/s) and CUDA peak memory (MiB) of ``model``."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, **({"fused": True} if fused_adam else {}))

    def train_step(k):
        opt.zero_grad(set_to_none=True)
        loss = masked_mse(model(*inputs[k % len(inputs)]), targets[k % len(targets)])
        loss.backward()
        opt.step()

    warmup = max(warmup, len(inputs))  # every batch once: trimmed batches of new widths compile before timing
    model.train()
    for k in range(warmup):
        train_step(k)
    _sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    t0 = time.perf_counter()
    for k in range(steps):
        train_step(k)
    _sync(device)
    train_s = time.perf_counter() - t0
    train_mem = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else float("nan")

    model.eval()
    with torch.inference_mode():
        for k in range(warmup):
            model(*inputs[k % len(inputs)])
        _sync(device)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        t0 = time.perf_counter()
        for k in range(steps):
            model(*inputs[k % len(inputs)])
        _sync(device)
        infer_s = time.perf_counter() - t0
    infer_mem = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else float("nan")
    n_params = sum(p.numel() for p in model.parameters())
    out = {"model": name, "params": n_params, "train_mol_s": steps * batch_size / train_s,
           "infer_mol_s": steps * batch_size / infer_s, "train_mem_mib": train_mem, "infer_mem_mib": infer_mem}
    out["epoch_s"] = QM9_TRAIN / out["train_mol_s"]
    log.info("%s: %s", name, out)
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--batch-size", type=int, default=32, help="molecules per batch")
    p.add_argument("--steps", type=int, default=5, help="timed steps per phase")
    p.add_argument("--warmup", type=int, default=2,
                   help="untimed steps first (compilation, cudnn), at least one per distinct batch")
    p.add_argument("--n-batches", type=int, default=8, help="distinct QM9 batches cycled through")
    p.add_argument("--compile", action="store_true", help="torch.compile PaiNN's layers (CUDA only)")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast in PaiNN's layers (CUDA only)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (0: torch's default); 1 because on a shared, busy CPU OpenMP "
                        "threads waiting on each other made small matmuls ~50x slower")
    p.add_argument("--trim-to", type=int, default=0,
                   help="PaiNN batches: molecules sorted by size, atom axis cut to a multiple of this (0: pad to 29)")
    p.add_argument("--pad-atoms", type=int, default=29,
                   help="PaiNN batches: atom slots per molecule (QM9's largest has 29; 32 makes the pair "
                        "blocks' dimensions multiples of 8, which tensor-core kernels prefer)")
    p.add_argument("--n-rbf", type=int, default=20,
                   help="PaiNN's radial basis functions (20, the default model; 23 makes the filter "
                        "product's inner dimension, n_rbf + 1, a multiple of 8: a speed probe, a different model)")
    p.add_argument("--compile-model", action="store_true",
                   help="torch.compile the whole PaiNN model (encoder + heads, static shapes) instead of its layers")
    p.add_argument("--fused-adam", action="store_true", help="Adam(fused=True) for every model (default: torch's choice)")
    p.add_argument("--painn-messages", default="bmm",
                   help="comma-separated PaiNN message blocks to time: bmm, elementwise, basis (default: bmm)")
    p.add_argument("--heads", default="loop,bank",
                   help="comma-separated PaiNN head sets: loop (19 TaskHeads one by one), bank (HeadBank, "
                        "stacked: molmtl train's) (default: both)")
    p.add_argument("--bank-only", action="store_true", help="PaiNN with the stacked HeadBank only (same as --heads bank)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    messages = [m.strip() for m in args.painn_messages.split(",") if m.strip()]
    heads = ["bank"] if args.bank_only else [h.strip() for h in args.heads.split(",") if h.strip()]
    if not messages or any(m not in MESSAGES for m in messages):
        p.error(f"--painn-messages takes {', '.join(MESSAGES)}, got {args.painn_messages!r}")
    if not heads or any(h not in PaiNNMultiHead.KINDS for h in heads):
        p.error(f"--heads takes {', '.join(PaiNNMultiHead.KINDS)}, got {args.heads!r}")
    if args.pad_atoms < 29:
        p.error(f"--pad-atoms must be at least 29 (QM9's largest molecule), got {args.pad_atoms}")
    if args.compile and args.compile_model:
        p.error("--compile (PaiNN's layers) and --compile-model (the whole model) exclude each other")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(args.seed)

    qm9 = load_qm9()
    rows = np.random.RandomState(args.seed).permutation(len(qm9))[: args.batch_size * args.n_batches]
    data = PaddedDataset.from_qm9(qm9.subset(rows), n_max=args.pad_atoms)
    scaler = TargetScaler.fit(data.y, data.z, data.mask, TARGETS)
    data = data.to(device)
    scaler = scaler.to(device)
    # sorted by size and trimmed (--trim-to) or all padded to --pad-atoms; SchNet gets the same molecules
    batches = list(data.batches(args.batch_size, shuffle=bool(args.trim_to), trim_to=args.trim_to,
                                sort_window=len(data) if args.trim_to else 0,
                                generator=torch.Generator().manual_seed(args.seed)))
    targets = [scaler.normalize(b.y, b) for b in batches]
    schnet_inputs = []
    for b in batches:  # flat (z, pos, batch) as PyG models take them, prepared before timing
        mol = torch.arange(len(b), device=device).unsqueeze(1).expand_as(b.mask)
        schnet_inputs.append((b.z[b.mask], b.pos[b.mask], mol[b.mask]))

    timing = dict(device=device, steps=args.steps, warmup=args.warmup, batch_size=args.batch_size,
                  fused_adam=args.fused_adam)
    painn_inputs = [(b,) for b in batches]
    # compiled graphs are shared by models of one kind: one per message variant, batch width and
    # training/inference mode here, more than dynamo's default limit of 8 (past it: eager)
    allow_recompiles(64)
    results = []
    for message in messages:
        for kind in heads:
            painn = PaiNNMultiHead(kind, compile=args.compile, bf16=args.bf16, message=message, n_rbf=args.n_rbf).to(device)
            model = torch.compile(painn, dynamic=False) if args.compile_model else painn
            results.append(time_model(f"painn[{message}] + {PaiNNMultiHead.KINDS[kind]}", model, painn_inputs,
                                      targets, **timing))
            del painn, model
    schnet = make_schnet(len(TARGETS)).to(device)
    results.append(time_model("PyG SchNet (19 outputs)", schnet, schnet_inputs, targets, **timing))
    print(f"device={device} torch={torch.__version__} batch_size={args.batch_size} steps={args.steps} "
          f"warmup={args.warmup} compile={args.compile} compile_model={args.compile_model} bf16={args.bf16} "
          f"fused_adam={args.fused_adam} trim_to={args.trim_to} pad_atoms={args.pad_atoms} n_rbf={args.n_rbf} threads={torch.get_num_threads()} "
          f"atoms/batch(padded)={np.mean([b.z.numel() for b in batches]):.0f}")
    print("| model | params | train mol/s | inference mol/s | QM9 train epoch (110k) s | peak mem train MiB | peak mem infer MiB |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['model']} | {r['params']:,} | {r['train_mol_s']:.0f} | {r['infer_mol_s']:.0f} | {r['epoch_s']:.1f} "
              f"| {r['train_mem_mib']:.0f} | {r['infer_mem_mib']:.0f} |")
    ref = results[-1]
    for r in results[:-1]:
        print(f"{r['model']} vs SchNet: train {r['train_mol_s'] / ref['train_mol_s']:.2f}x, "
              f"inference {r['infer_mol_s'] / ref['infer_mol_s']:.2f}x the molecules/s")


if __name__ == "__main__":
    main()
