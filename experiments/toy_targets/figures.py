"""Figures 17-35 and the mode study of the toy-targets experiment, drawn from the fits (``fits``) and the
numbers measured on them (``measure``).

Three figure shapes repeat over the targets, each drawn by one function:
``kde_and_hexbin`` (Figures 20, 23, 27, 29, 31), ``coloured_by_density``
(Figures 21, 24, 28, 32, one colour scale per figure) and ``flow_effect``
(Figures 25, 33); ``true_densities`` draws Figures 19, 22, 26, 30 and 34.
"""
import dataclasses
import inspect
import math

import numpy as np
from matplotlib.colors import ListedColormap, LogNorm, Normalize
from scipy import stats

import vinf
from experiments.common.plotting import PALETTE, figure
from experiments.common.toys_figures import kl_traces, outcome_key
from experiments.toy_targets.config import COLLAPSE, ENERGIES, ENERGY_WINDOW, FIGURE_EIGHT, FLOWS, TAIL_FRACTION
from experiments.toy_targets.fits import exact_line_density
from experiments.toy_targets.measure import quadrants
from vinf.targets.toy import BANANA_SCALE

# The plotting windows where the quadrature box is wider than the picture needs: the banana's to z2 at 3 sd
# and z1 at the arms' reach there.
WINDOWS = {name: ENERGY_WINDOW for name in ENERGIES} | {
    "banana": ((-4.0, (3 * BANANA_SCALE) ** 2 / 4 + 3), (-3.2 * BANANA_SCALE, 3.2 * BANANA_SCALE))}
MASS_LEVELS = (0.99, 0.9, 0.5)  # true-density contours enclose these shares of the mass
QUADRANT_COLOURS = ("#e74c3c", "#2e86c1", "#27ae60", "#f1c40f")  # the study's red / blue / green / yellow
GRID = 150  # points per axis of density grids
HEX_GRID = 45  # hexagons across a hexbin panel
KDE_POINTS = 5000  # draws behind each KDE (scipy's cost grows with draws x grid points)
CONTOURS = ("(red lines: the true density's regions holding " + "/".join(f"{m:.0%}" for m in MASS_LEVELS)
            + " of its mass)")


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
    "gaussian_mixture": Panels("Gaussian mixture of section II (the study's demo_gmm)", 19, 20, 21),
    "figure_eight": Panels(f"symmetric mixture, {figure_eight_phrase()} (eqs. 83-84)", 22, 23, 24, 25),
    "banana": Panels("banana (eq. 85)", 26, 27, 28),
    "circle": Panels("circle (eq. 86)", 30, 31, 32, 33),
}


# ------------------------------------------------------------------ densities


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


def window_of(target):
    """The plotting window: ``WINDOWS`` where the quadrature box is wider than the picture needs."""
    return WINDOWS.get(target.name, target.bounds)


def panel_figure(rows, cols, size, window, **kwargs):
    """``figure`` with panels shaped as ``window`` (height over width, between 1/2 and 3/2), so equal-aspect
    panels of a long target (the banana) do not float in blank space."""
    (x0, x1), (y0, y1) = window
    fig, axes = figure(rows, cols, size=size, **kwargs)
    width, height = fig.get_size_inches()
    fig.set_size_inches(width, height * min(max((y1 - y0) / (x1 - x0), 0.5), 1.5))
    return fig, axes


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
    fig, axes = panel_figure(1, len(targets), 4.5, window_of(targets[0]))
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
    fig, axes = panel_figure(len(samples), 2, 4.8, window, layout="constrained")
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
    window = window_of(target)
    peak = true_density(target, window)[2].max()
    norm = Normalize(0.0, max(peak, *(q.max() for _, q in draws.values())))
    fig, axes = panel_figure(1, len(draws), 4.4, window, layout="constrained")
    axes = np.ravel(axes)
    for ax, (label, (z, q)) in zip(axes, draws.items()):
        order = np.argsort(q)  # densest on top
        points = ax.scatter(z[order, 0], z[order, 1], c=q[order], s=3, cmap="viridis", norm=norm, rasterized=True)
        _frame(ax, target, window, f"{label}: highest $q_K$ {q.max():.3g}")
    bar = fig.colorbar(points, ax=list(axes), label="$q_K(z_K)$, one scale\n(red: the peak of p)", fraction=0.03,
                       pad=0.03, shrink=0.8)
    bar.ax.axhline(peak, color=PALETTE["target"], lw=2.5)
    fig.suptitle(suptitle)
    run.save_figure(fig, filename, [fid])


