"""The flow-geometry experiment's numbers: every density and map that Figures 8-16 draw, exactly, and what the
report states of them (``measure``).

Nothing is trained: every flow has fixed parameters (``layers``) and every
density is exact. The run takes seconds, so it computes in the driver: it has
no jobs for the runner. Planar flows have no inverse, so their densities are
pushed forward: a grid of ``z_0`` goes through ``forward`` and each image point
``z_K`` carries ``log q_K(z_K) = log q_0(z_0) - sum_k log|det df_k/dz|`` (eqs.
59, 63). Radial flows are scored on a regular grid through their analytic
inverse (eq. 77) by ``TransformedDistribution.log_prob``.
"""
import numpy as np
import tensorflow_probability as tfp
from scipy import stats
from scipy.integrate import cumulative_trapezoid

from experiments.flow_geometry.config import (DENSITY_WINDOW, DET_WINDOW, EXP_RANGE, EXP_SAMPLES, FIG8_XLIM,
                                              PROFILE_POINTS)
from experiments.flow_geometry.layers import (DET_PANELS, FLOWS, PLANAR_CONTRACTION, PLANAR_EXPANSION,
                                              RADIAL_FROM_085, PlanarLayer, flow)

tfb, tfd = tfp.bijectors, tfp.distributions

# ------------------------------------------------------------------ what the figures draw


def base_distribution():
    """``q_0 = N(0, I_2)``."""
    return tfd.MultivariateNormalDiag(loc=np.zeros(2), scale_diag=np.ones(2))


def regular_grid(low, high, num):
    """``(X, Y)`` of a ``num x num`` grid, ``indexing="ij"``."""
    axis = np.linspace(low, high, num)
    return np.meshgrid(axis, axis, indexing="ij")


def grid_points(X, Y):
    """The points ``[N, 2]`` of a grid ``X, Y``."""
    return np.stack([X.ravel(), Y.ravel()], axis=-1)


def exponential_flow(num_samples=EXP_SAMPLES, num=600):
    """Figure 8: N(0, 1) through ``exp``, and the log-normal density of eq. 58 by TFP's change of variables."""
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
    ldj = layer.bijector().forward_log_det_jacobian(grid_points(X, Y), event_ndims=1).numpy()
    return X, Y, np.exp(-ldj).reshape(X.shape)


def pushforward_density(layers, num, half_width=DENSITY_WINDOW):
    """Figures 11-13: ``(X_K, Y_K, q_K)`` on the image of a regular ``z_0`` grid (eq. 59).

    ``log q_K(z_K) = log q_0(z_0) - sum_k log|1 + u_hat_k^T psi_k(z_{k-1})|`` (eq. 63):
    no inverse is needed, so this works for planar layers. ``X_K, Y_K`` form a
    curvilinear grid (the flow is a diffeomorphism, so it does not fold).
    """
    X, Y = regular_grid(-half_width, half_width, num)
    z0 = grid_points(X, Y)
    bijector = flow(layers)
    z_k = bijector.forward(z0).numpy()
    log_q = base_distribution().log_prob(z0).numpy() - bijector.forward_log_det_jacobian(z0, event_ndims=1).numpy()
    return z_k[:, 0].reshape(X.shape), z_k[:, 1].reshape(X.shape), np.exp(log_q).reshape(X.shape)


def inverse_density(layers, num, half_width=DENSITY_WINDOW):
    """Figures 15-16: ``(X, Y, q_K)`` on a regular grid via the analytic inverse (eqs. 57, 77)."""
    X, Y = regular_grid(-half_width, half_width, num)
    q_k = tfd.TransformedDistribution(base_distribution(), flow(layers))
    return X, Y, q_k.prob(grid_points(X, Y)).numpy().reshape(X.shape)


DENSITY = {"fig11": pushforward_density, "fig12": pushforward_density, "fig13": pushforward_density,
           "fig15": inverse_density, "fig16": inverse_density}


def line_density(layers, through, low, high, num=PROFILE_POINTS):
    """``(x, q_K)`` of a radial flow along the line of slope 1 through the point ``through``, ``x`` from ``low``
    to ``high`` (via the analytic inverse, as ``inverse_density``)."""
    x = np.linspace(low, high, num)
    points = np.stack([x, x + through[1] - through[0]], axis=-1)
    return x, tfd.TransformedDistribution(base_distribution(), flow(layers)).prob(points).numpy()


def density_data(fid, num):
    """``(X, Y, q_K)`` of Figure ``fid`` (11, 12, 13, 15 or 16)."""
    return DENSITY[fid](FLOWS[fid], num)


def densities(num):
    """``{fid: (X, Y, q_K)}`` of every density figure, on ``num x num`` grids."""
    return {fid: density_data(fid, num) for fid in FLOWS}


# ------------------------------------------------------------------ what the report states


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


