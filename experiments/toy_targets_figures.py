"""Figures 17-35 and the mode study of the toy-targets experiment, and what the report measures on their draws.

Three figure shapes repeat over the targets, each drawn by one function:
``kde_and_hexbin`` (Figures 20, 23, 27, 29, 31), ``coloured_by_density``
(Figures 21, 24, 28, 32, one colour scale per figure) and ``flow_effect``
(Figures 25, 33); ``true_densities`` draws Figures 19, 22, 26, 30 and 34.
Every statement of the report about a figure rests on a number measured here
(``make_all`` returns them; the driver saves them under ``measured`` in
``results.json``): mass per mode or branch, the cut of Figure 25, the peaks of
``q_K``, the collapses of Figure 17, where mean field's start near the origin ends.
"""
import dataclasses
import inspect
import math

import numpy as np
from scipy import stats

import vinf
from vinf.plotting import PALETTE, figure

FLOWS = ("planar", "radial")
ENERGIES = ("energy1", "energy2", "energy3", "energy4")
ENERGY_WINDOW = ((-4.0, 4.0), (-5.0, 5.0))  # Figure 34's z1 range; z2 holds energy 4's lower branch
WINDOWS = {name: ENERGY_WINDOW for name in ENERGIES} | {"banana": ((-4.0, 12.0), (-7.0, 7.0))}  # else bounds
MASS_LEVELS = (0.99, 0.9, 0.5)  # true-density contours enclose these shares of the mass
QUADRANT_COLOURS = ("#e74c3c", "#2e86c1", "#27ae60", "#f1c40f")  # the study's red / blue / green / yellow
GRID = 150  # points per axis of density grids
HEX_GRID = 45  # hexagons across a hexbin panel
KDE_POINTS = 5000  # draws behind each KDE (scipy's cost grows with draws x grid points)
CONTOURS = ("(red lines: the true density's regions holding " + "/".join(f"{m:.0%}" for m in MASS_LEVELS)
            + " of its mass)")
BANANA_ARM = 6.0  # z1 beyond which the banana's arms are measured (Figures 27, 29)
# Figures 23-25's mixture (eqs. 83-84): vinf.targets.figure_eight's defaults (tests/test_toy_targets.py checks).
FIGURE_EIGHT = dict(weights=(0.5, 0.5), locs=((1.0, 1.0), (-1.0, -1.0)), covs=(0.45 * np.eye(2), 0.45 * np.eye(2)))
COLLAPSE = 0.5  # nats: a drop of the smoothed ELBO below its settled level that Figure 17 counts as a collapse
TAIL_FRACTION = 0.2  # Figure 17's noise is measured over this last share of the steps
CIRCLE_CENTRE = 2.0  # |z| below which the circle's centre is measured (Figure 31)
SECTOR_DEGREES = 10  # angular bins along the ring (Figure 33)
LOBES = (1.5, 2.5)  # |z1| of the circle's lobes, where the ring meets the bumps at z1 = +-2 (Figure 32)
RING_SIDES = 3.5  # |z1| beyond which the draws lie on the ring's sides, away from the bumps (Figure 32)
SYMMETRY_TOLERANCE = 1e-6  # a target with |log p(z) - log p(-z)| below this on its grid is point-symmetric


def figure_eight_phrase(covariance=True):
    """Figures 22-24's mixture as ``μ = (1, 1) / (−1, −1), Σ = 0.45 I``, from ``FIGURE_EIGHT``."""
    point = lambda v: "(" + ", ".join(f"{x:g}".replace("-", "−") for x in v) + ")"  # noqa: E731
    text = "μ = " + " / ".join(point(m) for m in FIGURE_EIGHT["locs"])
    if not covariance:
        return text
    covs = [np.asarray(c) for c in FIGURE_EIGHT["covs"]]
    isotropic = all(np.allclose(c, c[0, 0] * np.eye(len(c))) for c in covs) and all(
        np.allclose(c, covs[0]) for c in covs)
    return text + (f", Σ = {covs[0][0, 0]:g} I" if isotropic else
                   ", Σ = " + " / ".join(str(c.tolist()) for c in covs))


@dataclasses.dataclass(frozen=True)
class Panels:
    """The thesis figures of one 2-D target: true density, KDE + hexbin, coloured samples, flow effect."""

    title: str
    truth: int
    kde: int
    coloured: int
    effect: int = None


PANELS = {
    "gaussian_mixture": Panels("Gaussian mixture of section II (CAVI fit)", 19, 20, 21),
    "figure_eight": Panels(f"symmetric mixture, {figure_eight_phrase()} (eqs. 83-84)", 22, 23, 24, 25),
    "banana": Panels("banana (eq. 85)", 26, 27, 28),
    "circle": Panels("circle (eq. 86)", 30, 31, 32, 33),
}


# ------------------------------------------------------------------ densities


def push_forward(q, z0):
    """``z_K = f_K o ... o f_1(z_0)`` and ``log q_K(z_K) = log q_0(z_0) - sum_k log|det df_k/dz|`` (eq. 59).

    A mean-field surrogate has no flow: ``z_K = z_0``.
    """
    import tensorflow_probability as tfp

    base = getattr(q, "distribution", q)
    flow = getattr(q, "bijector", tfp.bijectors.Identity())
    z_k = flow.forward(z0)
    log_q = base.log_prob(z0) - flow.forward_log_det_jacobian(z0, event_ndims=1)
    return z_k.numpy().astype(np.float64), log_q.numpy().astype(np.float64)


