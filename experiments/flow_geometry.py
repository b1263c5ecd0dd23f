"""Section IV: what a normalizing flow does to space and to a density, Figures 8-16.

``python -m experiments.flow_geometry [--quick | --full] [--out DIR] [--seed N] [--force] [--jobs N | --dask N | --scheduler ADDRESS]``

Nothing is trained: every flow has fixed parameters and every density is exact.
The exponential flow (Figure 8) is ``tfd.TransformedDistribution(N(0, 1), Exp)``.
Planar flows have no inverse, so their densities are pushed forward: a fine
grid of ``z_0`` goes through ``forward`` and each image point ``z_K`` carries
``log q_K(z_K) = log q_0(z_0) - sum_k log|det df_k/dz|`` (eq. 59, 63). Radial
flows are scored on a regular grid through their analytic inverse (eq. 77) by
``TransformedDistribution.log_prob``.

The thesis drew Figures 10-16 with the raw parameters; ``vinf``'s bijectors
always apply the invertibility corrections (eqs. 64, 75). So each layer is
specified by the effective ``u_hat`` (``beta_hat``) it must have, and the raw
``u`` (``beta``) handed to the bijector is obtained by inverting the correction.

The run takes seconds, so it always redraws every figure in the driver: it
has no jobs for the runner (``--seed`` and the executor flags are accepted for
the shared command line: nothing here is random or worth a worker process).
``--quick`` uses coarser grids.
"""
import dataclasses
import math

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import colors, ticker, tri

from experiments import _study
from experiments._common import Experiment
from experiments._study import Note, percent

NAME = "flow_geometry"


@dataclasses.dataclass(frozen=True)
class Scale:
    grid: int  # points per axis of every density and |det|^-1 grid
    line_points: int  # points along each mesh line of Figure 9


FULL = Scale(grid=301, line_points=400)
QUICK = Scale(grid=61, line_points=80)


# ------------------------------------------------------------------ layers


def _tfp():
    """TFP's bijectors and distributions, imported when first used (so ``--help`` needs no TensorFlow)."""
    import tensorflow_probability as tfp

    return tfp.bijectors, tfp.distributions


def softplus_inverse(x):
    """``log(exp(x) - 1)``, the inverse of ``softplus`` on ``(0, inf)``."""
    x = np.asarray(x, dtype=np.float64)
    return x + np.log(-np.expm1(-x))


@dataclasses.dataclass(frozen=True)
class PlanarLayer:
    """A planar layer ``f(z) = z + u_hat tanh(w^T z + b)`` (eq. 60) given by its effective ``u_hat``.

    The hyperplane ``w^T z + b = 0`` is where ``|det df/dz|^-1 = 1 / (1 + w^T u_hat)``
    departs most from 1 (eq. 62): a contraction towards it if ``w^T u_hat < 0``,
    an expansion away from it if ``w^T u_hat > 0``.
    """

    w: tuple
    b: float
    u_hat: tuple

    @property
    def raw_u(self):
        """The ``u`` that eq. 64 maps to ``u_hat``.

        Eq. 64 changes ``u`` only along ``w`` and sends ``w^T u`` to
        ``m(w^T u) = -1 + softplus(w^T u)``, so ``u = u_hat + (m^-1(w^T u_hat) -
        w^T u_hat) w / |w|^2`` with ``m^-1(s) = softplus^-1(1 + s)``, defined for
        ``w^T u_hat > -1``.
        """
        w, u_hat = np.asarray(self.w, np.float64), np.asarray(self.u_hat, np.float64)
        s = w @ u_hat
        if s <= -1.0:
            raise ValueError(f"w^T u_hat = {s:g} <= -1: no raw u gives this u_hat (eq. 64)")
        return u_hat + (softplus_inverse(1.0 + s) - s) * w / (w @ w)

    def bijector(self):
        from vinf.bijectors import Planar

        return Planar(u=self.raw_u, w=np.asarray(self.w, np.float64), b=np.float64(self.b))

    def describe(self):
        return (f"planar: w = {_vec(self.w)}, b = {self.b:g}, û = {_vec(self.u_hat)} "
                f"(wᵀû = {np.dot(self.w, self.u_hat):g}; raw u = {_vec(self.raw_u, 4)})")


