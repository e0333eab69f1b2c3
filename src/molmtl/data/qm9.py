"""QM9, offline: read qm9pack's CSVs once, keep a compact cache, look molecules up.

qm9pack (PyPI) ships the QM9 authors' data as CSVs: 130,831 molecules (the 3,054 that failed
QM9's consistency check are left out, as in PyTorch Geometric) with B3LYP/6-31G(2df,p) geometry
(Angstrom) and labels in Hartree / Debye / GHz / bohr. We read the files without importing
qm9pack (its ``__init__`` imports ``pkg_resources``), convert once to ``qm9-v1.npz`` and derive
the 19 PyG-style targets from the stored raw labels at load time.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from molmtl import units
from molmtl.chem.molecule import Molecule
from molmtl.chem.rdkit_util import inchikey, mol_from_smiles, quiet_rdkit
from molmtl.data.cache import atomic_path, cache_dir
from molmtl.errors import InputError, NotFoundError
from molmtl.targets import TARGET_KEYS

log = logging.getLogger(__name__)

CACHE_NAME = "qm9-v1.npz"
EXTRAS_NAME = "qm9-extras-v1.npz"
N_MOLECULES = 130_831

#: Raw label columns as stored in the cache, with qm9pack's CSV column and the unit.
RAW_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("A", "RotA_GHz", "GHz"),
    ("B", "RotB_GHz", "GHz"),
    ("C", "RotC_GHz", "GHz"),
    ("mu", "Dipole_debye", "D"),
    ("alpha", "Polarizability_bohr3", "bohr^3"),
    ("homo", "HOMO_au", "Ha"),
    ("lumo", "LUMO_au", "Ha"),
    ("gap", "HOMO_LUMO_gap_au", "Ha"),
    ("r2", "R2_bohr2", "bohr^2"),
    ("zpve", "ZPVE_au", "Ha"),
    ("U0", "InternalEnergy_0K_au", "Ha"),
    ("U", "InternalEnergy_298K_au", "Ha"),
    ("H", "Enthalphy_298K_au", "Ha"),  # sic: qm9pack's spelling
    ("G", "GibbsFreeEnergy_298K_au", "Ha"),
    ("cv", "Heatcapacity_Cv_cal_mol_K", "cal/(mol K)"),
)
RAW_KEYS = tuple(k for k, _, _ in RAW_COLUMNS)
RAW_UNITS = {k: u for k, _, u in RAW_COLUMNS}


def qm9pack_data_dir() -> Path:
    """qm9pack's data folder, found without importing the package."""
    spec = importlib.util.find_spec("qm9pack")
    if spec is None or not spec.submodule_search_locations:
        raise NotFoundError("the QM9 data package 'qm9pack' is not installed; run 'pip install qm9pack==1.0.3'")
    folder = Path(list(spec.submodule_search_locations)[0]) / "data"
    if not (folder / "qm9_part1.csv").is_file():
        raise NotFoundError(f"qm9pack is installed but its CSVs are missing from {folder}")
    return folder