def _cut_lines(ax, z0, cut):
    """On ``z_0``'s panel: the line along which the flow cuts q_0 (``measure.cut_direction``: its draws either
    side reach either mode), and the horizontal through the base's median that the study's text describes."""
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    median = np.median(z0, axis=0)
    ax.axhline(median[1], color="black", ls=(0, (4, 3)), lw=1.2, label="the study's cut: horizontal")
    (n1, n2), offset = cut["normal"], cut["offset"]
    if abs(n2) >= abs(n1):
        xs = np.array([x0, x1])
        ax.plot(xs, (offset - n1 * xs) / n2, color="black", lw=1.6, label="ours: the line that splits the modes")
    else:
        ys = np.array([y0, y1])
        ax.plot((offset - n2 * ys) / n1, ys, color="black", lw=1.6, label="ours: the line that splits the modes")
    ax.set(xlim=(x0, x1), ylim=(y0, y1))


def flow_effect(run, fid, target, draws, suptitle, filename, cuts=None):
    """Per row (one per flow): base draws ``z_0`` coloured by quadrant (left) and their images ``z_K`` (right);
    with ``cuts`` (``{flow: measure.cut_direction}``), the line that cuts q_0 between the modes on the left."""
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
        if cuts and cuts[label]["normal"] is not None:
            _cut_lines(left, z0, cuts[label])
        right.set(xlim=window[0], ylim=window[1])
        _contour_lines(right, target, window, colour="black")
    note = ("\nleft, solid: the line that splits $z_0$ by the mode it reaches; dashed: the study's horizontal cut"
            if cuts else "")
    fig.suptitle(suptitle + "\ncolour: quadrant of $z_0$ around the base's median; black lines right: the true "
                 "density's regions holding " + "/".join(f"{m:.0%}" for m in MASS_LEVELS) + f" of its mass{note}",
                 fontsize=10)
    fig.tight_layout()
    run.save_figure(fig, filename, [fid])


def log_ticks(bar):
    """Label a logarithmic colour bar at 1, 2, 5, 10, 20, 50 ... in plain numbers (matplotlib labels only the
    powers of ten, which leaves a bar spanning one decade with two labels)."""
    low, high = bar.mappable.norm.vmin, bar.mappable.norm.vmax
    ticks = [m * 10**e for e in range(int(math.floor(math.log10(low))), int(math.ceil(math.log10(high))) + 1)
             for m in (1, 2, 5) if low <= m * 10**e <= high]
    bar.ax.minorticks_off()
    bar.set_ticks(ticks, labels=[f"{t:g}" for t in ticks])


# ------------------------------------------------------------------ the individual figures