@dataclasses.dataclass(frozen=True)
class RadialLayer:
    """A radial layer ``f(z) = z + beta_hat (z - z0) / (alpha + |z - z0|)`` (eq. 65) given by its ``beta_hat``.

    ``|det df/dz|^-1`` is furthest from 1 at ``z0`` (eq. 70): a contraction
    towards ``z0`` if ``beta_hat < 0``, an expansion away from it if ``beta_hat > 0``.
    """

    z0: tuple
    alpha: float
    beta_hat: float

    @property
    def raw_beta(self):
        """The ``beta`` that eq. 75 maps to ``beta_hat``: ``softplus^-1(beta_hat + alpha)``."""
        if self.beta_hat <= -self.alpha:
            raise ValueError(f"beta_hat = {self.beta_hat:g} <= -alpha: no raw beta gives it (eq. 75)")
        return float(softplus_inverse(self.beta_hat + self.alpha))

    def bijector(self):
        from vinf.bijectors import Radial

        return Radial(z0=np.asarray(self.z0, np.float64), alpha=np.float64(self.alpha),
                      beta=np.float64(self.raw_beta))

    def describe(self):
        return (f"radial: z_r = {_vec(self.z0)}, α = {self.alpha:g}, β̂ = {self.beta_hat:g} "
                f"(raw β = {self.raw_beta:.4f})")


def _vec(values, digits=3):
    return "[" + ", ".join(f"{v:.{digits}g}" for v in values) + "]"


def site(layer):
    """Where ``layer`` acts, as the report names it: a planar layer's line (``y = 1``), a radial layer's point."""
    if isinstance(layer, RadialLayer):
        return _vec(layer.z0)
    (w1, w2), b = layer.w, layer.b
    if w1 == 0:
        return f"y = {-b / w2:g}"
    if w2 == 0:
        return f"x = {-b / w1:g}"
    return f"{w1:g}x + {w2:g}y + {b:g} = 0"


def flow(layers):
    """``f_K o ... o f_1`` of the layers in the order given (eq. 59)."""
    tfb, _ = _tfp()
    return tfb.Chain([layer.bijector() for layer in reversed(layers)])


# The thesis's shapes: planar layers acting around the lines x = 1 and y = 1,
# radial layers around [1, 1], [0.75, 0.75] and [0.85, 0.85].
PLANAR_EXPANSION = PlanarLayer(w=(2.0, 0.0), b=-2.0, u_hat=(0.3, 0.0))  # away from x = 1
PLANAR_CONTRACTION = PlanarLayer(w=(0.0, 2.5), b=-2.5, u_hat=(0.0, -0.26))  # towards y = 1
RADIAL_EXPANSION = RadialLayer(z0=(1.0, 1.0), alpha=1.0, beta_hat=2.0)  # away from [1, 1]
RADIAL_CONTRACTION = RadialLayer(z0=(1.0, 1.0), alpha=1.0, beta_hat=-0.7)  # towards [1, 1]

RADIAL_TO_075 = RadialLayer(z0=(0.75, 0.75), alpha=1.0, beta_hat=-0.6)
RADIAL_FROM_085 = RadialLayer(z0=(0.85, 0.85), alpha=0.5, beta_hat=1.0)
FIG13_EXPANSIONS = 3
FLOWS = {
    "fig11": (),
    "fig12": (PLANAR_CONTRACTION,),
    "fig13": (PLANAR_CONTRACTION,) + (PLANAR_EXPANSION,) * FIG13_EXPANSIONS,
    "fig15": (RADIAL_TO_075,),
    "fig16": (RADIAL_TO_075, RADIAL_FROM_085),
}
FIG9_LAYERS = (
    PlanarLayer(w=(0.0, 1.5), b=0.0, u_hat=(0.9, 0.0)),  # a shear (w^T u_hat = 0)
    RadialLayer(z0=(0.6, -0.6), alpha=0.4, beta_hat=-0.35),
    PlanarLayer(w=(1.2, -1.2), b=0.6, u_hat=(0.5, -0.5)),
    RadialLayer(z0=(-0.9, 0.9), alpha=0.3, beta_hat=0.7),
)
DET_PANELS = {  # Figures 10 and 14: (panel title, layer), left then right
    "fig10": ((f"expansion away from the line {site(PLANAR_EXPANSION)}", PLANAR_EXPANSION),
              (f"contraction towards the line {site(PLANAR_CONTRACTION)}", PLANAR_CONTRACTION)),
    "fig14": ((f"radial expansion away from {site(RADIAL_EXPANSION)}", RADIAL_EXPANSION),
              (f"radial contraction towards {site(RADIAL_CONTRACTION)}", RADIAL_CONTRACTION)),
}
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
EXP_SAMPLES = 13  # evenly spaced points of [-EXP_RANGE, EXP_RANGE] in Figure 8
EXP_RANGE = 3.0
DENSITY_WINDOW = 4.5  # planar z_0 grid and radial z_K grid: [-4.5, 4.5]^2
DET_WINDOW = (-1.5, 3.5)  # Figures 10 and 14: centred on x = 1, y = 1, [1, 1]
PLOT_WINDOW = ((-3.0, 3.0), (-3.0, 3.0))  # what Figures 11-12 and 15 show: (x range, y range)
# Figure 13 reaches right to show the lobe that the expansions push beyond x = 1, on a square-root colour
# scale that shows its low density beside the ridge; Figure 16 zooms on the crater of its expansion.
WINDOWS = {"fig13": ((-3.0, 4.5), (-3.0, 3.0)), "fig16": ((-1.5, 2.5), (-1.5, 2.5))}
# drawn as lines over a figure's contours, and beside it in profile along the line of slope 1 through the last
# layer's point: the density before that layer
BEFORE = {"fig16": "fig15"}
PROFILE_POINTS = 801  # points along Figure 16's profile
AT_SITE = 1.5  # grid spacings: a mode or extreme this close to where a layer acts lies "at" it
VALLEY_DISTANCE = 0.5  # Figure 13's valley lies "across" the expansions' line within this distance of it
VALLEY_DEPTH = 0.8  # and is a valley when no higher than this share of the smaller lobe's peak
CRATER = 0.5  # Figure 16: the expansion hollows a crater when the density at its point falls below this share
COLOUR_GAMMA = {"fig13": 0.5}  # matplotlib PowerNorm's gamma where a linear scale hides what the text describes
FIG8_XLIM = (-3.5, 8.0)
INVERSE_DET_TICKS = (1 / 20, 1 / 10, 1 / 5, 1 / 3, 1 / 2, 1, 2, 3, 5, 10, 20)


