"""Every ``molmtl`` command the README shows still works: each runs here at a tiny size.

The commands are read out of the README's bash blocks; each must have an entry in ``EXAMPLES``
saying how it is made tiny (options appended: click keeps an option's last value), so a new
example in the README fails this test until it is run here too. What cannot run on a CPU machine
(``--device gpu``) is run anyway and must give its one-sentence refusal.
"""

from __future__ import annotations

import csv
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from molmtl.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"
TINY = ["--max-molecules", "24", "--batch-size", "12", "--epochs", "1", "--accelerator", "cpu", "--no-progress"]
SHIPPED = "src/molmtl/weights/qm9-painn-hard-19.pt"
SMALL_DFT = ["--method-opt", "dft.basis=sto-3g", "--method-opt", "dft.thermo=false", "--method-opt", "dft.polarizability=false",
             "--method-opt", "dft.optimize=false", "--method-opt", "dft.device=cpu"]

#: README command -> (what is appended or how the command is run). ``None``: run as written.
EXAMPLES: dict[str, object] = {
    "molmtl data prepare": None,
    "molmtl data info": None,
    "molmtl data show 1": None,
    "molmtl data show OCC --json": None,
    "molmtl data show mol.xyz": None,
    "molmtl predict Fc1cccnc1": None,
    "molmtl predict qm9:4210 --json": None,
    "molmtl predict mols.csv --out preds.csv": None,
    "molmtl predict CCO qm9:4210 mol.xyz --units eV": None,
    "molmtl predict mols.smi --workers 2": ["--no-progress"],
    "molmtl compare qm9:4210 --methods ml,xtb,qm9": ["--method-opt", "xtb.frequencies=false"],
    "molmtl compare CCO --methods ml,xtb,dft --json": [*SMALL_DFT, "--method-opt", "xtb.frequencies=false"],
    "molmtl compare Clc1ccccc1 --methods ml,xtb --csv cmp.csv": ["--method-opt", "xtb.frequencies=false"],
    "molmtl compare CCO --methods xtb,dft --method-opt dft.thermo=false --method-opt xtb.optimize=false": SMALL_DFT,
    "molmtl plugins methods": None,
    "molmtl train --encoder gcn --strategy hard --weighting upgrad --tasks all --max-molecules 2000 --epochs 10 --out runs/hard": TINY,
    "molmtl plugins strategies": None,
    "molmtl train --encoder gcn --strategy soft --strategy-opt lam=0.01 --strategy-opt same_init=true --weighting dwa "
    "--weighting-opt temperature=4 --max-molecules 2000 --epochs 10 --out runs/soft": TINY,
    "molmtl train --config run.toml --epochs 20 --out runs/fromfile": TINY,
    "molmtl train --config runs/hard/config.json --dry-run --out runs/again": None,
    "molmtl train --encoder gcn --tasks groups.json:2 --max-molecules 2000 --epochs 10 --out runs/group2": TINY,
    "molmtl train --encoder gcn --tasks all --task-weights U0=.25,U=.25,H=.25,G=.25,U0_atom=.25,U_atom=.25,H_atom=.25,"
    "G_atom=.25 --max-molecules 2000 --epochs 10 --out runs/weighted": TINY,
    "molmtl train --protocol standard --accelerator gpu --precision bf16-mixed --compile --device-data --batch-size 1024 "
    "--lr 1e-3 --epochs 160 --early-stopping 0 --time-limit 3000 --no-progress --out runs/painn": [*TINY, "--precision", "32-true"],
    "molmtl train --out runs/painn --resume --time-limit 3000 --no-progress": ["--accelerator", "cpu", "--epochs", "2"],
    "molmtl predict mol.xyz --model runs/painn --no-qm9": None,
    # DDP launches this process's command again for its other ranks: it runs as a command of its own
    "molmtl train --accelerator cpu --devices 2 --max-molecules 500 --epochs 2 --out runs/ddp": ("process", TINY),
    "molmtl train --encoder gcn --tasks all --max-molecules 2000 --epochs 10 --ema 0.995 --out runs/ema": TINY,
    f"molmtl evaluate {SHIPPED} --out runs/shipped": ["--limit", "40"],
    f"molmtl evaluate {SHIPPED} --limit 500": ["--limit", "40"],
    "molmtl train --data my.csv --encoder gcn --tasks logS --out runs/mine": ["--epochs", "1", "--no-progress"],
    "molmtl data prepare --rdkit-geometries": None,
    "molmtl train --geometry rdkit --max-molecules 2000 --epochs 10 --out runs/smiles": TINY,
    "molmtl evaluate src/molmtl/weights/qm9-painn-hard-19-rdkit.pt": ["--limit", "16"],
    f"molmtl evaluate {SHIPPED} --geometry rdkit": ["--limit", "16"],
    f"molmtl train --init-from {SHIPPED} --geometry rdkit --epochs 2 --warmup-epochs 0.05 --lr 2e-4 --out runs/ft": TINY,
    "molmtl train --data my.csv --encoder gcn --split scaffold --split-sizes 0.8,0.1,0.1 --out runs/scaf": ["--epochs", "1", "--no-progress"],
    "molmtl evaluate runs/hard --stl-dir runs/single": None,
    f"molmtl evaluate {SHIPPED} --data external.csv --out runs/external": None,
    "molmtl sweep-lambda --encoder gcn --tasks U0,homo,lumo --max-molecules 1000 --out runs/sweep": [*TINY[:6], "--accelerator", "cpu", "--lambdas", "0.1,1"],
    "molmtl train --protocol libmtl --out runs/libmtl": TINY,
    "molmtl train --strategy mrn --encoder gcn --tasks all --max-molecules 2000 --epochs 10 --out runs/mrn": TINY,
    # DFT at a small basis on small molecules; the GPU lines give their refusal on a machine without one
    "molmtl dft run qm9:14 --no-opt": ("replace", ["dft", "run", "qm9:1", "--no-opt", "--basis", "sto-3g"]),
    "molmtl dft run CCO --no-thermo --json": ["--basis", "sto-3g"],
    "molmtl dft run CCO --device gpu": ("gpu", "needs GPU4PySCF"),
    "molmtl dft run CCO --device gpu --df-derivatives": ("gpu", "needs GPU4PySCF"),
    "molmtl dft xtb CCO": None,
    "molmtl dft xtb Clc1ccccc1": ["--no-freq"],
    "molmtl dft xtb ion.xyz --charge 1 --multiplicity 2": ["--no-freq"],
    "molmtl dft export results.csv --method xtb --status done": None,
    "molmtl dft batch mols.csv --workers 2": ("replace", ["dft", "batch", "tiny.csv", "--workers", "2", "--basis", "sto-3g", "--no-thermo"]),
    "molmtl dft list": None,
    "molmtl dft show KEY": ("show", None),
}


