r"""A small network that predicts each property's error scale from a molecule's embedding.

A two-hidden-layer MLP :math:`g: e \mapsto (g_1, \dots, g_T)` is trained on the validation
residuals by the Laplace negative log-likelihood of the scaled absolute residuals
:math:`a_t = |r_t| / \overline{|r_t|}`,

.. math::
    L = \frac{1}{nT} \sum_{i,t} g_t(e_i) + a_{it}\, e^{-g_t(e_i)},

(its minimum is at :math:`e^{g_t} = \mathrm{E}[a_t \mid e]`; the Laplace form is less swayed
by the heavy tails of QM9 errors than a Gaussian one), all properties at once so that they
share the hidden layers. It is cross-fitted: the validation molecules are cut into ``folds``
parts, one network per part is trained on the others, and each molecule's :math:`g` is that of
the network that never saw it; a new molecule gets the mean :math:`g` of all of them. Training
runs on one CPU thread (these matrices are too small for more to help; on a shared machine
several threads made them far slower); prediction is plain numpy.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

#: Hidden width, epochs, folds, AdamW's learning rate and weight decay, minibatch size.
HIDDEN, EPOCHS, FOLDS, LR, WEIGHT_DECAY, BATCH = 64, 30, 5, 3e-3, 1e-2, 512


@contextmanager
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _train(x: torch.Tensor, a: torch.Tensor, seed: int, *, hidden: int, epochs: int) -> nn.Sequential:
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # the layers' initialization
    net = nn.Sequential(nn.Linear(x.shape[1], hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                        nn.Linear(hidden, a.shape[1]))
    opt = torch.optim.AdamW(net.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    known = torch.isfinite(a)
    a = torch.nan_to_num(a)
    for _ in range(epochs):
        for batch in torch.randperm(len(x), generator=gen).split(BATCH):
            g = net(x[batch])
            loss = ((g + a[batch] * torch.exp(-g)) * known[batch]).sum() / known[batch].sum().clamp(min=1)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net


def fit_scale_network(emb: np.ndarray, residual: np.ndarray, *, folds: int = FOLDS, hidden: int = HIDDEN,
                      epochs: int = EPOCHS, seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Cross-fitted networks on ``emb (n, E)`` and ``residual (n, T)`` (NaN: no label).

    Returns:
        ``(params, out_of_fold)``: the networks' weights as arrays (``mean``, ``std`` of the
        input; per layer ``w{k}`` ``(folds, in, out)`` and ``b{k}`` ``(folds, out)``; ``lo``,
        ``hi``: the out-of-fold range of g, to which :func:`scale_network` clips), and
        ``(n, T)`` each molecule's :math:`g` from the network that was not trained on it.
    """
    emb = np.asarray(emb, dtype=np.float32)
    mean, std = emb.mean(axis=0), emb.std(axis=0) + 1e-6
    scale = np.nanmean(np.abs(residual), axis=0)
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
    x = torch.from_numpy((emb - mean) / std)
    a = torch.from_numpy((np.abs(residual) / scale).astype(np.float32))
    folds = max(2, min(folds, len(emb)))
    fold = np.random.default_rng(seed).permutation(len(emb)) % folds
    out = np.zeros(residual.shape, dtype=np.float64)
    layers: list[list[tuple[np.ndarray, np.ndarray]]] = []
    with _one_thread():
        for k in range(folds):
            net = _train(x[fold != k], a[fold != k], seed + k, hidden=hidden, epochs=epochs)
            with torch.no_grad():
                out[fold == k] = net(x[fold == k]).double().numpy()
            layers.append([(m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy())
                           for m in net if isinstance(m, nn.Linear)])
    # a new molecule's g is clipped to the range the validation molecules had: far outside it a
    # network extrapolates anywhere (there the latent distance speaks)
    params = {"mean": mean, "std": std, "lo": out.min(axis=0).astype(np.float32), "hi": out.max(axis=0).astype(np.float32)}
    for j in range(len(layers[0])):
        params[f"w{j}"] = np.stack([fold_layers[j][0] for fold_layers in layers])
        params[f"b{j}"] = np.stack([fold_layers[j][1] for fold_layers in layers])
    return params, out


def scale_network(params: dict[str, np.ndarray], emb: np.ndarray) -> np.ndarray:
    """``(n, T)`` the mean :math:`g` of the cross-fitted networks for embeddings ``emb (n, E)``,
    clipped to the validation molecules' range."""
    h = ((np.asarray(emb, dtype=np.float32) - params["mean"]) / params["std"])[None]  # (1, n, E)
    n_layers = sum(1 for k in params if k[0] == "w")
    for j in range(n_layers):
        h = np.matmul(h, params[f"w{j}"]) + params[f"b{j}"][:, None, :]
        if j < n_layers - 1:
            with np.errstate(over="ignore"):
                h = h / (1.0 + np.exp(-h))  # SiLU; exp overflows to inf for h << 0, giving -0
    g = h.mean(axis=0).astype(np.float64)
    return np.clip(g, params["lo"], params["hi"]) if "lo" in params else g


__all__ = ["fit_scale_network", "scale_network"]