# ------------------------------------------------------------------ data


def base_distribution():
    """``q_0 = N(0, I_2)``."""
    _, tfd = _tfp()
    return tfd.MultivariateNormalDiag(loc=np.zeros(2), scale_diag=np.ones(2))


def regular_grid(low, high, num):
    """``(X, Y)`` of a ``num x num`` grid, ``indexing="ij"``."""
    axis = np.linspace(low, high, num)
    return np.meshgrid(axis, axis, indexing="ij")


def _points(X, Y):
    return np.stack([X.ravel(), Y.ravel()], axis=-1)


def exponential_flow(num_samples=EXP_SAMPLES, num=600):
    """Figure 8: N(0, 1) through ``exp``, and the log-normal density of eq. 58 by TFP's change of variables."""
    tfb, tfd = _tfp()
    normal = tfd.Normal(np.float64(0.0), np.float64(1.0))
    log_normal = tfd.TransformedDistribution(normal, tfb.Exp())
    z = np.linspace(-EXP_RANGE, EXP_RANGE, num_samples)
    z_grid = np.linspace(-EXP_RANGE - 0.5, EXP_RANGE + 0.5, num)
    z_prime_grid = np.linspace(1e-3, 8.0, num)
    return dict(
        z=z, z_prime=tfb.Exp().forward(z).numpy(),
        z_grid=z_grid, q=normal.prob(z_grid).numpy(),
        z_prime_grid=z_prime_grid, q_prime=log_normal.prob(z_prime_grid).numpy(),
    )


def warped_mesh(layers, num_lines=17, num_points=400, half_width=2.0):
    """Figure 9: the mesh lines of ``[-w, w]^2`` (``[L, P, 2]``, both directions) and their images."""
    ticks = np.linspace(-half_width, half_width, num_lines)
    along = np.linspace(-half_width, half_width, num_points)
    vertical = np.stack(np.broadcast_arrays(ticks[:, None], along[None, :]), axis=-1)
    z0 = np.concatenate([vertical, vertical[..., ::-1]])
    return z0, flow(layers).forward(z0).numpy()


def inverse_det_jacobian(layer, num, window=DET_WINDOW):
    """Figures 10, 14: ``(X, Y, |det df/dz|^-1)`` of one layer on a regular grid (eqs. 62, 70)."""
    X, Y = regular_grid(*window, num)
    ldj = layer.bijector().forward_log_det_jacobian(_points(X, Y), event_ndims=1).numpy()
    return X, Y, np.exp(-ldj).reshape(X.shape)


