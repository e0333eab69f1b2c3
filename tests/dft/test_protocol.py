"""The protocol end to end: optimization, Hessian, and the real QM9 level (slow)."""

from __future__ import annotations

import numpy as np
import pytest

from molmtl.dft.protocol import QM9Protocol

SMALL = dict(basis="sto-3g", convention="spherical", grid=(40, 110), device="cpu", polarizability=False)


def test_optimization_then_frequencies_is_a_minimum(water):
    proto = QM9Protocol(**SMALL, optimize=True, thermo=True)
    res = proto.run(water.with_positions(water.positions * 1.05))  # stretched start
    assert res.n_imaginary == 0 and len(res.frequencies_cm1) == 3
    assert set(res.timings_s) == {"optimization", "scf", "properties", "hessian"}
    r = np.asarray(res.positions_angstrom)
    assert 0.95 < np.linalg.norm(r[1] - r[0]) < 1.05  # B3LYP/STO-3G O-H
    assert res.raw["U0"] == pytest.approx(res.raw["e_elec"] + res.raw["zpve"])
    assert res.raw["G"] < res.raw["U"] < res.raw["H"]
    assert "U0_atom" not in res.properties and "not QM9's level" in res.warnings[0]


def test_settings_round_trip_and_method_label():
    proto = QM9Protocol(optimize=False)
    assert QM9Protocol.from_settings(proto.settings()) == QM9Protocol(optimize=False, device="auto")
    assert proto.method == "B3LYPG/6-31G(2df,p) [Gaussian, 6D/7F]"
    assert "device" not in proto.settings()  # same numbers on CPU and GPU: same store key


def test_store_key_covers_the_codes_that_move_the_geometry(water):
    from molmtl.dft.jobs import job_key

    assert set(QM9Protocol(optimize=False).versions()) == {"molmtl", "pyscf"}
    assert "geometric" in QM9Protocol(optimize=True).versions()
    assert "tblite" in QM9Protocol(optimize=True, xtb_preopt=True).versions()
    keys = {job_key(water, QM9Protocol(optimize=o, xtb_preopt=x))[0] for o, x in ((False, False), (True, False), (True, True))}
    assert len(keys) == 3


@pytest.mark.slow
def test_real_protocol_single_point_reproduces_qm9_water(qm9_small):
    """QM9 id 3 at its geometry, full property set vs QM9's labels (about 1 min on 2 cores)."""
    mol, raw, _ = qm9_small[3]
    res = QM9Protocol(optimize=False, device="cpu").run(mol)
    tol = {"homo": 5.5e-5, "lumo": 5.5e-5, "gap": 5.5e-5, "mu": 1e-3, "alpha": 6e-3, "r2": 1e-3, "zpve": 3.7e-5,
           "U0": 1e-4, "U": 1e-4, "H": 1e-4, "G": 1e-4, "cv": 1e-3}
    for key, t in tol.items():
        assert abs(res.raw[key] - raw[key]) < t, key
    for key in ("A", "B", "C"):
        assert res.raw[key] == pytest.approx(raw[key], rel=5e-6)


@pytest.mark.gpu
def test_gpu_matches_cpu(qm9):  # runs only where GPU4PySCF and a GPU are
    mol = qm9.molecule(qm9.position_of_index(4))  # C2H2
    cpu = QM9Protocol(optimize=False, thermo=False, device="cpu").run(mol)
    gpu = QM9Protocol(optimize=False, thermo=False, device="gpu").run(mol)
    assert gpu.device == "gpu"
    for key in ("e_elec", "homo", "lumo", "mu", "r2", "alpha"):
        assert gpu.raw[key] == pytest.approx(cpu.raw[key], abs=1e-5), key


@pytest.mark.gpu
@pytest.mark.parametrize("density_fit", [False, True])
def test_gpu_projected_gradient_matches_cpu(qm9, density_fit):
    """The optimizer's energy and gradient (6D/7F projection, exact or density-fitted) agree on CPU and GPU."""
    from molmtl.dft.projected import cartesian_shadow

    mol = qm9.molecule(qm9.position_of_index(5))  # HCN
    p = QM9Protocol(optimize=False, thermo=False, density_fit=density_fit)
    out = {}
    for device in ("cpu", "gpu"):
        mf = p.scf(p.build_mole(mol.atomic_numbers, mol.positions_bohr), device)
        grad = cartesian_shadow(mf).nuc_grad_method()
        grad.verbose = 0
        g = grad.kernel()
        out[device] = (float(mf.e_tot), np.asarray(g.get() if hasattr(g, "get") else g))
    assert out["gpu"][0] == pytest.approx(out["cpu"][0], abs=1e-7)
    np.testing.assert_allclose(out["gpu"][1], out["cpu"][1], atol=2e-6)


