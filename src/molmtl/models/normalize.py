r"""Target normalization: per-element references for extensive targets, standardization.

For a target with a ``sum`` readout (energies, ZPVE, alpha, R2, Cv) most of the value is a sum of
per-element contributions; a least-squares fit of the element count matrix :math:`C` (molecules x
elements) to the labels gives references :math:`e_Z`, and the network learns the standardized
residual:

.. math::
    \tilde y = \frac{y - \sum_Z C_Z e_Z - \mu_r}{\sigma_r}

Targets with a ``mean`` readout are standardized, :math:`\tilde y = (y - \mu)/\sigma`; ``dipole``
targets are divided by their root mean square and not shifted, :math:`\tilde y = y / \sqrt{\langle
y^2\rangle}`, so the (non-negative) norm a dipole head predicts stays a norm.

All statistics are kept as float64 buffers, so they are saved with a checkpoint's ``state_dict``
and total energies (about -10,000 eV for QM9) keep meV precision. NaN labels are ignored by the
fit and stay NaN.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from molmtl.models.base import MAX_Z
from molmtl.targets import Target


def element_counts(z: Tensor, mask: Tensor, max_z: int = MAX_Z, dtype=torch.float64) -> Tensor:
    """``(B, max_z + 1)`` number of atoms of each element per molecule from padded ``z``/``mask`` ``(B, N)``."""
    counts = torch.zeros(z.shape[0], max_z + 1, dtype=dtype, device=z.device)
    return counts.scatter_add_(1, z.long(), mask.to(dtype))


def fit_element_references(counts: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares per-element references ``(n_elements,)`` with ``counts @ ref ~ y``.

    Rows with NaN ``y`` are ignored; elements absent from the remaining rows get reference 0.
    """
    ok = np.isfinite(y)
    c, yy = counts[ok], y[ok]
    present = c.sum(axis=0) > 0
    ref = np.zeros(counts.shape[1])
    if ok.any():
        ref[present] = np.linalg.lstsq(c[:, present], yy, rcond=None)[0]
    return ref


class TargetScaler(nn.Module):
    """Maps labels in the registry's units to the normalized units heads predict, and back.

    Args:
        targets (Sequence[Target]): the tasks, in column order.
        max_z (int, optional): largest atomic number with a reference. (default: :obj:`10`)

    Buffers (all float64): ``ref`` ``(T, max_z + 1)`` per-element references (0 for non-sum
    targets), ``shift`` ``(T,)`` and ``scale`` ``(T,)``. Build a fitted one with :meth:`fit`; an
    unfitted one is the identity.
    """

    def __init__(self, targets: Sequence[Target], max_z: int = MAX_Z):
        super().__init__()
        self.targets = tuple(targets)
        self.max_z = max_z
        T = len(self.targets)
        self.register_buffer("ref", torch.zeros(T, max_z + 1, dtype=torch.float64))
        self.register_buffer("shift", torch.zeros(T, dtype=torch.float64))
        self.register_buffer("scale", torch.ones(T, dtype=torch.float64))
        self.register_buffer("target_index", torch.tensor([t.index for t in self.targets], dtype=torch.long))

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(t.key for t in self.targets)

    @classmethod
    def fit(cls, y, z, mask, targets: Sequence[Target], max_z: int = MAX_Z) -> "TargetScaler":
        """Fit references and scales.

        Args:
            y: ``(n, T)`` labels in the registry's units, NaN where missing (array or tensor).
            z: ``(n, N)`` atomic numbers, 0 for padding.
            mask: ``(n, N)`` True for real atoms.
            targets: the ``T`` targets, in column order.
        """
        scaler = cls(targets, max_z)
        y = np.asarray(torch.as_tensor(y).detach().cpu(), dtype=np.float64)
        if y.ndim != 2 or y.shape[1] != len(scaler.targets):
            raise ValueError(f"y has shape {y.shape}, expected (n, {len(scaler.targets)})")
        counts = element_counts(torch.as_tensor(z).cpu(), torch.as_tensor(mask).cpu(), max_z).numpy()
        ref = np.zeros((len(scaler.targets), max_z + 1))
        shift, scale = np.zeros(len(scaler.targets)), np.ones(len(scaler.targets))
        for t, target in enumerate(scaler.targets):
            col = y[:, t]
            if target.readout == "sum":
                ref[t] = fit_element_references(counts, col)
                col = col - counts @ ref[t]
            finite = col[np.isfinite(col)]
            if finite.size == 0:
                continue
            if target.readout == "dipole":
                s = float(np.sqrt(np.mean(finite**2)))
            else:
                shift[t], s = float(finite.mean()), float(finite.std())
            scale[t] = s if np.isfinite(s) and s > 0 else 1.0
        scaler.ref.copy_(torch.from_numpy(ref))
        scaler.shift.copy_(torch.from_numpy(shift))
        scaler.scale.copy_(torch.from_numpy(scale))
        return scaler

    def baseline(self, batch) -> Tensor:
        """``(B, T)`` float64 per-element reference sums plus shifts for ``batch`` (anything with z, mask)."""
        counts = element_counts(batch.z, batch.mask, self.max_z).to(self.ref.device)
        return counts @ self.ref.T + self.shift

    def normalize(self, y: Tensor, batch) -> Tensor:
        """Labels ``(B, T)`` in the registry's units -> float32 normalized labels (NaN stays NaN)."""
        return ((y.to(torch.float64) - self.baseline(batch)) / self.scale).to(torch.float32)

    def denormalize(self, pred: Tensor, batch) -> Tensor:
        """Normalized predictions ``(B, T)`` -> float64 values in the registry's units."""
        return pred.to(torch.float64) * self.scale + self.baseline(batch)

    def extra_repr(self) -> str:
        return f"targets={','.join(self.keys)}"


__all__ = ["TargetScaler", "element_counts", "fit_element_references"]
