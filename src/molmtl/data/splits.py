"""Train/validation/test splits: QM9's standard random split, a scaffold split, files, subsets."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from molmtl.chem.rdkit_util import quiet_rdkit
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


def random_split(n: int, sizes: tuple[int, int] | None = None, seed: int = STANDARD_SEED) -> Split:
    """``numpy.random.RandomState(seed).permutation(n)`` cut into train, validation and the rest.

    Without ``sizes``, on QM9's 130,831 molecules this is the standard 110,000 / 10,000 / 10,831
    split; a dataset too small for those sizes is cut 80/10/10. ``sizes`` are taken as given.
    """
    if sizes is None:
        sizes = STANDARD_SIZES if sum(STANDARD_SIZES) < n else (int(0.8 * n), int(0.1 * n))
    n_train, n_val = (int(v) for v in sizes)
    if n_train < 0 or n_val < 0 or n_train + n_val > n:
        raise InputError(f"split sizes {n_train} + {n_val} do not fit {n} molecules")
    perm = np.random.RandomState(seed).permutation(n)
    return Split(f"random-{seed}", n, perm[:n_train], perm[n_train : n_train + n_val], perm[n_train + n_val :])


def murcko_scaffold(smiles: str) -> str:
    """Bemis-Murcko scaffold SMILES ('' for acyclic molecules or unparsable SMILES)."""
    from rdkit import Chem  # lazy: RDKit is optional (XYZ-only hosts)
    from rdkit.Chem.Scaffolds import (
        MurckoScaffold,  # lazy: RDKit is optional (XYZ-only hosts)
    )

    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return ""
    return MurckoScaffold.MurckoScaffoldSmiles(mol=mol, includeChirality=False)


def scaffold_split(smiles: list[str], fractions: tuple[float, float] = (0.8, 0.1)) -> Split:
    """Deterministic scaffold split: molecules grouped by Bemis-Murcko scaffold, largest groups
    to train first, then validation, then test, so no scaffold spans two parts."""
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


def are_fractions(sizes) -> bool:
    """Split sizes are fractions when any of them is a float (``0.8, 0.1``), else counts (``1000, 100``)."""
    return any(isinstance(v, float) for v in sizes)


def check_sizes(sizes) -> tuple:
    """``(train, val)`` sizes as given, checked: two fractions in [0, 1] with a sum of at most 1, or
    two counts >= 0 (the test part is the rest). InputError otherwise."""
    values = tuple(sizes)
    if len(values) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) and v >= 0
                                   for v in values):
        raise InputError(f"split sizes are two numbers >= 0, training and validation (the test part is the rest); got {sizes!r}")
    if are_fractions(values):
        if sum(values) > 1.0 + 1e-9:
            raise InputError(f"split fractions {values[0]:g} + {values[1]:g} exceed 1")
        return tuple(float(v) for v in values)
    return tuple(int(v) for v in values)


def split_counts(sizes, n: int) -> tuple[int, int]:
    """Training and validation counts of ``n`` molecules from :func:`check_sizes`' sizes (fractions
    round down); InputError if counts leave no room in ``n``."""
    sizes = check_sizes(sizes)
    if are_fractions(sizes):
        return int(sizes[0] * n + 1e-9), int(sizes[1] * n + 1e-9)
    if sizes[0] + sizes[1] > n:
        raise InputError(f"split sizes {sizes[0]} + {sizes[1]} are more than the {n} molecules there are")
    return sizes


def make_split(spec: str, n: int, smiles: list[str] | None = None, sizes=None) -> Split:
    """Split from a CLI string: ``random`` (standard, seed 42), ``random:SEED``, ``scaffold``, or a file.

    ``sizes`` (:func:`check_sizes`: two fractions or two counts, training and validation) applies
    to random and scaffold splits; without it random splits take QM9's standard sizes (80/10/10
    fractions for datasets smaller than them) and scaffold splits 80/10/10.
    """
    text = spec.strip()
    if text in ("random", "standard") or text.startswith("random:"):
        seed = STANDARD_SEED
        if text.startswith("random:"):
            try:
                seed = int(text.split(":", 1)[1])
            except ValueError:
                raise InputError(f"bad split {spec!r}: the seed after 'random:' must be an integer") from None
        return random_split(n, None if sizes is None else split_counts(sizes, n), seed)
    if text == "scaffold":
        if smiles is None:
            raise InputError("a scaffold split needs SMILES for every molecule")
        if sizes is None:
            return scaffold_split(smiles)
        n_train, n_val = split_counts(sizes, n)
        return scaffold_split(smiles, (n_train / max(n, 1), n_val / max(n, 1)))
    if sizes is not None:
        raise InputError(f"split sizes apply to random and scaffold splits, not to the split file {text}")
    if Path(text).suffix == ".json" or Path(text).exists():
        split = Split.load(text)
        if split.n != n:
            raise InputError(f"split file {text} is for {split.n} molecules, but the dataset has {n}")
        return split
    raise InputError(f"unknown split {spec!r}; use random, random:SEED, scaffold or a split .json file")


def cut_split(split: Split, max_molecules: int | None) -> Split:
    """Quick runs: the first ``max_molecules`` training rows, and a fifth of that (at least 16) of
    validation and test (None: the split as it is)."""
    if max_molecules is None:
        return split
    n_eval = max(max_molecules // 5, 16)
    return split.head(max_molecules, n_eval, n_eval)