def test_xtb_preoptimization_moves_the_geometry(water):
    start = water.with_positions(water.positions * 1.08)
    res = QM9Protocol(**SMALL, optimize=False, thermo=False, xtb_preopt=True).run(start)
    assert "xtb_preopt" in res.timings_s
    r = np.asarray(res.positions_angstrom)
    assert abs(np.linalg.norm(r[1] - r[0]) - 0.96) < 0.02  # GFN2-xTB O-H, from a 1.08x stretched start


def test_geometric_leaves_the_logging_setup_alone():
    import logging

    from molmtl.dft.basis import build_mole
    from molmtl.dft.optimize import optimize_geometry

    root = logging.getLogger()
    ours = logging.StreamHandler()
    root.addHandler(ours)
    before, level = root.handlers[:], root.level
    try:
        mol = build_mole([1, 1], [[0, 0, 0], [0, 0, 1.6]], basis="sto-3g", convention="spherical")

        def harmonic(m):  # H-H spring with its minimum at 1.4 bohr
            r = m.atom_coords()
            d = r[1] - r[0]
            dist = np.linalg.norm(d)
            g = (dist - 1.4) * d / dist
            return 0.5 * (dist - 1.4) ** 2, np.array([-g, g])

        pos, _ = optimize_geometry(mol, harmonic)
        assert np.linalg.norm(pos[1] - pos[0]) == pytest.approx(1.4, abs=1e-3)
        assert root.handlers == before and root.level == level
    finally:
        root.removeHandler(ours)


def test_density_fitted_derivatives_move_geometry_and_frequencies_little(water):
    """``df_derivatives``: optimization and Hessian density-fitted, the reported energy exact."""
    small = {**SMALL, "basis": "6-31g*"}
    start = water.with_positions(water.positions * 1.05)
    exact = QM9Protocol(**small, optimize=True, thermo=True).run(start)
    fitted = QM9Protocol(**small, optimize=True, thermo=True, df_derivatives=True).run(start)
    shift = np.abs(np.subtract(fitted.positions_angstrom, exact.positions_angstrom)).max()
    assert 0 < shift < 1e-3  # Angstrom: a different optimization, ending where the exact one does
    assert fitted.raw["e_elec"] == pytest.approx(exact.raw["e_elec"], abs=1e-7)  # second order in the shift
    dfreq = np.abs(np.subtract(fitted.frequencies_cm1, exact.frequencies_cm1))
    assert 1e-4 < dfreq.max() < 1.0  # cm^-1: a density-fitted Hessian, close to the exact one
    assert fitted.raw["zpve"] == pytest.approx(exact.raw["zpve"], abs=4e-6)  # 0.1 meV
    # the final SCF is exact: a fresh exact SCF at the final geometry gives the same energy
    at_end = water.with_positions(np.asarray(fitted.positions_angstrom))
    single = QM9Protocol(**small, optimize=False, thermo=False).run(at_end)
    assert fitted.raw["e_elec"] == pytest.approx(single.raw["e_elec"], abs=1e-8)
    assert fitted.raw["homo"] == pytest.approx(single.raw["homo"], abs=1e-6)


def test_df_derivatives_enters_the_store_key_only_when_set():
    assert "df_derivatives" not in QM9Protocol().settings()  # keys of earlier results still match
    proto = QM9Protocol(df_derivatives=True)
    assert proto.settings()["df_derivatives"] is True
    assert QM9Protocol.from_settings(proto.settings()) == QM9Protocol(df_derivatives=True, device="auto")
    from molmtl.errors import InputError

    with pytest.raises(InputError, match="choose one"):  # the same calculation under two keys otherwise
        QM9Protocol(df_derivatives=True, density_fit=True)