def draw(q, num, seed):
    """``num`` draws of every member: ``z0``, ``zK`` ``[num, members, dim]`` and ``q_K(z_K)`` ``[num, members]``."""
    z0 = getattr(q, "distribution", q).sample(num, seed=(seed, 5))
    z_k, log_q = push_forward(q, z0)
    return dict(z0=z0.numpy().astype(np.float64), zK=z_k, q=np.exp(log_q))


def exact_line_density(q, member, low, high, num=2001):
    """A 1-D flow's density as a curve: a grid of ``z_0`` pushed forward, ``(z_K, q_K(z_K))`` (eq. 79).

    1-D planar and radial layers are monotone, so the pushed grid is ordered and
    the curve is exact. ``member`` indexes the batch; returns ``z0``, ``q0``, ``zK``, ``qK``.
    """
    base = getattr(q, "distribution", q)
    (members,) = base.batch_shape.as_list()
    z0 = np.repeat(np.linspace(low, high, num, dtype=np.float32)[:, None, None], members, axis=1)
    z_k, log_q = push_forward(q, z0)
    q0 = np.exp(base.log_prob(z0).numpy())
    return z0[:, member, 0], q0[:, member], z_k[:, member, 0], np.exp(log_q[:, member])


def true_line_density(target, x):
    """The normalised posterior ``exp(log p(z) - log Z)`` on ``x`` (``log Z`` by 1-D quadrature)."""
    return np.exp(target.log_prob_numpy(x[:, None]) - target.log_evidence())


def true_density(target, window, num=GRID):
    """``(X, Y, exp(log p - log Z))`` on a ``num x num`` grid over ``window``."""
    x, y = (np.linspace(lo, hi, num) for lo, hi in window)
    X, Y = np.meshgrid(x, y, indexing="ij")
    log_p = target.log_prob_numpy(np.stack([X.ravel(), Y.ravel()], axis=-1)).reshape(X.shape)
    return X, Y, np.exp(log_p - target.log_evidence())


def kde_density(z, window, num=GRID):
    """Gaussian KDE of draws ``z [N, dim]`` (Scott's rule, as the study), on a grid over ``window``.

    Returns ``(grid axes..., density)``; 1-D: ``(x, density)``, 2-D: ``(X, Y, density)``.
    """
    kde = stats.gaussian_kde(z[:KDE_POINTS].T, bw_method="scott")
    axes = [np.linspace(lo, hi, num) for lo, hi in window]
    mesh = np.meshgrid(*axes, indexing="ij")
    density = kde(np.stack([m.ravel() for m in mesh])).reshape(mesh[0].shape)
    return (*mesh, density)


def banana_arm_mass(threshold):
    """``P(z1 > threshold)`` under the banana of eq. 85, by quadrature:
    ``E_{z2 ~ N(0, 2^2)}[Phi(z2^2 / 4 - threshold)]``."""
    from scipy import integrate

    value, _ = integrate.quad(lambda z2: stats.norm.pdf(z2, 0.0, 2.0) * stats.norm.cdf(z2**2 / 4.0 - threshold),
                              -np.inf, np.inf)
    return value


def estimator_noise(trace, tail=TAIL_FRACTION):
    """Robust sd of the per-step ELBO estimate over the last ``tail`` of a trace, from step-to-step changes.

    For independent estimates of sd ``s`` the changes have sd ``s sqrt(2)``; the median absolute change
    (``0.6745 s sqrt(2)``) ignores the rare optimisation jumps that inflate a plain sd.
    """
    trace = np.asarray(trace, dtype=np.float64)
    changes = np.diff(trace[min(int(len(trace) * (1.0 - tail)), len(trace) - 2):])
    return float(np.median(np.abs(changes)) / (0.6745 * math.sqrt(2.0)))


def window_of(target):
    """The plotting window: ``WINDOWS`` where the quadrature box is wider than the picture needs."""
    return WINDOWS.get(target.name, target.bounds)


def mass_levels(density, masses=MASS_LEVELS):
    """Density levels whose super-level sets hold ``masses`` of a gridded density (highest-density regions)."""
    values = np.sort(density.ravel())[::-1]
    cumulative = np.cumsum(values) / values.sum()
    return np.sort([values[np.searchsorted(cumulative, m)] for m in masses])


# ------------------------------------------------------------------ figure shapes


def _contour_lines(ax, target, window, colour=PALETTE["target"]):
    X, Y, p = true_density(target, window)
    ax.contour(X, Y, p, levels=mass_levels(p), colors=colour, linewidths=0.8)


def _frame(ax, target, window, title=None):
    ax.set(xlim=window[0], ylim=window[1], xlabel=target.names[0], ylabel=target.names[1], title=title)
    ax.set_aspect("equal")
    ax.grid(False)


def _colourbar(fig, mappable, ax, label):
    fig.colorbar(mappable, ax=ax, label=label, fraction=0.046, pad=0.04)