def pushforward_density(layers, num, half_width=DENSITY_WINDOW):
    """Figures 11-13: ``(X_K, Y_K, q_K)`` on the image of a regular ``z_0`` grid (eq. 59).

    ``log q_K(z_K) = log q_0(z_0) - sum_k log|1 + u_hat_k^T psi_k(z_{k-1})|`` (eq. 63):
    no inverse is needed, so this works for planar layers. ``X_K, Y_K`` form a
    curvilinear grid (the flow is a diffeomorphism, so it does not fold).
    """
    X, Y = regular_grid(-half_width, half_width, num)
    z0 = _points(X, Y)
    bijector = flow(layers)
    z_k = bijector.forward(z0).numpy()
    log_q = base_distribution().log_prob(z0).numpy() - bijector.forward_log_det_jacobian(z0, event_ndims=1).numpy()
    return z_k[:, 0].reshape(X.shape), z_k[:, 1].reshape(X.shape), np.exp(log_q).reshape(X.shape)


def inverse_density(layers, num, half_width=DENSITY_WINDOW):
    """Figures 15-16: ``(X, Y, q_K)`` on a regular grid via the analytic inverse (eqs. 57, 77)."""
    _, tfd = _tfp()
    X, Y = regular_grid(-half_width, half_width, num)
    q_k = tfd.TransformedDistribution(base_distribution(), flow(layers))
    return X, Y, q_k.prob(_points(X, Y)).numpy().reshape(X.shape)


DENSITY = {"fig11": pushforward_density, "fig12": pushforward_density, "fig13": pushforward_density,
           "fig15": inverse_density, "fig16": inverse_density}


def line_density(layers, through, low, high, num=PROFILE_POINTS):
    """``(x, q_K)`` of a radial flow along the line of slope 1 through the point ``through``, ``x`` from ``low``
    to ``high`` (via the analytic inverse, as ``inverse_density``)."""
    _, tfd = _tfp()
    x = np.linspace(low, high, num)
    points = np.stack([x, x + through[1] - through[0]], axis=-1)
    return x, tfd.TransformedDistribution(base_distribution(), flow(layers)).prob(points).numpy()


def density_data(fid, num):
    """``(X, Y, q_K)`` of Figure ``fid`` (11, 12, 13, 15 or 16)."""
    return DENSITY[fid](FLOWS[fid], num)


def grid_mass(X, Y, density):
    """``integral q dA`` over a (possibly curvilinear) grid: cell area by the shoelace formula times the
    mean of the density at its four corners. On a pushed-forward grid the areas are those of the
    warped cells, so this checks ``q_K`` against the flow's actual change of area."""
    corners = [(slice(None, -1), slice(None, -1)), (slice(1, None), slice(None, -1)),
               (slice(1, None), slice(1, None)), (slice(None, -1), slice(1, None))]
    xs, ys = [X[c] for c in corners], [Y[c] for c in corners]
    area = 0.5 * np.abs(sum(xs[i] * ys[(i + 1) % 4] - xs[(i + 1) % 4] * ys[i] for i in range(4)))
    mean = sum(density[c] for c in corners) / 4.0
    return float(np.sum(area * mean))


def summary(X, Y, density):
    """What the report states of a plotted density: its integral over the grid, its mode and maximum."""
    mode = np.unravel_index(np.argmax(density), density.shape)
    return dict(mass=grid_mass(X, Y, density), mode=[float(X[mode]), float(Y[mode])], max=float(density[mode]))


# ------------------------------------------------------------------ figures


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


def beyond_plot(z_prime, xlim=FIG8_XLIM):
    """How many of Figure 8's images ``z'`` lie right of the plotted range."""
    return int(np.sum(np.asarray(z_prime) > xlim[1]))


def fig8_exponential(run):
    from vinf.plotting import PALETTE

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
    beyond = beyond_plot(data["z_prime"])
    ax.scatter(data["z_prime"], np.full_like(data["z"], rows[1]), marker="x", color=PALETTE["mcmc"], zorder=3,
               label=f"z' = exp(z) ({beyond} beyond the plot's right edge, the last at e^{EXP_RANGE:g} ≈ "
                     f"{data['z_prime'][-1]:.0f})")
    ax.set(xlim=FIG8_XLIM, ylim=(-0.17, 0.72), xlabel="z, z'", ylabel="density")
    ax.legend(fontsize=8.5, loc="upper right")
    save(run, fig, "fig8")


def fig9_warped_mesh(run, scale):
    from vinf.plotting import PALETTE

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


RADIAL_MARKERS = {True: ("o", "○ contraction"), False: ("s", "□ expansion")}  # by beta_hat < 0


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