def beyond_plot(z_prime, xlim=FIG8_XLIM):
    """How many of Figure 8's images ``z'`` lie right of the plotted range."""
    return int(np.sum(np.asarray(z_prime) > xlim[1]))


def acts_at(layer, points):
    """Distance of ``points [N, 2]`` from where ``layer`` acts: a planar layer's line, a radial layer's point."""
    if isinstance(layer, PlanarLayer):
        w = np.asarray(layer.w, float)
        return np.abs(points @ w + layer.b) / np.linalg.norm(w)
    return np.linalg.norm(points - np.asarray(layer.z0, float), axis=-1)


def det_extremum(layer, num):
    """Figures 10, 14: the extreme of ``|det df/dz|^-1`` (farthest from 1), its distance from where the layer
    acts, and the value farthest from that place in the window (where it should tend to 1)."""
    X, Y, inv_det = inverse_det_jacobian(layer, num)
    points, values = grid_points(X, Y), inv_det.ravel()
    extreme = np.argmax(np.abs(np.log(values)))
    far = np.argmax(acts_at(layer, points))
    return dict(value=float(values[extreme]), distance=float(acts_at(layer, points[extreme:extreme + 1])[0]),
                far=float(values[far]), lowest=float(values.min()), highest=float(values.max()),
                spacing=float((DET_WINDOW[1] - DET_WINDOW[0]) / (num - 1)))


def x_marginal(X, Y, q):
    """Figure 13's density integrated over y (its grid stays rectilinear: each layer moves one coordinate):
    ``(x, marginal)``."""
    return X[:, 0], np.trapezoid(q, Y[0], axis=1)


def valley(x, marginal, line=1.0):
    """The lobes of a marginal either side of ``line``, the lowest point between their peaks, and the mass
    either side."""
    left, right = x < line, x >= line
    peaks = x[left][np.argmax(marginal[left])], x[right][np.argmax(marginal[right])]
    between = (x >= peaks[0]) & (x <= peaks[1])
    low = np.argmin(np.where(between, marginal, np.inf))
    mass = cumulative_trapezoid(marginal, x, initial=0.0)
    at_line = float(np.interp(line, x, mass))
    return dict(left_peak=float(peaks[0]), right_peak=float(peaks[1]), left_height=float(marginal[left].max()),
                right_height=float(marginal[right].max()), valley=float(x[low]), valley_height=float(marginal[low]),
                left_mass=at_line, right_mass=float(mass[-1] - at_line))


def mode_of(X, Y, q):
    """The grid point where ``q`` is highest."""
    index = np.unravel_index(np.argmax(q), q.shape)
    return np.array([X[index], Y[index]])


def measure(scale, data=None):
    """The numbers behind the report's sentences on Figures 8-16 (at the run's grid; ``data``: ``densities``
    at that grid, if already computed)."""
    exp = exponential_flow()
    positive = exp["q_prime"] > 1e-12
    lognormal = stats.lognorm(s=1.0).pdf(exp["z_prime_grid"][positive])
    out = {"fig8": dict(points=len(exp["z"]), beyond=beyond_plot(exp["z_prime"]), last=float(exp["z_prime"][-1]),
                        mode=float(exp["z_prime_grid"][np.argmax(exp["q_prime"])]),
                        lognormal_error=float(np.max(np.abs(exp["q_prime"][positive] / lognormal - 1.0))))}
    for fid, panels in DET_PANELS.items():
        out[fid] = [dict(label=label, **det_extremum(layer, scale.grid)) for label, layer in panels]
    data = densities(scale.grid) if data is None else data
    spacing = 2 * DENSITY_WINDOW / (scale.grid - 1)
    for fid in ("fig11", "fig12", "fig15"):
        X, Y, q = data[fid]
        mode = mode_of(X, Y, q)
        target = FLOWS[fid][-1] if FLOWS[fid] else None
        out[fid] = dict(mode=mode.tolist(), max=float(q.max()), spacing=spacing,
                        distance=float(np.linalg.norm(mode) if target is None else acts_at(target, mode[None])[0]))
    line = -PLANAR_EXPANSION.b / PLANAR_EXPANSION.w[0]  # the expansions' line x = line
    X, Y, q13 = data["fig13"]
    mode = mode_of(X, Y, q13)
    out["fig13"] = dict(valley(*x_marginal(X, Y, q13), line=line), line=line, mode=mode.tolist(), spacing=spacing,
                        ridge_distance=float(acts_at(PLANAR_CONTRACTION, mode[None])[0]))
    X, Y, q16 = data["fig16"]
    point = RADIAL_FROM_085.z0
    (before,), (after,) = (line_density(FLOWS[fid], point, point[0], point[0], num=1)[1] for fid in ("fig15", "fig16"))
    out["fig16"] = dict(before=float(before), after=float(after), mode=mode_of(X, Y, q16).tolist(), spacing=spacing)
    return out
