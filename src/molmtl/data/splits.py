"""Train/validation/test splits: QM9's standard random split, a scaffold split, files, subsets."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from molmtl.data.cache import atomic_path
from molmtl.errors import InputError, NotFoundError

#: The split used by DimeNet, PyTorch Geometric's examples and most QM9 papers.
STANDARD_SEED = 42
STANDARD_SIZES = (110_000, 10_000)  # train, validation; the rest (10,831 for QM9) is test


@dataclass(frozen=True)
class Split:
    """Row indices into a dataset for training, validation and test.

    Attributes:
        name: how it was made (``random-42``, ``scaffold``, a file name).
        n: size of the dataset the rows index.
        train, val, test: disjoint int64 row arrays.
    """

    name: str
    n: int
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    def __post_init__(self):
        for part in ("train", "val", "test"):
            object.__setattr__(self, part, np.asarray(getattr(self, part), dtype=np.int64))
        rows = np.concatenate([self.train, self.val, self.test])
        if len(rows) and (rows.min() < 0 or rows.max() >= self.n):
            raise InputError(f"split {self.name!r} has rows outside 0..{self.n - 1}")
        if len(np.unique(rows)) != len(rows):
            raise InputError(f"split {self.name!r} puts some molecules in more than one part")

    @property
    def id(self) -> str:
        """Short content hash: two splits with the same rows have the same id."""
        h = hashlib.sha1(str(self.n).encode())
        for part in (self.train, self.val, self.test):
            h.update(part.tobytes())
            h.update(b"|")
        return h.hexdigest()[:12]

    def sizes(self) -> tuple[int, int, int]:
        return len(self.train), len(self.val), len(self.test)

    def head(self, n_train: int | None = None, n_val: int | None = None, n_test: int | None = None) -> "Split":
        """The first ``n_*`` rows of each part (None keeps a part whole): quick runs and tests."""
        cut = lambda a, k: a if k is None else a[: max(0, int(k))]  # noqa: E731
        return Split(f"{self.name}[:{n_train},{n_val},{n_test}]", self.n, cut(self.train, n_train), cut(self.val, n_val), cut(self.test, n_test))

    def save(self, path: str | Path) -> Path:
        """Write as JSON (atomically)."""
        path = Path(path)
        body = {"name": self.name, "n": self.n, "id": self.id,
                "train": self.train.tolist(), "val": self.val.tolist(), "test": self.test.tolist()}
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(body))
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Split":
        path = Path(path)
        if not path.is_file():
            raise NotFoundError(f"split file not found: {path}")
        try:
            body = json.loads(path.read_text())
            return cls(body.get("name", path.stem), int(body["n"]), body["train"], body["val"], body["test"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:  # AttributeError: not an object
            raise InputError(f"{path} is not a molmtl split file (JSON with n, train, val, test): {exc}") from None


def random_split(n: int, sizes: tuple[int, int] = STANDARD_SIZES, seed: int = STANDARD_SEED) -> Split:
    """``numpy.random.RandomState(seed).permutation(n)`` cut into train, validation and the rest.

    With the defaults on QM9's 130,831 molecules this is the standard 110,000 / 10,000 / 10,831 split.
    Sizes larger than the dataset are scaled to 80/10/10 fractions.
    """
    n_train, n_val = sizes
    if n_train + n_val >= n:
        n_train, n_val = int(0.8 * n), int(0.1 * n)
    perm = np.random.RandomState(seed).permutation(n)
    return Split(f"random-{seed}", n, perm[:n_train], perm[n_train : n_train + n_val], perm[n_train + n_val :])


def murcko_scaffold(smiles: str) -> str:
    """Bemis-Murcko scaffold SMILES ('' for acyclic molecules or unparsable SMILES)."""
    from rdkit import Chem
    from rdkit.Chem.Scaffolds import MurckoScaffold

    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return ""
    return MurckoScaffold.MurckoScaffoldSmiles(mol=mol, includeChirality=False)


def scaffold_split(smiles: list[str], fractions: tuple[float, float] = (0.8, 0.1)) -> Split:
    """Deterministic scaffold split: molecules grouped by Bemis-Murcko scaffold, largest groups
    to train first, then validation, then test, so no scaffold spans two parts."""
    from molmtl.chem.rdkit_util import quiet_rdkit

    groups: dict[str, list[int]] = {}
    with quiet_rdkit():
        for i, smi in enumerate(smiles):
            groups.setdefault(murcko_scaffold(smi), []).append(i)
    ordered = sorted(groups.values(), key=lambda g: (-len(g), g[0]))
    n = len(smiles)
    cap_train, cap_val = fractions[0] * n, (fractions[0] + fractions[1]) * n
    train, val, test = [], [], []
    for g in ordered:
        if len(train) + len(g) <= cap_train:
            train += g
        elif len(train) + len(val) + len(g) <= cap_val:
            val += g
        else:
            test += g
    return Split("scaffold", n, sorted(train), sorted(val), sorted(test))


def make_split(spec: str, n: int, smiles: list[str] | None = None) -> Split:
    """Split from a CLI string: ``random`` (standard, seed 42), ``random:SEED``, ``scaffold``, or a file."""
    text = spec.strip()
    if text == "random" or text == "standard":
        return random_split(n)
    if text.startswith("random:"):
        try:
            return random_split(n, seed=int(text.split(":", 1)[1]))
        except ValueError:
            raise InputError(f"bad split {spec!r}: the seed after 'random:' must be an integer") from None
    if text == "scaffold":
        if smiles is None:
            raise InputError("a scaffold split needs SMILES for every molecule")
        return scaffold_split(smiles)
    if Path(text).suffix == ".json" or Path(text).exists():
        split = Split.load(text)
        if split.n != n:
            raise InputError(f"split file {text} is for {split.n} molecules, but the dataset has {n}")
        return split
    raise InputError(f"unknown split {spec!r}; use random, random:SEED, scaffold or a split .json file")