def density_figure(run, scale, fid):
    """Figures 11-13, 15-16: ``q_K`` as a surface (left) and a contour plot (middle), as the thesis drew them,
    with where each layer acts marked on the contours (``_guides``); for Figure 16 also Figure 15's density, as
    lines over the contours and in profile beside them (right): the peak that the expansion hollows.

    Returns the figure's ``summary`` of its density."""
    X, Y, q = density_data(fid, scale.grid)
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
        Xb, Yb, qb = density_data(BEFORE[fid], scale.grid)
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
    return summary(X, Y, q)


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
    ax.legend(fontsize=8, loc="upper left")


# ------------------------------------------------------------------ report


def parameters():
    """Every fixed layer of every figure, as the report and ``results.json`` state them."""
    return {
        "fig8": f"exp on N(0, 1); {EXP_SAMPLES} points evenly spaced in [−{EXP_RANGE:g}, {EXP_RANGE:g}]",
        "fig9": [layer.describe() for layer in FIG9_LAYERS],
        **{fid: [f"{side}: {layer.describe()}" for side, (_, layer) in zip(("left", "right"), panels)]
           for fid, panels in DET_PANELS.items()},
        **{fid: [layer.describe() for layer in layers] or ["no layer (q₀ = N(0, I))"] for fid, layers in FLOWS.items()},
    }


# ------------------------------------------------------------------ what the report measures


def _acts_at(layer, points):
    """Distance of ``points [N, 2]`` from where ``layer`` acts: a planar layer's line, a radial layer's point."""
    if isinstance(layer, PlanarLayer):
        w = np.asarray(layer.w, float)
        return np.abs(points @ w + layer.b) / np.linalg.norm(w)
    return np.linalg.norm(points - np.asarray(layer.z0, float), axis=-1)


def det_extremum(layer, num):
    """Figures 10, 14: the extreme of ``|det df/dz|^-1`` (farthest from 1), its distance from where the layer
    acts, and the value farthest from that place in the window (where it should tend to 1)."""
    X, Y, inv_det = inverse_det_jacobian(layer, num)
    points, values = _points(X, Y), inv_det.ravel()
    extreme = np.argmax(np.abs(np.log(values)))
    far = np.argmax(_acts_at(layer, points))
    return dict(value=float(values[extreme]), distance=float(_acts_at(layer, points[extreme:extreme + 1])[0]),
                far=float(values[far]), lowest=float(values.min()), highest=float(values.max()),
                spacing=float((DET_WINDOW[1] - DET_WINDOW[0]) / (num - 1)))


def x_marginal(X, Y, q):
    """Figure 13's density integrated over y (its grid stays rectilinear: each layer moves one coordinate):
    ``(x, marginal)``."""
    return X[:, 0], np.trapezoid(q, Y[0], axis=1)


def valley(x, marginal, line=1.0):
    """The lobes of a marginal either side of ``line``, the lowest point between their peaks, and the mass
    either side."""
    from scipy.integrate import cumulative_trapezoid

    left, right = x < line, x >= line
    peaks = x[left][np.argmax(marginal[left])], x[right][np.argmax(marginal[right])]
    between = (x >= peaks[0]) & (x <= peaks[1])
    low = np.argmin(np.where(between, marginal, np.inf))
    mass = cumulative_trapezoid(marginal, x, initial=0.0)
    at_line = float(np.interp(line, x, mass))
    return dict(left_peak=float(peaks[0]), right_peak=float(peaks[1]), left_height=float(marginal[left].max()),
                right_height=float(marginal[right].max()), valley=float(x[low]), valley_height=float(marginal[low]),
                left_mass=at_line, right_mass=float(mass[-1] - at_line))


def _mode(X, Y, q):
    index = np.unravel_index(np.argmax(q), q.shape)
    return np.array([X[index], Y[index]])


