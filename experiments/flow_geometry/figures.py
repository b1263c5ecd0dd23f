"""Figures 8-16 of the flow-geometry experiment, drawn from the data of ``jobs`` (and the numbers it measured)."""
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import colors, ticker, tri

from experiments.common.plotting import PALETTE, style
from experiments.flow_geometry.config import EXP_RANGE, EXP_SAMPLES, FIG8_XLIM
from experiments.flow_geometry.jobs import exponential_flow, inverse_det_jacobian, line_density, warped_mesh
from experiments.flow_geometry.layers import (DET_PANELS, FIG9_LAYERS, FIG13_EXPANSIONS, FLOWS, PLANAR_CONTRACTION,
                                              PLANAR_EXPANSION, RADIAL_FROM_085, RADIAL_TO_075, PlanarLayer,
                                              RadialLayer, site)

FIGURES = {  # thesis figure -> (title, file)
    "fig8": ("the exponential flow z' = exp(z) on a standard Gaussian", "fig8_exponential_flow.png"),
    "fig9": ("a planar-radial-planar-radial flow warping a mesh", "fig9_warped_mesh.png"),
    "fig10": ("|det ∂f/∂z|⁻¹ of a planar layer", "fig10_planar_det_jacobian.png"),
    "fig11": ("the standard unit Gaussian $q_0$", "fig11_unit_gaussian.png"),
    "fig12": (f"$q_0$ after a planar contraction towards the line {site(PLANAR_CONTRACTION)}",
              "fig12_planar_contraction.png"),
    "fig13": (f"$q_0$ after the contraction towards {site(PLANAR_CONTRACTION)} and {FIG13_EXPANSIONS} planar "
              f"expansions away from {site(PLANAR_EXPANSION)}", "fig13_planar_contraction_expansions.png"),
    "fig14": ("|det ∂f/∂z|⁻¹ of a radial layer", "fig14_radial_det_jacobian.png"),
    "fig15": (f"$q_0$ after a radial contraction towards {site(RADIAL_TO_075)}", "fig15_radial_contraction.png"),
    "fig16": (f"$q_0$ contracted towards {site(RADIAL_TO_075)}, then expanded away from {site(RADIAL_FROM_085)}",
              "fig16_radial_contraction_expansion.png"),
}
PLOT_WINDOW = ((-3.0, 3.0), (-3.0, 3.0))  # what Figures 11-12 and 15 show: (x range, y range)
# Figure 13 reaches right to show the lobe that the expansions push beyond x = 1, on a square-root colour
# scale that shows its low density beside the ridge; Figure 16 zooms on the crater of its expansion.
WINDOWS = {"fig13": ((-3.0, 4.5), (-3.0, 3.0)), "fig16": ((-1.5, 2.5), (-1.5, 2.5))}
# drawn as lines over a figure's contours, and beside it in profile along the line of slope 1 through the last
# layer's point: the density before that layer
BEFORE = {"fig16": "fig15"}
COLOUR_GAMMA = {"fig13": 0.5}  # matplotlib PowerNorm's gamma where a linear scale hides what the text describes
INVERSE_DET_TICKS = (1 / 20, 1 / 10, 1 / 5, 1 / 3, 1 / 2, 1, 2, 3, 5, 10, 20)
RADIAL_MARKERS = {True: ("o", "○ contraction"), False: ("s", "□ expansion")}  # by beta_hat < 0


def save(run, fig, fid):
    """Title ``fig`` after thesis figure ``fid`` and save it under its file name."""
    title, filename = FIGURES[fid]
    fig.suptitle(f"Fig. {fid[3:]}: {title}")
    run.save_figure(fig, filename, [fid])


def _layer_prefixes(layers):
    return [f"layer {k}, " for k in range(1, len(layers) + 1)]


def _parameter_caption(fig, layers, prefixes):
    """The layers' parameters, one line each, as a caption under the figure."""
    lines = [f"{prefix}{layer.describe()}" for prefix, layer in zip(prefixes, layers)] or ["no layer: $q_0 = N(0, I)$"]
    fig.text(0.5, 0.0, "\n".join(lines), ha="center", va="top", fontsize=9)


