"""Matplotlib/seaborn helpers shared by the experiments (the library itself never plots)."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import seaborn as sns  # noqa: E402

__all__ = ["style", "figure", "PALETTE"]

PALETTE = dict(
    target="#c0392b",  # the true density / MCMC reference
    mcmc="#2471a3",
    mean_field="#7d3c98",
    planar="#17a589",
    radial="#d68910",
    base="#7f8c8d",
)


def style():
    """The house style: white grid, readable fonts, colour-blind-safe defaults."""
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 130, "axes.titlesize": 11})


def figure(nrows=1, ncols=1, size=3.6, **kwargs):
    """A grid of square-ish panels, ``size`` inches each."""
    style()
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False, **kwargs)
    return fig, axes if axes.size > 1 else axes[0, 0]


def grid_density(target, num=300):
    """``(X, Y, density normalised on the grid)`` of a 2-D target over its bounds."""
    axes, points = target.grid(num)
    log_p = target.log_prob_numpy(points).reshape(num, num)
    p = np.exp(log_p - log_p.max())
    cell = (axes[0][1] - axes[0][0]) * (axes[1][1] - axes[1][0])
    p /= p.sum() * cell
    X, Y = np.meshgrid(axes[0], axes[1], indexing="ij")
    return X, Y, p