def measure(scale):
    """The numbers behind the report's sentences on Figures 8-16 (at the run's grid)."""
    from scipy import stats

    exp = exponential_flow()
    positive = exp["q_prime"] > 1e-12
    lognormal = stats.lognorm(s=1.0).pdf(exp["z_prime_grid"][positive])
    out = {"fig8": dict(points=len(exp["z"]), beyond=beyond_plot(exp["z_prime"]), last=float(exp["z_prime"][-1]),
                        mode=float(exp["z_prime_grid"][np.argmax(exp["q_prime"])]),
                        lognormal_error=float(np.max(np.abs(exp["q_prime"][positive] / lognormal - 1.0))))}
    for fid, panels in DET_PANELS.items():
        out[fid] = [dict(label=label, **det_extremum(layer, scale.grid)) for label, layer in panels]
    data = {fid: density_data(fid, scale.grid) for fid in FLOWS}
    spacing = 2 * DENSITY_WINDOW / (scale.grid - 1)
    for fid in ("fig11", "fig12", "fig15"):
        X, Y, q = data[fid]
        mode = _mode(X, Y, q)
        target = FLOWS[fid][-1] if FLOWS[fid] else None
        out[fid] = dict(mode=mode.tolist(), max=float(q.max()), spacing=spacing,
                        distance=float(np.linalg.norm(mode) if target is None else _acts_at(target, mode[None])[0]))
    line = -PLANAR_EXPANSION.b / PLANAR_EXPANSION.w[0]  # the expansions' line x = line
    X, Y, q13 = data["fig13"]
    mode = _mode(X, Y, q13)
    out["fig13"] = dict(valley(*x_marginal(X, Y, q13), line=line), line=line, mode=mode.tolist(), spacing=spacing,
                        ridge_distance=float(_acts_at(PLANAR_CONTRACTION, mode[None])[0]))
    X, Y, q16 = data["fig16"]
    point = RADIAL_FROM_085.z0
    (before,), (after,) = (line_density(FLOWS[fid], point, point[0], point[0], num=1)[1] for fid in ("fig15", "fig16"))
    out["fig16"] = dict(before=float(before), after=float(after), mode=_mode(X, Y, q16).tolist(), spacing=spacing)
    return out


def _planar_effect(layer):
    """A planar layer's effect, from the sign of ``w^T u_hat`` (eq. 62)."""
    s = float(np.dot(layer.w, layer.u_hat))
    if s == 0:
        return "a shear along its line"
    return ("an expansion away from" if s > 0 else "a contraction towards") + " its line"


def note_fig8(m):
    return Note(
        f"The {m['points']} evenly spaced points of [−{EXP_RANGE:g}, {EXP_RANGE:g}] land on (0, e^{EXP_RANGE:g}]: "
        f"{m['beyond']} of their images lie beyond the plot's right edge (the last at e^{EXP_RANGE:g} ≈ "
        f"{m['last']:.1f}). The log-normal peaks at z' = "
        f"{m['mode']:.2f} and thins out to the right; the plotted density is TFP's "
        "`TransformedDistribution(Normal(0, 1), Exp())`, within a relative "
        f"{m['lognormal_error']:.1e} of scipy's log-normal pdf.",
        "Agrees with the text: the negative half-line is compacted into (0, 1), where the density piles up."
        if 0 < m["mode"] < 1 else "Unlike the text, the density does not pile up just right of 0.")


def note_fig9():
    effects = [_planar_effect(layer) if isinstance(layer, PlanarLayer) else
               f"{'pulled in' if layer.beta_hat < 0 else 'pushed out'} around {_vec(layer.z0)}"
               for layer in FIG9_LAYERS]
    return Note("The thesis gives no layers for its Figure 9; these are ours, in order: " + "; ".join(effects)
                + ". The grey mesh z₀ and its blue image z_K.")


def note_det(fid, panels):
    """Figures 10 and 14: per panel, the extreme of |det|⁻¹, where it lies and how far from 1 it ends."""
    parts, agree = [], True
    for side, p in zip(("Left", "right"), panels):
        kind = "expansion" if p["value"] < 1 else "contraction"
        at_site = p["distance"] <= AT_SITE * p["spacing"]
        one_side = p["highest"] <= 1 + 1e-9 if kind == "expansion" else p["lowest"] >= 1 - 1e-9
        fades = abs(math.log(p["far"])) < 0.5 * abs(math.log(p["value"]))
        agree &= kind in p["label"] and at_site and one_side and fades
        if kind == "expansion":
            stays = "stays below 1 everywhere" if one_side else f"goes above 1 somewhere (max {p['highest']:.3f})"
        else:
            stays = "stays above 1 everywhere" if one_side else f"goes below 1 somewhere (min {p['lowest']:.3f})"
        parts.append(f"{side} ({p['label']}): |det|⁻¹ reaches {p['value']:.3f} ({kind}) {p['distance']:.3f} from "
                     f"where the layer acts, {stays}, and is {p['far']:.3f} at the window's point farthest from there")
    names = "u, û, eq. 64" if fid == "fig10" else "β, β̂, eq. 75"
    raw, corrected, eq = names.split(", ")
    return Note("; ".join(parts) + f". The thesis set {raw} directly; here the raw {raw} is the one that {eq} maps "
                f"onto the intended {corrected}, so the map drawn is the same.",
                "Agrees with the caption: each layer is an expansion or contraction as its panel names it, acting "
                "most where it should and nearer 1 away from it (eqs. 62, 70)." if agree else
                "Does not agree with the caption in full: see the numbers.")