def fig8_exponential(run, beyond):
    """Figure 8; ``beyond``: how many images lie right of the plot (``jobs.beyond_plot``)."""
    data = exponential_flow()
    fig, ax = plt.subplots(figsize=(8.5, 4.2))
    ax.plot(data["z_grid"], data["q"], color=PALETTE["target"], lw=2, label="q(z) = N(z | 0, 1)")
    ax.plot(data["z_prime_grid"], data["q_prime"], color=PALETTE["mcmc"], lw=2,
            label="q'(z') = N(log z' | 0, 1) / z'  (log-normal, eq. 58)")
    rows = (-0.05, -0.12)
    for z, z_prime in zip(data["z"], data["z_prime"]):
        ax.plot([z, z_prime], rows, color="0.75", lw=0.8, zorder=1)
    ax.scatter(data["z"], np.full_like(data["z"], rows[0]), marker="x", color=PALETTE["target"], zorder=3,
               label=f"z: {EXP_SAMPLES} points evenly spaced in [−{EXP_RANGE:g}, {EXP_RANGE:g}]")
    ax.scatter(data["z_prime"], np.full_like(data["z"], rows[1]), marker="x", color=PALETTE["mcmc"], zorder=3,
               label=f"z' = exp(z) ({beyond} beyond the plot's right edge, the last at e^{EXP_RANGE:g} ≈ "
                     f"{data['z_prime'][-1]:.0f})")
    ax.set(xlim=FIG8_XLIM, ylim=(-0.17, 0.72), xlabel="z, z'", ylabel="density")
    ax.legend(fontsize=8.5, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)  # below: the curves fill the axes
    save(run, fig, "fig8")


def fig9_warped_mesh(run, scale):
    z0, z_k = warped_mesh(FIG9_LAYERS, num_points=scale.line_points)
    fig, ax = plt.subplots(figsize=(7.0, 6.0))
    ax.grid(False)  # the axes grid would read as part of the mesh
    for line in z0:
        ax.plot(line[:, 0], line[:, 1], color="0.55", lw=0.8)
    for line in z_k:
        ax.plot(line[:, 0], line[:, 1], color=PALETTE["mcmc"], lw=1.0)
    ax.plot([], [], color="0.55", label="z₀: mesh of [−2, 2]²")
    ax.plot([], [], color=PALETTE["mcmc"], label=f"z_K: its image after K = {len(FIG9_LAYERS)} layers")
    ax.set(aspect="equal", xlabel="x", ylabel="y")
    ax.legend(loc="upper left", fontsize=8.5, framealpha=0.95)
    _parameter_caption(fig, FIG9_LAYERS, _layer_prefixes(FIG9_LAYERS))
    save(run, fig, "fig9")


def det_jacobian_figure(run, scale, fid):
    """Figures 10 and 14: ``|det df/dz|^-1`` of one layer per panel, red where the layer
    concentrates density (contraction), blue where it dilutes it (expansion), on one log scale."""
    panels = DET_PANELS[fid]
    data = [inverse_det_jacobian(layer, scale.grid) for _, layer in panels]
    extreme = max(max(d[2].max(), 1.0 / d[2].min()) for d in data)
    norm = colors.LogNorm(vmin=1.0 / extreme, vmax=extreme)
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.2))
    fig.subplots_adjust(top=0.86, bottom=0.12, left=0.05, right=0.86, wspace=0.18)
    for ax, (label, layer), (X, Y, inv_det) in zip(axes, panels, data):
        mesh = ax.pcolormesh(X, Y, inv_det, norm=norm, cmap="RdBu_r", shading="auto", rasterized=True)
        ax.set(aspect="equal", xlabel="x", ylabel="y", title=label)
        ax.grid(False)
    bar = fig.colorbar(mesh, cax=fig.add_axes([0.885, 0.15, 0.018, 0.68]),
                       label="|det ∂f/∂z|⁻¹  (log scale)\nred: density concentrated, blue: diluted")
    ticks = [t for t in INVERSE_DET_TICKS if 1.0 / extreme <= t <= extreme]
    bar.ax.minorticks_off()
    bar.set_ticks(ticks, labels=[f"{t:g}" if t >= 1 else f"1/{1 / t:.0f}" for t in ticks])
    _parameter_caption(fig, [layer for _, layer in panels], ("left, ", "right, "))
    save(run, fig, fid)


def window_triangulation(X, Y, window=PLOT_WINDOW):
    """A triangulation of the (possibly warped) grid ``X, Y`` with the triangles leaving the ``window``
    (x range, y range) masked: how a pushed-forward grid is drawn inside a fixed window."""
    rows, cols = X.shape
    index = np.arange(rows * cols).reshape(rows, cols)
    a, b, c, d = index[:-1, :-1], index[1:, :-1], index[1:, 1:], index[:-1, 1:]
    triangles = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)])
    x, y = X.ravel(), Y.ravel()
    (x0, x1), (y0, y1) = window
    inside = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
    return tri.Triangulation(x, y, triangles, mask=~inside[triangles].all(axis=1))


def _guides(ax, layers, window):
    """Where each layer acts: a planar layer's line ``w^T z + b = 0`` (dashed), a radial layer's point (small
    hollow markers, ``RADIAL_MARKERS``, that leave what lies under them visible). Returns the markers' key."""
    for layer in layers:
        if isinstance(layer, PlanarLayer):
            (w1, w2), b = layer.w, layer.b
            if abs(w2) > abs(w1):
                xs = np.array(window[0])
                ax.plot(xs, -(b + w1 * xs) / w2, color="white", ls="--", lw=0.9)
            else:
                ys = np.array(window[1])
                ax.plot(-(b + w2 * ys) / w1, ys, color="white", ls="--", lw=0.9)
        else:
            ax.plot(*layer.z0, RADIAL_MARKERS[layer.beta_hat < 0][0], color="white", ms=5, mfc="none", mew=1.0)
    kinds = dict.fromkeys(RADIAL_MARKERS[layer.beta_hat < 0][1] for layer in layers if isinstance(layer, RadialLayer))
    return ", ".join(kinds)