def readme_commands() -> list[str]:
    """The ``molmtl ...`` lines of the README's bash blocks (continuations joined, comments cut)."""
    out = []
    text = README.read_text()
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            for part in line.split(";"):
                words = shlex.split(part, comments=True)
                if words[:1] == ["molmtl"]:
                    out.append(" ".join(words))
    return list(dict.fromkeys(out))  # in order, each once


def _files(folder: Path, qm9) -> None:
    """The files the examples name: a QM9 molecule as XYZ, CSVs of SMILES (with labels), a grouping, a config."""
    from molmtl.targets import TARGET_KEYS

    (folder / "mol.xyz").write_text(qm9.molecule(qm9.position_of_index(14)).to_xyz())
    rows = list(range(2000, 2030))
    with open(folder / "mols.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["smiles"])
        w.writerows([qm9.smiles[r]] for r in rows[:6])
    with open(folder / "my.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["smiles", "logS"])
        w.writerows([qm9.smiles[r], f"{0.1 * i - 1:.2f}"] for i, r in enumerate(rows))
    gap = qm9.targets[rows[:12], TARGET_KEYS.index("gap")]
    with open(folder / "external.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["smiles", "gap [eV]"])
        w.writerows([qm9.smiles[r], f"{g:.6f}"] for r, g in zip(rows, gap))
    (folder / "tiny.csv").write_text("smiles,name\n[H][H],hydrogen\nC,methane\n")
    (folder / "mols.smi").write_text("CCO ethanol\nFc1cccnc1 3-fluoropyridine\n")
    (folder / "ion.xyz").write_text("3\nwater radical cation\nO 0 0 0.1173\nH 0 0.7572 -0.4692\nH 0 -0.7572 -0.4692\n")
    (folder / "groups.json").write_text(json.dumps([["U0", "U"], ["homo", "lumo"]]))
    (folder / "run.toml").write_text('encoder = "gcn"\ntasks = ["U0", "homo"]\n[encoder_hp]\nhidden = 16\n')


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, qm9):
    """A working folder with the example files, and a cache folder holding QM9 and RDKit
    geometries for the molecules the tiny runs use (so nothing embeds all of QM9)."""
    from molmtl.config import TrainConfig
    from molmtl.data.cache import cache_dir
    from molmtl.data.rdkit_qm9 import prepare_rdkit_geometries

    folder = tmp_path_factory.mktemp("readme")
    cache = tmp_path_factory.mktemp("cache")
    for name in ("qm9-v1.npz", "qm9-extras-v1.npz"):
        (cache / name).symlink_to(cache_dir() / name)
    split = TrainConfig(max_molecules=24).split_for(len(qm9), qm9.canonical_smiles)
    prepare_rdkit_geometries(cache, qm9=qm9, rows=np.concatenate([split.train, split.val, split.test]))
    _files(folder, qm9)
    return folder, cache


def test_every_readme_command_has_a_tiny_run_here():
    found = readme_commands()
    missing = [c for c in found if c not in EXAMPLES]
    stale = [c for c in EXAMPLES if c not in found]
    assert not missing, f"README commands without a tiny run in EXAMPLES: {missing}"
    assert not stale, f"EXAMPLES no longer in the README: {stale}"


def test_every_readme_command_runs(workspace, monkeypatch, capsys):
    from molmtl.dft.device import gpu_available

    folder, cache = workspace
    monkeypatch.chdir(folder)
    monkeypatch.setenv("MOLMTL_CACHE", str(cache))
    monkeypatch.setenv("MOLMTL_DFT_STORE", str(folder / "dft.sqlite"))
    # an STL reference for 'evaluate runs/hard --stl-dir runs/single'
    assert main(["-q", "train", "--encoder", "gcn", "--strategy", "single", "--tasks", "all", "--out", "runs/single", *TINY]) == 0
    (folder / "src").symlink_to(README.parent / "src", target_is_directory=True)  # the README runs from the checkout
    failures = []
    commands = readme_commands()  # a prediction with a trained run's model comes after the training block
    commands = [c for c in commands if "--model runs/" not in c] + [c for c in commands if "--model runs/" in c]
    for command in commands:
        how = EXAMPLES[command]
        argv = shlex.split(command)[1:]
        capsys.readouterr()
        if isinstance(how, tuple) and how[0] == "gpu":
            if gpu_available():
                continue
            code, err = main(["-q", *argv]), capsys.readouterr().err
            if code != 2 or how[1] not in err:
                failures.append(f"{command}: expected the one-line GPU refusal, got exit {code}: {err[-300:]}")
            continue
        if isinstance(how, tuple) and how[0] == "show":
            assert main(["dft", "list"]) == 0
            keys = [line.split()[0] for line in capsys.readouterr().out.splitlines() if line.strip()]
            argv = ["dft", "show", keys[0]] if keys else argv
        elif isinstance(how, tuple) and how[0] == "replace":
            argv = list(how[1])
        elif isinstance(how, tuple) and how[0] == "process":
            proc = subprocess.run([sys.executable, "-m", "molmtl", "-q", *argv, *how[1]], capture_output=True, text=True,
                                  timeout=600)
            if proc.returncode != 0:
                failures.append(f"{command}: exit {proc.returncode}: {proc.stderr.strip()[-400:]}")
            continue
        elif how is not None:
            argv = [*argv, *how]
        code = main(["-q", *argv])
        captured = capsys.readouterr()
        if code != 0:
            failures.append(f"{command} (run as {' '.join(argv)}): exit {code}: {captured.err.strip()[-400:]}")
    assert not failures, "\n".join(failures)
    assert (folder / "runs" / "painn" / "model.pt").is_file() and (folder / "preds.csv").is_file()