def note_fig11(m):
    peak = 1 / (2 * math.pi)
    ok = m["distance"] <= AT_SITE * m["spacing"] and abs(m["max"] - peak) < 0.01 * peak
    return Note(f"The unit Gaussian (drawn by the same push-forward code with zero layers): maximum {m['max']:.4f} "
                f"(1/2π = {peak:.4f}) at {m['distance']:.3f} from the origin.",
                "As in the thesis." if ok else "Not the unit Gaussian: a bug.")


def note_fig12(m, layer=PLANAR_CONTRACTION):
    peak = 1 / (2 * math.pi)
    line = site(layer)
    ridge = m["distance"] <= AT_SITE * m["spacing"] and m["max"] > peak
    return Note(f"The mode moves to [{m['mode'][0]:.2f}, {m['mode'][1]:.2f}], {m['distance']:.3f} from the line "
                f"{line}, where the density reaches {m['max']:.3f} ({m['max'] / peak:.2f} times q₀'s peak).",
                f"Agrees with the caption: the band around {line} is squeezed onto the line, raising a ridge along it."
                if ridge else f"Does not agree with the caption: no ridge forms on {line}.")


def note_fig13(m, ridge_layer=PLANAR_CONTRACTION):
    """Figure 13: the two lobes of the density integrated over y either side of the expansions' line, the
    valley between them, and whether the contraction's ridge remains (the mode on its line)."""
    line, ridge_line = f"x = {m['line']:g}", site(ridge_layer)
    heights = {"left": m["left_height"], "right": m["right_height"]}
    lower = min(heights, key=heights.get)
    smaller = heights[lower]
    depth = m["valley_height"] / smaller if smaller > 0 else None
    dip = abs(m["valley"] - m["line"]) < VALLEY_DISTANCE and depth is not None and depth < VALLEY_DEPTH
    ridge = m["ridge_distance"] <= AT_SITE * m["spacing"]
    measured = (f"Integrated over y, the density has a lobe left of {line}, peaking at x = {m['left_peak']:.2f} and "
                f"holding {percent(m['left_mass'])} of the mass, and one right of it, peaking at x = "
                f"{m['right_peak']:.2f} and holding {percent(m['right_mass'])}; its lowest point between them is at "
                f"x = {m['valley']:.2f}, " + (f"{percent(depth, 0)} of the smaller ({lower}) lobe's height"
                                              if depth is not None else "the smaller lobe having no height")
                + f". The mode is at [{m['mode'][0]:.2f}, {m['mode'][1]:.2f}], {m['ridge_distance']:.3f} from the line "
                f"{ridge_line}. The colour scale is a square root, so the lower {lower} lobe shows beside the ridge.")
    if ridge and dip:
        study = (f"Agrees with the caption: the ridge along {ridge_line} remains and the expansions open a valley "
                 f"across {line}.")
    elif ridge:
        study = (f"Does not agree with the caption in full: the ridge along {ridge_line} remains, but no valley opens "
                 f"across {line}.")
    elif dip:
        study = (f"Does not agree with the caption in full: a valley opens across {line}, but the mode leaves the "
                 f"ridge along {ridge_line}.")
    else:
        study = f"Does not agree with the caption: no ridge along {ridge_line} and no valley across {line}."
    return Note(measured, study)


def note_fig15(m, layer=RADIAL_TO_075):
    ok = m["distance"] <= AT_SITE * m["spacing"]
    point = site(layer)
    return Note(f"The density now peaks at [{m['mode'][0]:.2f}, {m['mode'][1]:.2f}], {m['distance']:.3f} from "
                f"{point}, reaching {m['max']:.3f} (a cusp: the radial map's Jacobian is not smooth at its "
                "reference point).",
                f"Agrees with the caption: the Gaussian is drawn towards {point}." if ok else
                f"Does not agree with the caption: the peak is not at {point}.")


def quadrant(point, tolerance):
    """Where ``point`` lies around the origin: a quadrant by the signs of its coordinates, or on an axis when
    one is within ``tolerance`` of 0."""
    x, y = point
    if abs(x) <= tolerance or abs(y) <= tolerance:
        return "on an axis through the origin"
    return f"in the {'upper' if y > 0 else 'lower'} {'right' if x > 0 else 'left'} quadrant"