def density_figure(run, fid, data):
    """Figures 11-13, 15-16: ``q_K`` as a surface (left) and a contour plot (middle), as the thesis drew them,
    with where each layer acts marked on the contours (``_guides``); for Figure 16 also Figure 15's density, as
    lines over the contours and in profile beside them (right): the peak that the expansion hollows.

    ``data``: ``{fid: (X, Y, q_K)}`` of every density figure (``jobs.densities``)."""
    X, Y, q = data[fid]
    window = WINDOWS.get(fid, PLOT_WINDOW)
    norm = colors.PowerNorm(COLOUR_GAMMA[fid], vmin=0.0) if fid in COLOUR_GAMMA else None
    panels = 3 if fid in BEFORE else 2
    fig = plt.figure(figsize=(6.25 * panels, 5.4))
    surface = fig.add_subplot(1, panels, 1, projection="3d")
    triangulation = window_triangulation(X, Y, window)
    surface.plot_trisurf(triangulation, q.ravel(), cmap="viridis", linewidth=0, antialiased=False)
    surface.set(xlabel="x", ylabel="y", xlim=window[0], ylim=window[1])
    surface.xaxis.set_major_locator(ticker.MaxNLocator(5))
    surface.yaxis.set_major_locator(ticker.MaxNLocator(5))
    surface.set_title("$q_K(z)$ as a surface")
    surface.zaxis.set_major_locator(ticker.MaxNLocator(4))
    surface.view_init(elev=30, azim=-35)
    contour = fig.add_subplot(1, panels, 2)
    filled = contour.tricontourf(triangulation, q.ravel(), levels=20, cmap="viridis", norm=norm)
    key = _guides(contour, FLOWS[fid], window)
    scale_note = f" (colour ∝ q^{COLOUR_GAMMA[fid]:g})" if fid in COLOUR_GAMMA else ""
    if fid in BEFORE:
        Xb, Yb, qb = data[BEFORE[fid]]
        contour.contour(Xb, Yb, qb, levels=6, colors="white", linewidths=0.6, alpha=0.6)
        scale_note += f"; lines: Fig. {BEFORE[fid][3:]}"
    contour.set(aspect="equal", xlabel="x", ylabel="y", xlim=window[0], ylim=window[1],
                title="$q_K(z)$, filled contours" + scale_note + (f"\n{key}" if key else ""))
    contour.grid(False)
    fig.colorbar(filled, ax=contour, label="$q_K(z)$")
    if fid in BEFORE:
        profile_panel(fig.add_subplot(1, panels, 3), fid, window)
    _parameter_caption(fig, FLOWS[fid], _layer_prefixes(FLOWS[fid]))
    fig.subplots_adjust(wspace=0.3)
    save(run, fig, fid)


def profile_panel(ax, fid, window):
    """Figure ``fid``'s density and the one before its last layer along the line of slope 1 through that
    layer's point, with the points of its radial layers marked: the hollow the last layer opens."""
    layers, before = FLOWS[fid], FLOWS[BEFORE[fid]]
    through = layers[-1].z0
    x, after = line_density(layers, through, *window[0])
    _, previous = line_density(before, through, *window[0])
    ax.plot(x, previous, color="0.45", ls="--", lw=1.5, label=f"Fig. {BEFORE[fid][3:]}, before")
    ax.plot(x, after, color="#1a5276", lw=1.8, label=f"Fig. {fid[3:]}")
    for layer in layers:
        if isinstance(layer, RadialLayer):
            ax.axvline(layer.z0[0], color="0.5", lw=0.9, ls=":" if layer.beta_hat < 0 else "-",
                       label=f"{'contraction towards' if layer.beta_hat < 0 else 'expansion away from'} {site(layer)}")
    offset = through[1] - through[0]
    line = "y = x" if offset == 0 else f"y = x {'+' if offset > 0 else '−'} {abs(offset):g}"
    ax.set(xlim=window[0], ylim=(0, None), xlabel="x", ylabel="$q_K$", title=f"in profile along {line}")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)  # below: the curves fill the axes


def make_all(run, scale, data, measured):
    """Every figure of section IV: ``data`` the densities (``jobs.densities``), ``measured`` ``jobs.measure``'s."""
    style()
    fig8_exponential(run, measured["fig8"]["beyond"])
    fig9_warped_mesh(run, scale)
    for fid in DET_PANELS:
        det_jacobian_figure(run, scale, fid)
    for fid in FLOWS:
        density_figure(run, fid, data)