def fig17_traces(run, traces, summary, log_z, flows, steps):
    """ELBO per step of planar flows on the circle for S = 10, 100, 500: on one scale (left, to compare the
    noise) and each over its whole range after warm-up (right, where the collapses show). ``traces``: ``{S:
    loss trace}``; ``summary``: their noise and collapses (``measure.trace_summary``)."""
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
                 f"(robust sd, last {TAIL_FRACTION:.0%} of steps) {summary[size]['noise']:.3f}")
        tail = -trace[len(trace) // 10:]
        count = summary[size]["collapses"]
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
    fig.suptitle(f"Fig. 18: two hills (eqs. 80-82), x = {x_obs:g}, σ² = {sigma**2:.3g} as the study's code\n(its "
                 f"caption prints σ = {vinf.targets.toy.CAPTION_SIGMA:g}); K = {flows}, {steps} steps")
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    run.save_figure(fig, "fig18_two_hills.png", ["fig18"])


def fig35_energies(run, targets, samples, flows, steps):
    """Hexbins of the draws of each flow (rows) for energies 1-4 (columns), true density in red lines, every
    panel on one logarithmic colour scale (a linear one leaves the spread-out fits blank beside energy 2's)."""
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
    bar = fig.colorbar(shared_scale(bins, low=1.0), ax=list(axes.ravel()), label="draws per hexagon (one log scale)",
                       shrink=0.6)
    log_ticks(bar)
    fig.suptitle(f"Fig. 35: draws of the trained flows (hexbins) on energies 1-4; K = {flows}, {steps} steps"
                 f"\n{CONTOURS}")
    run.save_figure(fig, "fig35_energy_samples.png", ["fig35"])


MODE_TITLES = dict(two_hills="two hills (the study's code: σ² = 0.1)",
                   two_hills_narrow="two hills, σ = 0.1 (the caption read as an sd)", energy1="energy 1")


def mode_study_figure(run, study, losses):
    """One panel per two-mode target: every seed's KL along training under our choices, coloured by how it ended
    (``common.toys_figures.kl_traces``); ``losses``: ``{group key: loss [steps, R]}``."""
    rows = study["runs"]
    fig, axes = figure(1, len(rows), size=4.4)
    for ax, row in zip(np.ravel(axes), rows):
        kl_traces(ax, losses[row["group"]], row, MODE_TITLES.get(row["target"], row["target"]))
    fig.legend(handles=outcome_key(), loc="lower center", ncol=3, fontsize=8, bbox_to_anchor=(0.5, -0.02))
    fig.suptitle(f"Beyond the study: {rows[0]['num_runs']} seeds per target, planar flows, our choices "
                 "(the study's choices, annealed and longer: python -m experiments.ablations)", fontsize=10)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    run.save_figure(fig, "mode_study.png", [])


# ------------------------------------------------------------------ assembly


def make_all(run, fits, measured):
    """Every figure of section VI.A from the fits and the numbers of ``measure.everything`` (Figure 17's noise
    and collapses, the mode study)."""
    targets, draws = fits.targets, fits.draws
    fig17_traces(run, fits.circle_traces(), measured["fig17_traces"], targets["circle"].log_evidence(),
                 *fits.setting("circle"))
    fig18_two_hills(run, targets["two_hills"], {f: fits.member("two_hills", f) for f in FLOWS},
                    {f: draws[("two_hills", f)] for f in FLOWS}, *fits.setting("two_hills"))

    # Figures 19-33
    for name, panels in PANELS.items():
        target = targets[name]
        flows, steps = fits.setting(name)
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
                        f"fig{panels.effect}_{name}_flow_effect.png",
                        measured["measured"]["cut"] if name == "figure_eight" else None)

    # Figure 29
    nuts = fits.nuts
    chains = nuts.get("chains", 1)
    kde_and_hexbin(run, "fig29", targets["banana"], {"NUTS": nuts["z"]},
                   f"Fig. 29: PyMC NUTS on the banana, {chains} chain{'' if chains == 1 else 's'} × "
                   f"{nuts['draws'] // chains} draws after {nuts['tune']} tuning steps ({nuts['divergences']} "
                   f"divergence{'' if nuts['divergences'] == 1 else 's'})", "fig29_banana_nuts.png")

    # Figures 34-35
    energies = [targets[name] for name in ENERGIES]
    true_densities(run, "fig34", energies, [f"energy {i + 1} (eq. 87)" for i in range(4)],
                   "Fig. 34: true densities of the four energies (eqs. 87-88)", "fig34_energy_true_densities.png")
    fig35_energies(run, energies, {f: {name: draws[(name, f)]["zK"] for name in ENERGIES} for f in FLOWS},
                   *fits.setting("energy1"))

    # Beyond the study: one mode or two
    mode_study_figure(run, measured["mode_study"], fits.mode_losses)