def raw_to_targets(raw: np.ndarray, z: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The 19 PyG-order targets (PyG units) from raw QM9 labels ``(n, 15)``.

    Energies (Hartree) become eV; atomization energies subtract QM9's free-atom references.
    """
    col = {k: raw[:, i] for i, k in enumerate(RAW_KEYS)}
    counts = np.diff(offsets)
    mol_of_atom = np.repeat(np.arange(len(counts)), counts)
    refs = {}
    for q in ("U0", "U", "H", "G"):
        per_element = units.atom_reference_table_hartree(q)
        refs[q] = np.bincount(mol_of_atom, weights=per_element[z], minlength=len(counts))
    ev = units.HARTREE_TO_EV
    out = {
        "mu": col["mu"], "alpha": col["alpha"], "homo": col["homo"] * ev, "lumo": col["lumo"] * ev,
        "gap": col["gap"] * ev, "r2": col["r2"], "zpve": col["zpve"] * ev,
        "U0": col["U0"] * ev, "U": col["U"] * ev, "H": col["H"] * ev, "G": col["G"] * ev, "cv": col["cv"],
        "U0_atom": (col["U0"] - refs["U0"]) * ev, "U_atom": (col["U"] - refs["U"]) * ev,
        "H_atom": (col["H"] - refs["H"]) * ev, "G_atom": (col["G"] - refs["G"]) * ev,
        "A": col["A"], "B": col["B"], "C": col["C"],
    }
    return np.stack([out[k] for k in TARGET_KEYS], axis=1)


def _pack_strings(values) -> np.ndarray:
    return np.frombuffer("\n".join(values).encode("utf-8"), dtype=np.uint8)


def _unpack_strings(buffer: np.ndarray) -> list[str]:
    return buffer.tobytes().decode("utf-8").split("\n")


@dataclass
class QM9:
    """QM9 in memory: flat atom arrays with per-molecule offsets, raw labels, identifiers.

    Attributes:
        z: ``(n_atoms_total,)`` atomic numbers.
        pos: ``(n_atoms_total, 3)`` positions in Angstrom (float32).
        offsets: ``(n + 1,)`` molecule ``i`` owns atoms ``offsets[i]:offsets[i+1]``.
        raw: ``(n, 15)`` labels as QM9 gives them (see ``RAW_COLUMNS``).
        qm9_index: ``(n,)`` QM9's molecule number (1..133885).
        smiles: QM9's SMILES; ``canonical_smiles``: RDKit's; ``inchikey``: from QM9's InChI.
    """

    z: np.ndarray
    pos: np.ndarray
    offsets: np.ndarray
    raw: np.ndarray
    qm9_index: np.ndarray
    smiles: list[str]
    canonical_smiles: list[str]
    inchikey: list[str]
    path: Path | None = None

    def __len__(self) -> int:
        return len(self.qm9_index)

    @cached_property
    def targets(self) -> np.ndarray:
        """``(n, 19)`` float64 targets in PyG order and units."""
        return raw_to_targets(self.raw, self.z, self.offsets)

    @cached_property
    def n_atoms(self) -> np.ndarray:
        return np.diff(self.offsets)

    @cached_property
    def _row_of_index(self) -> dict[int, int]:
        return {int(q): i for i, q in enumerate(self.qm9_index)}

    @cached_property
    def _rows_of_inchikey(self) -> dict[str, list[int]]:
        table: dict[str, list[int]] = {}
        for i, key in enumerate(self.inchikey):
            table.setdefault(key, []).append(i)
        return table

    @cached_property
    def _rows_of_smiles(self) -> dict[str, list[int]]:
        table: dict[str, list[int]] = {}
        for i, smi in enumerate(self.canonical_smiles):
            table.setdefault(smi, []).append(i)
        return table

    def position_of_index(self, qm9_index: int) -> int:
        """Row of QM9 molecule ``qm9_index`` (QM9's own numbering)."""
        try:
            return self._row_of_index[int(qm9_index)]
        except KeyError:
            raise NotFoundError(
                f"QM9 has no molecule {qm9_index} in its 130,831 characterized molecules (ids run 1..133885)"
            ) from None

    def rows_for_inchikey(self, key: str) -> list[int]:
        return list(self._rows_of_inchikey.get(key, []))

    def rows_for_smiles(self, canonical: str) -> list[int]:
        return list(self._rows_of_smiles.get(canonical, []))

    def find(self, mol: Molecule) -> list[int]:
        """Rows whose molecule is ``mol``: by QM9 index, then InChIKey, then canonical SMILES."""
        return self.find_how(mol)[0]

    def find_how(self, mol: Molecule) -> tuple[list[int], str | None]:
        """:meth:`find`'s rows and how they were found: ``QM9 id``, ``InChIKey``, ``canonical SMILES``,
        ``SMILES without stereo`` (None when not in QM9)."""
        if mol.qm9_index is not None:
            return [self.position_of_index(mol.qm9_index)], "QM9 id"
        if mol.smiles is None:
            return [], None
        try:
            rd = mol_from_smiles(mol.smiles)
        except InputError:  # a SMILES perceived from a geometry that RDKit cannot read back
            return [], None
        key = inchikey(rd)
        rows = self.rows_for_inchikey(key) if key else []
        if rows:
            return rows, "InChIKey"
        rows = self.rows_for_smiles(mol.smiles)
        if rows:
            return rows, "canonical SMILES"
        # QM9's SMILES (from GDB-9) carry no stereo: a stereo-specific input (C[C@H](O)C#N, F/C=C/F,
        # a 3D SDF of a chiral molecule) matches its stereo-free entry
        from rdkit import Chem  # lazy: RDKit is optional (XYZ-only hosts)

        flat = Chem.Mol(rd)
        Chem.RemoveStereochemistry(flat)
        rows = self.rows_for_smiles(Chem.MolToSmiles(flat))
        return rows, ("SMILES without stereo" if rows else None)

    def atoms(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """Atomic numbers and positions (Angstrom) of molecule ``row``."""
        a, b = self.offsets[row], self.offsets[row + 1]
        return self.z[a:b].astype(np.int64), self.pos[a:b].astype(np.float64)

    def molecule(self, row: int) -> Molecule:
        """Molecule ``row`` with its QM9 geometry."""
        z, pos = self.atoms(row)
        q = int(self.qm9_index[row])
        return Molecule(z, pos, smiles=self.canonical_smiles[row], name=f"qm9:{q}", qm9_index=q, source="qm9")

    def record(self, row: int) -> dict[str, float]:
        """The 19 targets of molecule ``row`` (PyG units), keyed by target key."""
        return dict(zip(TARGET_KEYS, (float(v) for v in self.targets[row])))

    def raw_record(self, row: int) -> dict[str, float]:
        """Labels of molecule ``row`` as QM9 prints them (Hartree, Debye, GHz, bohr)."""
        return dict(zip(RAW_KEYS, (float(v) for v in self.raw[row])))

    def extras(self, row: int) -> dict[str, np.ndarray]:
        """Mulliken charges (e), harmonic frequencies (cm^-1), polarizability tensor (bohr^3)."""
        data = _load_extras(self.path.parent if self.path else None)
        a, b = self.offsets[row], self.offsets[row + 1]
        fa, fb = data["freq_offsets"][row], data["freq_offsets"][row + 1]
        xx, xy, yy, xz, yz, zz = data["polarizability"][row]
        tensor = np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]], dtype=np.float64)
        return {
            "mulliken_charges": data["mulliken"][a:b].astype(np.float64),
            "frequencies_cm1": data["frequencies"][fa:fb].astype(np.float64),
            "polarizability_tensor": tensor,
        }

    def subset(self, rows: np.ndarray) -> "QM9":
        """A new QM9 holding only ``rows`` (in that order)."""
        rows = np.asarray(rows, dtype=np.int64)
        counts = self.n_atoms[rows]
        offsets = np.concatenate([[0], np.cumsum(counts)])
        atom_rows = np.concatenate([np.arange(self.offsets[r], self.offsets[r + 1]) for r in rows]) if len(rows) else np.zeros(0, int)
        pick = lambda seq: [seq[r] for r in rows]  # noqa: E731
        return QM9(self.z[atom_rows], self.pos[atom_rows], offsets, self.raw[rows], self.qm9_index[rows],
                   pick(self.smiles), pick(self.canonical_smiles), pick(self.inchikey), self.path)