def true_densities(run, fid, targets, titles, suptitle, filename):
    """True densities ``p(z) = exp(log p - log Z)`` as filled contours, one panel per target."""
    fig, axes = figure(1, len(targets), size=4.5)
    for ax, target, title in zip(np.ravel(axes), targets, titles):
        window = window_of(target)
        X, Y, p = true_density(target, window)
        image = ax.contourf(X, Y, p, levels=20, cmap="magma")
        _frame(ax, target, window, title)
        _colourbar(fig, image, ax, "p(z)")
    fig.suptitle(suptitle)
    fig.tight_layout()
    run.save_figure(fig, filename, [fid])


def shared_scale(mappables, low=None):
    """Put ``mappables`` (hexbins, images) on one colour scale: from ``low`` (else their lowest value) to their
    highest. Returns the last, for the one colour bar."""
    values = [np.asarray(m.get_array()) for m in mappables]
    values = [v for v in values if v.size] or [np.ones(1)]
    top = max(float(v.max()) for v in values)
    bottom = min(float(v.min()) for v in values) if low is None else low
    for m in mappables:
        m.set_clim(bottom, max(top, bottom + 1e-12))
    return mappables[-1]


def kde_and_hexbin(run, fid, target, samples, suptitle, filename):
    """Per row (one per method): KDE of the draws (left) and their hexbins (right), true density in red lines;
    the KDEs share one colour scale, the hexbins another, so the rows compare."""
    window = window_of(target)
    fig, axes = figure(len(samples), 2, size=4.8, layout="constrained")
    densities = {label: kde_density(z, window) for label, z in samples.items()}
    levels = np.linspace(0.0, max(d[2].max() for d in densities.values()), 21)
    bins = []
    for (label, z), (kde_ax, hex_ax) in zip(samples.items(), axes):
        image = kde_ax.contourf(*densities[label], levels=levels, cmap="Blues")
        bins.append(hex_ax.hexbin(z[:, 0], z[:, 1], gridsize=HEX_GRID, extent=[*window[0], *window[1]],
                                  cmap="Blues", mincnt=1))
        for ax, what in ((kde_ax, "KDE of the draws"), (hex_ax, f"{len(z)} draws")):
            _contour_lines(ax, target, window)
            _frame(ax, target, window, f"{label}: {what}")
    scale = " (one scale)" if len(samples) > 1 else ""
    fig.colorbar(image, ax=list(axes[:, 0]), label="KDE density" + scale, shrink=0.8, ticks=levels[::5],
                 format="%.2g")
    fig.colorbar(shared_scale(bins, low=1.0), ax=list(axes[:, 1]), label="draws per hexagon" + scale, shrink=0.8)
    fig.suptitle(suptitle + f"\n{CONTOURS}")
    run.save_figure(fig, filename, [fid])


def coloured_by_density(run, fid, target, draws, suptitle, filename):
    """Draws ``z_K`` coloured by their density ``q_K(z_K)`` (the study's 3-D plots as colour maps), every
    panel on one colour scale, the true density's peak included, so heights compare across panels."""
    from matplotlib.colors import Normalize

    window = window_of(target)
    peak = true_density(target, window)[2].max()
    norm = Normalize(0.0, max(peak, *(q.max() for _, q in draws.values())))
    fig, axes = figure(1, len(draws), size=4.4, layout="constrained")
    axes = np.ravel(axes)
    for ax, (label, (z, q)) in zip(axes, draws.items()):
        order = np.argsort(q)  # densest on top
        points = ax.scatter(z[order, 0], z[order, 1], c=q[order], s=3, cmap="viridis", norm=norm, rasterized=True)
        _frame(ax, target, window, f"{label}: highest $q_K$ {q.max():.3g}")
    bar = fig.colorbar(points, ax=list(axes), label="$q_K(z_K)$, one scale; red: the peak of p", fraction=0.03,
                       pad=0.03, shrink=0.8)
    bar.ax.axhline(peak, color=PALETTE["target"], lw=2.5)
    fig.suptitle(suptitle)
    run.save_figure(fig, filename, [fid])


def quadrants(z0):
    """Quadrant (0-3) of each base draw around the base's median: the regions that Figures 25 and 33 follow."""
    centred = z0 - np.median(z0, axis=0)
    return (centred[:, 0] > 0).astype(int) + 2 * (centred[:, 1] > 0).astype(int)


def flow_effect(run, fid, target, draws, suptitle, filename):
    """Per row (one per flow): base draws ``z_0`` coloured by quadrant (left) and their images ``z_K`` (right)."""
    from matplotlib.colors import ListedColormap

    window = window_of(target)
    fig, axes = figure(len(draws), 2, size=4.2)
    axes = np.atleast_2d(axes)
    cmap = ListedColormap(QUADRANT_COLOURS)
    for (label, (z0, z_k)), (left, right) in zip(draws.items(), axes):
        region = quadrants(z0)
        for ax, z, what in ((left, z0, "$z_0 \\sim q_0$"), (right, z_k, "$z_K = f_K \\circ \\dots \\circ f_1(z_0)$")):
            ax.scatter(z[:, 0], z[:, 1], c=region, cmap=cmap, vmin=-0.5, vmax=3.5, s=2, rasterized=True)
            ax.set(xlabel=target.names[0], ylabel=target.names[1], title=f"{label}: {what}")
            ax.set_aspect("equal")
        right.set(xlim=window[0], ylim=window[1])
        _contour_lines(right, target, window, colour="black")
    fig.suptitle(suptitle + "\n(colour: quadrant of $z_0$ around the base's median; black lines: true density's "
                 "regions holding " + "/".join(f"{m:.0%}" for m in MASS_LEVELS) + " of its mass)")
    fig.tight_layout()
    run.save_figure(fig, filename, [fid])


