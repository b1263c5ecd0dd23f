"""Matplotlib/seaborn helpers shared by the experiments (the library ``vinf`` never plots)."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import seaborn as sns  # noqa: E402

__all__ = ["style", "figure", "grid_density", "window", "outside", "gap_axis", "PALETTE", "WINDOW_MASS"]

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


WINDOW_MASS = 0.999  # the (log tau, theta_1) panels show this central mass of q's and NUTS's draws together


def window(*samples, mass=WINDOW_MASS):
    """``(low, high)`` holding the central ``mass`` of the pooled samples, with a 5 % margin."""
    pooled = np.concatenate([np.ravel(x) for x in samples])
    low, high = np.quantile(pooled, [(1 - mass) / 2, (1 + mass) / 2])
    pad = 0.05 * (high - low)
    return low - pad, high + pad


def outside(x, limits):
    """The fraction of ``x`` outside ``limits``."""
    x = np.ravel(x)
    return float(np.mean((x < limits[0]) | (x > limits[1])))


GAP_LINEAR = 1e-2  # gaps to log Z below this (nats) are drawn on a linear scale, zero and below included


def gap_axis(ax, gaps):
    """A log-like axis for gaps to log Z that keeps a gap at or below zero (an ELBO at log Z, or above it: a
    bug) in view: symmetric-log, linear within ``GAP_LINEAR`` of zero, with zero marked."""
    gaps = np.asarray(gaps, dtype=float)
    ax.set_xscale("symlog", linthresh=GAP_LINEAR)
    ax.axvline(0.0, color="0.3", lw=0.8)
    ax.set_xlim(min(-GAP_LINEAR, 1.5 * gaps.min()), 1.5 * max(gaps.max(), GAP_LINEAR))