_EXTRAS: dict[Path | None, dict] = {}


def _load_extras(folder: Path | None) -> dict:
    path = (folder or cache_dir()) / EXTRAS_NAME
    if path not in _EXTRAS:
        if not path.is_file():
            raise NotFoundError(f"QM9 extras cache {path} is missing; run 'molmtl data prepare'")
        with np.load(path) as f:
            _EXTRAS[path] = {k: f[k] for k in f.files}
    return _EXTRAS[path]


def _numbers(text: str) -> np.ndarray:
    """Flat float array from a bracketed list such as ``[[0.1,2.*^-6],[1.,2.]]``.

    The CSVs keep Mathematica-style exponents (``*^``) and bare trailing dots, which JSON rejects.
    """
    body = text.replace("[", " ").replace("]", " ").replace("*^", "e").replace(",", " ")
    return np.array(body.split(), dtype=np.float64)


def _parse_csvs(folder: Path) -> dict[str, np.ndarray | list]:
    import pandas as pd  # lazy: a second to import; only preparing the cache needs it

    frames = []
    for part in ("qm9_part1.csv", "qm9_part2.csv", "qm9_part3.csv"):
        log.info("reading %s", part)
        frames.append(pd.read_csv(folder / part))
    df = pd.concat(frames, ignore_index=True)
    polar = pd.read_csv(folder / "qm9_polarizability.csv")
    df = df.merge(polar, on="XYZ_file", how="left", validate="one_to_one").sort_values("Index", kind="stable")
    log.info("parsing %d geometries", len(df))
    coords = [_numbers(s).reshape(-1, 3) for s in df["XYZ_Ang"]]
    elements = [json.loads(s.replace("'", '"')) for s in df["Elements"]]
    z = np.concatenate([[units.ATOMIC_NUMBERS[e] for e in els] for els in elements]).astype(np.int8)
    counts = np.array([len(c) for c in coords])
    if not np.array_equal(counts, df["N_atoms"].to_numpy()):
        raise ValueError("qm9pack CSV: atom counts disagree with the coordinates")
    mulliken = np.concatenate([_numbers(s) for s in df["Mulliken_pop"]]).astype(np.float32)
    freqs = [_numbers(s) for s in df["Harmonic_Freq_cmi"]]
    freq_counts = np.array([len(f) for f in freqs])
    return {
        "z": z,
        "pos": np.concatenate(coords).astype(np.float32),
        "offsets": np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        "raw": np.stack([df[col].to_numpy(dtype=np.float64) for _, col, _ in RAW_COLUMNS], axis=1),
        "qm9_index": df["Index"].to_numpy(dtype=np.int32),
        "smiles": list(df["SMILES"]),
        "inchi": list(df["InChi"]),
        "mulliken": mulliken,
        "frequencies": np.concatenate(freqs).astype(np.float32),
        "freq_offsets": np.concatenate([[0], np.cumsum(freq_counts)]).astype(np.int64),
        "polarizability": df[["A_xx", "A_xy", "A_yy", "A_xz", "A_yz", "A_zz"]].to_numpy(dtype=np.float32),
    }