# ------------------------------------------------------------------ the individual figures


def collapses(trace, drop=COLLAPSE):
    """Episodes where the smoothed ELBO (``vinf.fit.smoothed_loss``) falls more than ``drop`` nats below its
    settled level (its median over the second half of training), once it has first reached that band."""
    from vinf.fit import smoothed_loss

    elbo = -smoothed_loss(np.asarray(trace, dtype=np.float64))
    below = elbo < np.median(elbo[len(elbo) // 2:]) - drop
    settled = np.flatnonzero(~below)
    below = below[settled[0]:] if settled.size else below[:0]
    return int(np.sum(below[1:] & ~below[:-1]))


def fig17_traces(run, traces, log_z, flows, steps):
    """ELBO per step of planar flows on the circle for S = 10, 100, 500: on one scale (left, to compare the
    noise) and each over its whole range after warm-up (right, where the collapses show)."""
    fig, axes = figure(len(traces), 2, size=3.0, gridspec_kw=dict(width_ratios=(3, 1.3)))
    fig.set_size_inches(12, 2.5 * len(traces))
    axes = np.atleast_2d(axes)
    settled = np.concatenate([-trace[len(trace) // 10:] for trace in traces.values()])
    low, high = np.quantile(settled, 0.01), max(np.quantile(settled, 0.999), log_z + 0.2)
    for (left, right), (size, trace) in zip(axes, traces.items()):
        for ax in (left, right):
            ax.plot(-trace, lw=0.4, color=PALETTE["planar"], label="ELBO estimate per step")
            ax.axhline(log_z, color=PALETTE["target"], lw=1.2, label=f"log Z = {log_z:.3f} (quadrature)")
        left.set(ylim=(low, high), ylabel="ELBO", title=f"S = {size} draws per step; noise of the per-step estimate "
                 f"(robust sd, last {TAIL_FRACTION:.0%} of steps) {estimator_noise(trace):.3f}")
        tail = -trace[len(trace) // 10:]
        count = collapses(trace)
        right.set(ylim=(tail.min() - 0.1, max(tail.max(), log_z) + 0.1),
                  title=f"whole range: {count} collapse{'' if count == 1 else 's'} > {COLLAPSE:g} nats")
        right.axhspan(low, high, color="0.85", zorder=0, label="the left panels' window")
    for ax in axes[-1]:
        ax.set_xlabel("step")
    handles = [h for ax in axes[0] for h in ax.get_legend_handles_labels()[0]]
    labels = [text for ax in axes[0] for text in ax.get_legend_handles_labels()[1]]
    unique = dict(zip(labels, handles))
    fig.legend(unique.values(), unique.keys(), loc="lower center", ncol=len(unique), fontsize=8,
               bbox_to_anchor=(0.5, 0.0))
    fig.suptitle(f"Fig. 17: training stability against S; planar flows, circle, K = {flows}, {steps} steps")
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    run.save_figure(fig, "fig17_elbo_traces_by_sample_size.png", ["fig17"])


def fig18_two_hills(run, target, fitted, draws, flows, steps):
    """``q_0`` (left) and ``q_K`` (right) of each flow: draws, exact density, KDE, the normalised posterior."""
    (low, high), = target.bounds
    x = np.linspace(low, high, 600)
    posterior = true_line_density(target, x)
    fig, axes = figure(len(fitted), 2, size=4.2, sharey=True)
    axes = np.atleast_2d(axes)
    for (label, (q, member)), (left, right) in zip(fitted.items(), axes):
        z0, q0, z_k, q_k = exact_line_density(q, member, low - 2.0, high + 2.0)
        for ax, samples, curve, name in ((left, draws[label]["z0"], (z0, q0), "$q_0$, before the flow"),
                                         (right, draws[label]["zK"], (z_k, q_k), f"$q_K$ after K = {flows}")):
            ax.hist(samples[:, 0], bins=80, range=(low, high), density=True, color="#aed6f1", label="draws")
            ax.plot(*curve, color="#1a5276", lw=1.8, label="exact density")
            ax.plot(*kde_density(samples, [(low, high)], 600), color="#5dade2", lw=1.2, ls="--",
                    label="KDE of the draws")
            ax.plot(x, posterior, color=PALETTE["target"], lw=1.2, label="p(z | x), normalised")
            ax.set(xlim=(low, high), xlabel="z", title=f"{label}: {name}")
        left.set_ylabel("density")
    handles, labels = np.ravel(axes)[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, bbox_to_anchor=(0.5, 0.0))
    x_obs, sigma = (inspect.signature(vinf.targets.toy.two_hills).parameters[n].default for n in ("x", "sigma"))
    fig.suptitle(f"Fig. 18: two hills, x = {x_obs:g}, σ = {sigma:g} (eqs. 80-82); K = {flows}, {steps} steps")
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    run.save_figure(fig, "fig18_two_hills.png", ["fig18"])


def fig35_energies(run, targets, samples, flows, steps):
    """Hexbins of the draws of each flow (rows) for energies 1-4 (columns), true density in red lines, every
    panel on one logarithmic colour scale (a linear one leaves the spread-out fits blank beside energy 2's)."""
    from matplotlib.colors import LogNorm

    fig, axes = figure(len(samples), len(targets), size=3.3, layout="constrained")
    fig.set_size_inches(2.9 * len(targets) + 1.0, 3.7 * len(samples) + 0.6)  # panels as tall as ENERGY_WINDOW
    bins = []
    for row, (label, by_target) in zip(axes, samples.items()):
        for ax, target in zip(row, targets):
            z = by_target[target.name]
            bins.append(ax.hexbin(z[:, 0], z[:, 1], gridsize=(32, 40), extent=[*ENERGY_WINDOW[0], *ENERGY_WINDOW[1]],
                                  cmap="Blues", mincnt=1, norm=LogNorm()))
            _contour_lines(ax, target, ENERGY_WINDOW)
            _frame(ax, target, ENERGY_WINDOW, f"{label}: {target.name.replace('energy', 'energy ')}")
    fig.colorbar(shared_scale(bins, low=1.0), ax=list(axes.ravel()), label="draws per hexagon (one log scale)",
                 shrink=0.6)
    fig.suptitle(f"Fig. 35: draws of the trained flows (hexbins) on energies 1-4; K = {flows}, {steps} steps"
                 f"\n{CONTOURS}")
    run.save_figure(fig, "fig35_energy_samples.png", ["fig35"])


def mode_study_figure(run, study, losses, log_z):
    """Per two-mode target (rows): every seed's KL along training under our choices (left) and annealed
    (middle), on a log scale where one-mode fits sit at log 2; and per variant, how many seeds cover both
    sides of z1 = 0 and how many end within log 2 / 2 of log Z (right)."""
    from matplotlib.ticker import MaxNLocator

    from experiments.toy_targets import VARIANT_LABELS
    from vinf.fit import smoothed_loss

    names = list(dict.fromkeys(result["target"] for result in study["runs"]))
    fig, axes = figure(len(names), 3, size=4.1, gridspec_kw=dict(width_ratios=(1, 1, 1.1)))
    fig.set_size_inches(15.5, 4.4 * len(names))
    axes = np.atleast_2d(axes)
    outcomes = (("both_sides", f"both sides (≥ {study['one_mode_share']:.0%} of q on each)", PALETTE["radial"]),
                ("both_modes", "both modes (KL < log 2 / 2)", PALETTE["planar"]))
    for row, name in zip(axes, names):
        results = {r["variant"]: r for r in study["runs"] if r["target"] == name}
        for ax, result in zip(row[:2], (results["default"], results["annealed"])):
            kl = np.clip(log_z[name] + smoothed_loss(losses[result["group"]]), 1e-3, None)
            ax.plot(kl, lw=0.9, alpha=0.8)
            ax.axhline(math.log(2.0), color=PALETTE["target"], ls="--", lw=1, label="log 2: one mode of two")
            ax.axhline(study["both_modes_kl"], color="0.4", ls=":", lw=1, label="both modes below")
            if result["anneal_steps"]:
                ax.axvline(result["anneal_steps"], color="0.6", lw=0.8, label="β reaches 1")
            ax.set(yscale="log", ylim=(1e-3, 20), xlabel="step", ylabel="log Z − smoothed ELBO",
                   title=f"{name}: " + (f"annealed over {result['anneal_steps']} steps" if result["anneal_steps"]
                                        else "plain ELBO, our choices"))
            ax.legend(fontsize=7, loc="upper right")
        width, x = 0.4, np.arange(len(results))
        for i, (field, label, colour) in enumerate(outcomes):
            bars = row[2].barh(x + (i - 0.5) * width, [r[field] for r in results.values()], width, color=colour,
                               label=label)
            row[2].bar_label(bars, fontsize=7, padding=2)
        runs = results["default"]["num_runs"]
        row[2].set(yticks=x, yticklabels=[VARIANT_LABELS[v] for v in results], xlabel=f"seeds of {runs}",
                   xlim=(0, runs + 0.6), title=f"{name}: outcome by variant")
        row[2].invert_yaxis()
        row[2].xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[-1, 2].legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=1)
    fig.suptitle(f"Beyond the study: {study['runs'][0]['num_runs']} seeds per target and variant, planar flows, the "
                 "same seeds in every variant (left, middle: one colour per seed)", fontsize=10)
    fig.tight_layout()
    run.save_figure(fig, "mode_study_annealing.png", [])


# ------------------------------------------------------------------ what the report measures


def component_peaks(z, q, mixture):
    """Per component of a Gaussian ``mixture`` (dict of weights, locs, covs): the share of the draws ``z``
    it explains best, their correlation beside the component's, and the highest ``q_K`` among them with its
    Mahalanobis distance from the component's mean, beside the mixture's density at that mean."""
    locs, covs = np.asarray(mixture["locs"], float), np.asarray(mixture["covs"], float)
    components = [stats.multivariate_normal(m, c) for m, c in zip(locs, covs)]
    owner = np.argmax(np.stack([np.log(w) + c.logpdf(z) for w, c in zip(mixture["weights"], components)], -1), -1)
    out = []
    for k, (loc, cov) in enumerate(zip(locs, covs)):
        mine = np.flatnonzero(owner == k)
        top = mine[np.argmax(q[mine])] if mine.size else None
        d = None if top is None else z[top] - loc
        out.append(dict(
            weight=float(mixture["weights"][k]), share=float(mine.size / len(z)),
            correlation=float(np.corrcoef(z[mine].T)[0, 1]) if mine.size > 2 else None,
            true_correlation=float(cov[0, 1] / math.sqrt(cov[0, 0] * cov[1, 1])),
            peak=None if top is None else float(q[top]),
            peak_distance=None if d is None else float(math.sqrt(d @ np.linalg.solve(cov, d))),
            true_peak=float(sum(w * c.pdf(loc) for w, c in zip(mixture["weights"], components))),
        ))
    return out


def cut_direction(z0, z_k, axis):
    """The line of ``z_0``'s plane that Figure 25's flow cuts along: draws are labelled by the side of
    ``z_K . axis = 0`` they land on, Fisher's discriminant ``n = S_w^-1 (m_1 - m_0)`` separates them in
    ``z_0``; returns the cut's angle from the z1 axis in degrees, [0, 180), the share it separates and the
    share of the draws on the positive side (how evenly q_0 is split)."""
    side = z_k @ np.asarray(axis, float) > 0
    means = [z0[side == s].mean(axis=0) for s in (False, True)]
    within = sum(np.cov(z0[side == s].T) for s in (False, True))
    normal = np.linalg.solve(within, means[1] - means[0])
    offset = normal @ (means[0] + means[1]) / 2
    accuracy = float(np.mean((z0 @ normal > offset) == side))
    angle = math.degrees(math.atan2(normal[1], normal[0])) + 90.0  # the cut is perpendicular to the normal
    return dict(angle=angle % 180.0, accuracy=accuracy, share=float(np.mean(side)))


def indicator_ess(indicator, chains):
    """ArviZ's bulk effective sample size of a 0/1 indicator over ``chains`` chains of draws stored chain after
    chain; None where it is undefined (every draw on one side)."""
    import arviz

    values = np.asarray(indicator, dtype=np.float64).reshape(chains, -1)
    if values.min() == values.max():
        return None
    ess = float(arviz.ess(values))
    return ess if math.isfinite(ess) else None


def point_symmetric(target, num=101):
    """Whether ``p(z) = p(-z)`` on a grid over the target's box (then the ELBO's gradient in a mean-field
    Gaussian's mean vanishes at the origin)."""
    axes = [np.linspace(lo, hi, num) for lo, hi in target.bounds]
    points = np.stack([m.ravel() for m in np.meshgrid(*axes, indexing="ij")], axis=-1)
    return bool(np.max(np.abs(target.log_prob_numpy(points) - target.log_prob_numpy(-points))) < SYMMETRY_TOLERANCE)


def saddle_kl(target, scale):
    """KL(q || p) of the best diagonal Gaussian centred on the origin (sd by L-BFGS from ``scale``, quadrature of
    ``experiments._baseline``): where a mean-field fit stuck at the origin of a point-symmetric target ends."""
    from scipy import optimize

    from experiments._baseline import NODES, _kl_and_gradient, _nodes

    value = _kl_and_gradient(target, *_nodes(target.dim, NODES), target.log_evidence())
    origin = np.zeros(target.dim)

    def kl(log_scale):
        f, gradient = value(np.concatenate([origin, log_scale]))
        return f, gradient[target.dim:]

    result = optimize.minimize(kl, np.log(np.asarray(scale, np.float64)), jac=True, method="L-BFGS-B",
                               bounds=[(-7.0, 3.0)] * target.dim)
    return float(result.fun)


def origin_starts(run, groups, targets, rows):
    """Where mean field's start near the origin (member 0, the study's initialisation) ended on each target:
    its final mean, whether the target is point-symmetric, and there the KL of the best Gaussian centred on
    the origin (the saddle between mirrored modes)."""
    from experiments.toy_targets import load_surrogate

    out = {}
    for group in groups:
        q, _ = load_surrogate(group, run.draws, targets[group.targets[0]].dim)
        locs, scales = group.members(q.loc.numpy()), group.members(q.scale.diag.numpy())
        for t, name in enumerate(group.targets):
            symmetric = point_symmetric(targets[name])
            out[name] = dict(mean=locs[t, 0].astype(float).tolist(), symmetric=symmetric,
                             kl=rows[(name, group.family)]["kl"][0],
                             saddle_kl=saddle_kl(targets[name], scales[t, 0]) if symmetric else None)
    return out


def peak_location(z, q):
    """Where the draws' density ``q_K`` is highest."""
    return z[np.argmax(q)].tolist()


def centre_share(z, radius=CIRCLE_CENTRE):
    return float(np.mean(np.linalg.norm(z, axis=-1) < radius))


def target_share(target, region, num=400):
    """The target's mass in ``region(points [N, 2]) -> bool [N]``, on a grid over its bounds."""
    axes, points = target.grid(num)
    log_p = target.log_prob_numpy(points)
    p = np.exp(log_p - log_p.max())
    return float(np.sum(p * region(points)) / np.sum(p))


def lobe_contrast(z, density, lobes=LOBES, sides=RING_SIDES):
    """Mean ``density`` of the draws on the ring's lobes (``LOBES``: |z1| around the bumps) over that of its
    sides (|z1| > ``RING_SIDES``): above 1 when the density peaks where the ring meets the bumps; None when
    no draw lies on one of them."""
    a = np.abs(z[:, 0])
    on_lobes, on_sides = (a > lobes[0]) & (a < lobes[1]), a > sides
    if not on_lobes.any() or not on_sides.any():
        return None
    return float(np.mean(density[on_lobes]) / np.mean(density[on_sides]))


def quarter_arcs(z0, z_k, degrees=SECTOR_DEGREES):
    """How Figure 33's quarters of ``q_0`` lie along the ring: the number of arcs (runs of angular sectors
    with the same commonest quarter, around the circle) and the share of draws of their sector's commonest
    quarter (1 when the quarters lie side by side; lower where they lie in layers)."""
    region = quadrants(z0)
    sector = (np.degrees(np.arctan2(z_k[:, 1], z_k[:, 0])) % 360.0 // degrees).astype(int)
    counts = np.zeros((360 // degrees, 4))
    np.add.at(counts, (sector, region), 1)
    filled = counts.sum(axis=1) > 0
    major = np.argmax(counts[filled], axis=1)
    return dict(arcs=int(max(1, np.sum(major != np.roll(major, 1)))),
                purity=float(counts[filled].max(axis=1).sum() / counts.sum()))


def energy_branches():
    """The branches of each energy whose mass Figure 35's draws are measured on: ``{energy: {branch:
    region(points) -> bool}}``. Energy 1's arcs lie either side of z1 = 0; energies 3 and 4 have a lower
    wave ``z2 = w1 - w`` (``w = w2, w3``, eq. 88) under the wave ``z2 = w1``, told apart where the waves are
    more than 1 apart, below their midline. Energy 2 is one band."""
    from vinf.targets.toy import w1, w2, w3  # eq. 88's helpers, not re-typed here

    def lower(shift):
        def region(z):
            upper, w = w1(z[:, 0]).numpy(), shift(z[:, 0]).numpy()
            return (w > 1.0) & (z[:, 1] < upper - w / 2)
        return region

    return {"energy1": {"left arc": lambda z: z[:, 0] < 0, "right arc": lambda z: z[:, 0] >= 0},
            "energy3": {"lower wave": lower(w2)}, "energy4": {"lower wave": lower(w3)}}


def measure(targets, draws, mixture):
    """The numbers behind the report's sentences on Figures 20-35, from the flows' draws."""
    energy = energy_branches()
    out = dict(
        components={name: {f: component_peaks(draws[(name, f)]["zK"], draws[(name, f)]["q"], mix) for f in FLOWS}
                    for name, mix in (("gaussian_mixture", mixture), ("figure_eight", FIGURE_EIGHT))},
        cut={f: cut_direction(draws[("figure_eight", f)]["z0"], draws[("figure_eight", f)]["zK"], (1.0, 1.0))
             for f in FLOWS},
        banana_peak={f: peak_location(draws[("banana", f)]["zK"], draws[("banana", f)]["q"]) for f in FLOWS},
        circle_centre=dict(radius=CIRCLE_CENTRE, exact=target_share(
            targets["circle"], lambda z: np.linalg.norm(z, axis=-1) < CIRCLE_CENTRE),
            **{f: centre_share(draws[("circle", f)]["zK"]) for f in FLOWS}),
        lobes={f: lobe_contrast(draws[("circle", f)]["zK"], draws[("circle", f)]["q"]) for f in FLOWS},
        quarters={f: quarter_arcs(draws[("circle", f)]["z0"], draws[("circle", f)]["zK"]) for f in FLOWS},
        branches={name: {branch: dict(exact=target_share(targets[name], region),
                                      **{f: float(np.mean(region(draws[(name, f)]["zK"]))) for f in FLOWS})
                         for branch, region in regions.items()} for name, regions in energy.items()},
    )
    out["window_mass"] = {name: target_share(targets[name], lambda z: np.all(
        (z >= np.asarray(ENERGY_WINDOW)[:, 0]) & (z <= np.asarray(ENERGY_WINDOW)[:, 1]), axis=-1)) for name in ENERGIES}
    circle = targets["circle"]
    out["lobes"]["exact"] = lobe_contrast(draws[("circle", "planar")]["zK"], np.exp(
        circle.log_prob_numpy(draws[("circle", "planar")]["zK"]) - circle.log_evidence()))
    return out


# ------------------------------------------------------------------ assembly


def _fitted(run, groups, dim, num_draws, seed):
    """Rebuild each group's surrogate; ``{(target, family): (q, member)}`` and their draws."""
    from experiments.toy_targets import load_surrogate

    fitted, draws = {}, {}
    for group in groups:
        q, _ = load_surrogate(group, run.draws, dim)
        sample = {k: group.members(v, axis=1) for k, v in draw(q, num_draws, seed).items()}
        for t, name in enumerate(group.targets):
            fitted[(name, group.family)] = (q, t * group.num_runs)
            draws[(name, group.family)] = {k: v[:, t, 0] for k, v in sample.items()}
    return fitted, draws


def make_all(run, scale, tables, traces, modes, mode_result, nuts):
    """Every figure of section VI.A from the saved parameters (draws are re-derived, seeded).

    Returns the numbers measured on the way (Figure 17's traces, the banana's arms, ``measure``), also saved
    in ``results.json``.
    """
    from experiments.toy_targets import load_surrogate

    mixture = tables[0].target_kwargs["gaussian_mixture"]
    targets = {spec: vinf.targets.get(spec, **(tables[0].target_kwargs.get(spec, {})))
               for g in tables for spec in g.targets}
    rows = {(name, g.family): run.cached_row(g.member_key(name)) for g in tables for name in g.targets}
    flow_groups = [g for g in tables if g.family in FLOWS]
    one_d = [g for g in flow_groups if targets[g.targets[0]].dim == 1]
    two_d = [g for g in flow_groups if targets[g.targets[0]].dim == 2]
    fitted, draws1 = _fitted(run, one_d, 1, scale.draws, run.seed)
    _, draws = _fitted(run, two_d, 2, scale.draws, run.seed)

    def setting(name):
        row = rows.get((name, "planar"))
        return (row["num_flows"], row["num_steps"]) if row else ("?", "?")

    # Figure 17
    circle = targets["circle"]
    trace, trace_summary = {}, {}
    for group in traces + [g for g in flow_groups if g.family == "planar" and "circle" in g.targets]:
        _, loss = load_surrogate(group, run.draws, 2)
        trace[group.sample_size] = loss = group.members(loss, axis=1)[:, group.targets.index("circle"), 0]
        trace_summary[group.sample_size] = dict(noise=estimator_noise(loss), collapses=collapses(loss),
                                                elbo=run.cached_row(group.member_key("circle"))["elbo"][0])
    trace = dict(sorted(trace.items()))
    trace_summary = dict(sorted(trace_summary.items()))
    run.set_extra("fig17_traces", trace_summary)
    fig17_traces(run, trace, circle.log_evidence(), *setting("circle"))

    # Figure 18
    fig18_two_hills(run, targets["two_hills"],
                    {f: fitted[("two_hills", f)] for f in FLOWS},
                    {f: draws1[("two_hills", f)] for f in FLOWS}, *setting("two_hills"))

    # Figures 19-33
    for name, panels in PANELS.items():
        target = targets[name]
        flows, steps = setting(name)
        where = f"{panels.title}; K = {flows}, {steps} steps"
        true_densities(run, f"fig{panels.truth}", [target], [panels.title], f"Fig. {panels.truth}: true posterior",
                       f"fig{panels.truth}_{name}_true_density.png")
        kde_and_hexbin(run, f"fig{panels.kde}", target, {f: draws[(name, f)]["zK"] for f in FLOWS},
                       f"Fig. {panels.kde}: {where}", f"fig{panels.kde}_{name}_kde_hexbin.png")
        coloured_by_density(run, f"fig{panels.coloured}", target,
                            {f: (draws[(name, f)]["zK"], draws[(name, f)]["q"]) for f in FLOWS},
                            f"Fig. {panels.coloured}: draws coloured by $q_K$; {where}",
                            f"fig{panels.coloured}_{name}_density_coloured.png")
        if panels.effect:
            flow_effect(run, f"fig{panels.effect}", target,
                        {f: (draws[(name, f)]["z0"], draws[(name, f)]["zK"]) for f in FLOWS},
                        f"Fig. {panels.effect}: the flow's effect; {where}",
                        f"fig{panels.effect}_{name}_flow_effect.png")

    # Figure 29
    nuts_z = np.load(run.draws / nuts.filename)["z"]
    row = run.cached_row(nuts.key)
    chains = row.get("chains", 1)
    kde_and_hexbin(run, "fig29", targets["banana"], {"NUTS": nuts_z},
                   f"Fig. 29: PyMC NUTS on the banana, {chains} chain{'' if chains == 1 else 's'} × "
                   f"{row['draws'] // chains} draws after {row['tune']} tuning steps ({row['divergences']} "
                   f"divergence{'' if row['divergences'] == 1 else 's'})", "fig29_banana_nuts.png")
    in_arm = nuts_z[:, 0] > BANANA_ARM
    arms = dict(threshold=BANANA_ARM, exact=banana_arm_mass(BANANA_ARM), NUTS=float(np.mean(in_arm)),
                NUTS_ess=indicator_ess(in_arm, chains), NUTS_chains=chains,
                **{f: float(np.mean(draws[("banana", f)]["zK"][:, 0] > BANANA_ARM)) for f in FLOWS})
    run.set_extra("banana_arms", arms)

    # Figures 34-35
    energies = [targets[name] for name in ENERGIES]
    true_densities(run, "fig34", energies, [f"energy {i + 1} (eq. 87)" for i in range(4)],
                   "Fig. 34: true densities of the four energies (eqs. 87-88)", "fig34_energy_true_densities.png")
    fig35_energies(run, energies, {f: {name: draws[(name, f)]["zK"] for name in ENERGIES} for f in FLOWS},
                   *setting("energy1"))

    # Beyond the study: one mode or two
    losses = {g.key: load_surrogate(g, run.draws, targets[g.targets[0]].dim)[1] for g in modes}
    mode_study_figure(run, mode_result, losses, {name: targets[name].log_evidence() for name in targets})
    measured = measure(targets, draws, mixture)
    measured["origin"] = origin_starts(run, [g for g in tables if g.family == "mean_field"], targets, rows)
    run.set_extra("measured", measured)
    return dict(traces=trace_summary, arms=arms, **measured)