def note_fig16(m, layer=RADIAL_FROM_085):
    point = site(layer)
    before, after = m["before"], m["after"]
    ratio = after / before if before > 0 else None
    change = "falls" if after < before else "rises" if after > before else "stays"
    share = f" ({percent(ratio, 0)} of it)" if ratio is not None else ""
    moved = (f"{change} from {before:.3f} (Figure 15) to {after:.3f}{share}" if change != "stays" else
             f"stays at {after:.3f}, as in Figure 15")
    crater = ratio is not None and ratio < CRATER
    return Note(f"At {point} the density {moved}; the mode moves to [{m['mode'][0]:.2f}, {m['mode'][1]:.2f}], "
                f"{quadrant(m['mode'], m['spacing'] / 2)}. The window is zoomed on the crater; the right panel "
                "follows both densities along the line through it.",
                f"Agrees with the caption: the expansion hollows a crater around {point}." if crater else
                f"Does not agree with the caption: no crater opens around {point}.")


def notes(m):
    """Each figure's note from ``measure``'s numbers."""
    return {"fig8": note_fig8(m["fig8"]), "fig9": note_fig9(),
            **{fid: note_det(fid, m[fid]) for fid in DET_PANELS},
            "fig11": note_fig11(m["fig11"]), "fig12": note_fig12(m["fig12"]), "fig13": note_fig13(m["fig13"]),
            "fig15": note_fig15(m["fig15"]), "fig16": note_fig16(m["fig16"])}


def _plain(title):
    return title.replace("$", "")


def write_report(run, summaries, measured):
    """``report.md``: each figure inline, its parameters, a check, its note, the command."""
    folder, scale = run.out.name, run.scale
    params = parameters()
    figure_notes = notes(measured)
    lines = [_study.quick_banner(run, f"grids of {scale.grid} points a side instead of {FULL.grid}, mesh lines of "
                                      f"{scale.line_points} points")] if run.quick else []
    lines.append(
        "Fixed, untrained layers and exact densities. `vinf`'s bijectors always apply the invertibility "
        "corrections û (eq. 64) and β̂ (eq. 75), which the thesis did not use for these figures. So each layer "
        "is given below by the û (β̂) it must have, and the raw u (β) passed to `vinf.bijectors.Planar` "
        "(`Radial`) is the one the correction maps onto it. Planar densities are pushed forward from a "
        f"{scale.grid}×{scale.grid} grid of z₀ over [−{DENSITY_WINDOW:g}, {DENSITY_WINDOW:g}]² (eq. 59: planar "
        "flows have no inverse); radial densities are evaluated on a regular grid through the analytic inverse "
        "(eq. 77). Each density's integral over its grid (over the warped cells, for the planar ones) checks "
        "the log-determinants against the flow's actual change of area. The thesis's images are not available "
        "here, so each figure is compared with the thesis's caption and text.\n")
    for fid in sorted(FIGURES, key=lambda f: int(f[3:])):
        title, filename = FIGURES[fid]
        lines.append(f"### Figure {fid[3:]} — {_plain(title)}\n")
        lines.append(f"![Fig. {fid[3:]}]({folder}/{filename})\n")
        value = params[fid]
        lines.append("Parameters: " + (value if isinstance(value, str) else "; ".join(value)) + ".\n")
        if fid in summaries:
            s = summaries[fid]
            lines.append(f"Integral of the plotted density over its grid: {s['mass']:.5f}; maximum "
                         f"{s['max']:.3f} at [{s['mode'][0]:.2f}, {s['mode'][1]:.2f}].\n")
        lines.append(figure_notes[fid].text(run.quick) + "\n")
        lines.append(f"Command: `{run.command}`\n")
    run.write_text("report.md", "\n".join(lines))


def work(run):
    """Every figure, its data summarised in ``results.json``, and the report."""
    from vinf.plotting import style

    scale = run.scale
    style()
    fig8_exponential(run)
    fig9_warped_mesh(run, scale)
    for fid in DET_PANELS:
        det_jacobian_figure(run, scale, fid)
    summaries = {fid: density_figure(run, scale, fid) for fid in FLOWS}
    measured = measure(scale)
    run.set_extra("parameters", parameters())
    run.set_extra("densities", summaries)
    run.set_extra("measured", measured)
    write_report(run, summaries, measured)


EXPERIMENT = Experiment(NAME, __doc__, FULL, QUICK, work)
main = EXPERIMENT.main

if __name__ == "__main__":
    main()