def _identifiers(smiles: list[str], inchis: list[str]) -> tuple[list[str], list[str]]:
    from rdkit import Chem  # lazy: RDKit is optional (XYZ-only hosts)

    canon, keys = [], []
    t0 = time.perf_counter()
    with quiet_rdkit():
        for i, (smi, inchi) in enumerate(zip(smiles, inchis)):
            mol = Chem.MolFromSmiles(smi)
            canon.append(Chem.MolToSmiles(mol) if mol is not None else smi)
            keys.append(Chem.InchiToInchiKey(inchi) or "")
            if (i + 1) % 20000 == 0:
                log.info("identifiers: %d/%d (%.0f s)", i + 1, len(smiles), time.perf_counter() - t0)
    return canon, keys


def prepare_qm9(folder: str | Path | None = None, *, source: Path | None = None, force: bool = False) -> Path:
    """Convert qm9pack's CSVs into ``qm9-v1.npz`` (and extras) under ``folder``; returns the path.

    Takes about 20 s; does nothing if the cache exists unless ``force``.
    """
    out = cache_dir(folder) / CACHE_NAME
    if out.is_file() and (out.parent / EXTRAS_NAME).is_file() and not force:
        log.info("QM9 cache already at %s", out)
        return out
    try:  # before the 20 s of parsing, and as one sentence rather than a traceback
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the cache directory {out.parent}: {exc.strerror or exc}") from None
    data = _parse_csvs(source or qm9pack_data_dir())
    if len(data["qm9_index"]) != N_MOLECULES:
        log.warning("qm9pack holds %d molecules, expected %d", len(data["qm9_index"]), N_MOLECULES)
    canon, keys = _identifiers(data["smiles"], data["inchi"])
    with atomic_path(out.parent / EXTRAS_NAME) as tmp:
        np.savez(tmp, mulliken=data["mulliken"], frequencies=data["frequencies"],
                 freq_offsets=data["freq_offsets"], polarizability=data["polarizability"])
    with atomic_path(out) as tmp:
        np.savez(tmp, z=data["z"], pos=data["pos"], offsets=data["offsets"], raw=data["raw"],
                 qm9_index=data["qm9_index"], smiles=_pack_strings(data["smiles"]),
                 canonical_smiles=_pack_strings(canon), inchikey=_pack_strings(keys),
                 raw_keys=np.array(RAW_KEYS))
    log.info("wrote %s (%.1f MB)", out, out.stat().st_size / 1e6)
    return out


def load_qm9(folder: str | Path | None = None, *, prepare: bool = True) -> QM9:
    """QM9 from the cache (preparing it first when missing and ``prepare``)."""
    path = Path(folder) if folder and Path(folder).is_file() else cache_dir(folder) / CACHE_NAME
    if not path.is_file():
        if not prepare:
            raise NotFoundError(f"no QM9 cache at {path}; run 'molmtl data prepare'")
        log.warning("QM9 cache not found at %s; preparing it from qm9pack (about 20 s, once)", path)
        path = prepare_qm9(path.parent)
    try:
        with np.load(path) as f:
            if tuple(f["raw_keys"]) != RAW_KEYS:
                raise InputError(f"{path} was written by another molmtl version; run 'molmtl data prepare --force'")
            return QM9(f["z"], f["pos"], f["offsets"], f["raw"], f["qm9_index"], _unpack_strings(f["smiles"]),
                       _unpack_strings(f["canonical_smiles"]), _unpack_strings(f["inchikey"]), path)
    except (OSError, KeyError, ValueError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"the QM9 cache {path} is unreadable ({exc}); run 'molmtl data prepare --force'") from None
