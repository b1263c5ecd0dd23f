"""Unnormalised log densities of the thesis's targets, in unconstrained space.

Every target is a ``Target``: ``log_prob(z)`` maps ``[..., dim]`` to ``[...]``
in TensorFlow ops (any float dtype), ``names`` labels the coordinates and
``log_evidence()`` returns ``log Z = log \\int exp(log_prob)`` by quadrature where
that is feasible. ``get(name, **kwargs)`` builds a target by name; ``names()``
lists them.
"""
import functools
import math

import numpy as np
import tensorflow as tf
from scipy.special import logsumexp

__all__ = ["Target", "get", "names", "register", "side_by_side", "EIGHT_SCHOOLS_Y", "EIGHT_SCHOOLS_SIGMA"]

_REGISTRY = {}
_LOG_2PI = math.log(2.0 * math.pi)


def register(name):
    """Add a factory to the registry under ``name`` (usable by ``get``)."""

    def decorate(factory):
        _REGISTRY[name] = factory
        return factory

    return decorate


def names():
    """Names of every registered target."""
    return sorted(_REGISTRY)


def get(name, **kwargs):
    """Build the target registered as ``name``, passing ``kwargs`` to its factory."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown target {name!r}; known targets: {', '.join(names())}")
    return _REGISTRY[name](**kwargs)


class Target:
    """A target density known up to its normaliser.

    Args:
      name: registry name.
      log_prob: ``z [..., dim] -> [...]``, TensorFlow ops.
      names: one label per coordinate.
      bounds: ``[(low, high)] * dim``, a box holding essentially all the mass:
        the plotting window, and the quadrature domain when ``dim <= 2``.
      log_evidence_fn: optional exact ``log Z``; otherwise ``log_evidence``
        integrates on a grid over ``bounds`` (dim 1 or 2 only).
    """

    def __init__(self, name, log_prob, names, bounds=None, log_evidence_fn=None):
        self.name = name
        self.log_prob = log_prob
        self.names = tuple(names)
        self.dim = len(self.names)
        self.bounds = None if bounds is None else tuple(tuple(map(float, b)) for b in bounds)
        self._log_evidence_fn = log_evidence_fn

    def __repr__(self):
        return f"Target({self.name!r}, dim={self.dim})"

    def grid(self, num=400):
        """A regular grid over ``bounds``: (axes, points of shape ``[num**dim, dim]``)."""
        if self.bounds is None:
            raise ValueError(f"target {self.name!r} has no bounds to grid")
        axes = [np.linspace(lo, hi, num) for lo, hi in self.bounds]
        mesh = np.meshgrid(*axes, indexing="ij")
        return axes, np.stack([m.ravel() for m in mesh], axis=-1)

    def log_prob_numpy(self, z):
        """``log_prob`` on a float64 NumPy array."""
        return self.log_prob(tf.constant(np.asarray(z, dtype=np.float64))).numpy()

    @functools.lru_cache(maxsize=None)
    def log_evidence(self):
        """``log Z`` exactly or by quadrature; ``None`` when not computable."""
        if self._log_evidence_fn is not None:
            return float(self._log_evidence_fn())
        if self.bounds is None or self.dim > 2:
            return None
        num = 20001 if self.dim == 1 else 1201
        axes, points = self.grid(num)
        log_p = self.log_prob_numpy(points).reshape((num,) * self.dim)
        cell = np.prod([ax[1] - ax[0] for ax in axes])
        # Trapezoid weights in log space: halve the edges of every axis.
        log_w = np.zeros_like(log_p)
        for axis in range(self.dim):
            edge = [slice(None)] * self.dim
            for end in (0, -1):
                edge[axis] = end
                log_w[tuple(edge)] += math.log(0.5)
        return float(logsumexp(log_p + log_w) + math.log(cell))


def side_by_side(targets, repeats=1):
    """One log density for a batched surrogate whose members fit different targets.

    Batch members ``[i * repeats, (i + 1) * repeats)`` fit ``targets[i]``: the
    returned target maps ``z [..., len(targets) * repeats, dim]`` to
    ``[..., len(targets) * repeats]``. Trainings on several targets of one
    dimension then share a single surrogate and a single compiled step
    (``vinf.fit``, ``vinf.diagnostics.evaluate_runs``), each member still
    following its own target.
    """
    targets = list(targets)
    if not targets or len({t.dim for t in targets}) != 1:
        raise ValueError("side_by_side needs one or more targets of the same dim")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be a positive integer, got {repeats!r}")
    size = len(targets) * repeats

    def log_prob(z):
        if z.shape[-2] != size:
            raise ValueError(f"side_by_side expects {size} batch members on axis -2, got shape {z.shape}")
        blocks = tf.split(z, len(targets), axis=-2)
        return tf.concat([t.log_prob(block) for t, block in zip(targets, blocks)], axis=-1)

    return Target(" | ".join(t.name for t in targets), log_prob, targets[0].names)


def _normal_log_prob(x, loc, scale):
    return -0.5 * tf.square((x - loc) / scale) - tf.math.log(scale) - 0.5 * _LOG_2PI


def _const(value, like):
    return tf.constant(value, dtype=like.dtype)


def _mixture_log_prob(z, weights, locs, covs):
    """``log sum_k pi_k N(z | mu_k, Sigma_k)`` for 2x2 or DxD covariances."""
    terms = []
    for weight, loc, cov in zip(weights, locs, covs):
        prec = np.linalg.inv(cov)
        _, logdet = np.linalg.slogdet(cov)
        d = z - _const(loc, z)
        maha = tf.einsum("...i,ij,...j->...", d, _const(prec, z), d)
        terms.append(
            math.log(weight) - 0.5 * (len(loc) * _LOG_2PI + logdet) - 0.5 * maha
        )
    return tf.reduce_logsumexp(tf.stack(terms, axis=-1), axis=-1)


@register("two_hills")
def two_hills(x=0.5, sigma=0.1):
    """``log N(x | z^2, sigma^2) + log N(z | 0, 1)`` (eqs. 80-82): modes at +-sqrt(x)."""

    def log_prob(z):
        z = z[..., 0]
        return _normal_log_prob(_const(x, z), tf.square(z), _const(sigma, z)) + _normal_log_prob(
            z, _const(0.0, z), _const(1.0, z)
        )

    return Target("two_hills", log_prob, ["z"], bounds=[(-3.0, 3.0)])


THESIS_MIXTURE = dict(
    weights=(0.5, 0.5),
    locs=((7.1867, 6.3336), (9.0808, -3.8822)),
    covs=(((8.7408, -6.7408), (-6.7408, 8.7408)), ((4.1826, 2.1826), (2.1826, 4.1826))),
)


@register("gaussian_mixture")
def gaussian_mixture(weights=None, locs=None, covs=None):
    """The section II mixture posterior (Figure 19); the study's parameters by default."""
    weights = THESIS_MIXTURE["weights"] if weights is None else weights
    locs = np.asarray(THESIS_MIXTURE["locs"] if locs is None else locs, dtype=float)
    covs = np.asarray(THESIS_MIXTURE["covs"] if covs is None else covs, dtype=float)
    if not (len(weights) == len(locs) == len(covs)) or locs.shape[-1] != 2:
        raise ValueError("gaussian_mixture needs as many weights, 2-D means and 2x2 covariances")
    sd = np.sqrt(np.stack([np.diag(c) for c in covs]))
    low, high = (locs - 5 * sd).min(axis=0), (locs + 5 * sd).max(axis=0)
    return Target(
        "gaussian_mixture",
        lambda z: _mixture_log_prob(z, weights, locs, covs),
        ["z1", "z2"],
        bounds=list(zip(low, high)),
        log_evidence_fn=lambda: math.log(sum(weights)),
    )


@register("figure_eight")
def figure_eight(mu=(1.0, 1.0), variance=0.45):
    """Symmetric mixture ``0.5 N(z | mu, s I) + 0.5 N(z | -mu, s I)`` under a flat prior (eqs. 83-84)."""
    mu = np.asarray(mu, dtype=float)
    cov = variance * np.eye(2)
    return Target(
        "figure_eight",
        lambda z: _mixture_log_prob(z, (0.5, 0.5), (mu, -mu), (cov, cov)),
        ["z1", "z2"],
        bounds=[(-4.0, 4.0), (-4.0, 4.0)],
        log_evidence_fn=lambda: 0.0,
    )


@register("banana")
def banana():
    """``N(z2 | 0, 4) N(z1 | z2^2 / 4, 1)`` (eq. 85; 4 is the variance)."""

    def log_prob(z):
        z1, z2 = z[..., 0], z[..., 1]
        return _normal_log_prob(z2, _const(0.0, z), _const(2.0, z)) + _normal_log_prob(
            z1, tf.square(z2) / 4.0, _const(1.0, z)
        )

    return Target(
        "banana", log_prob, ["z1", "z2"], bounds=[(-4.0, 20.0), (-9.0, 9.0)],
        log_evidence_fn=lambda: 0.0,
    )


def _ring_log_prob(z, radius, width, centre, spread, factor):
    """``-1/2 ((|z| - radius)/width)^2 + log(sum_+- exp(-factor ((z1 -+ centre)/spread)^2))``."""
    ring = -0.5 * tf.square((tf.norm(z, axis=-1) - radius) / width)
    z1 = z[..., 0]
    bumps = tf.stack(
        [-factor * tf.square((z1 - centre) / spread), -factor * tf.square((z1 + centre) / spread)],
        axis=-1,
    )
    return ring + tf.reduce_logsumexp(bumps, axis=-1)


@register("circle")
def circle():
    """The circle of eq. 86, radius 4.

    Eq. 86 as printed has the ring term's sign flipped (its density would grow
    without bound); the figure and the text describe ``exp(-U)`` with
    ``U = 1/2 ((|z| - 4)/0.4)^2 - log(e^{-0.2((z1-2)/0.8)^2} + e^{-0.2((z1+2)/0.8)^2})``.
    """
    return Target(
        "circle",
        lambda z: _ring_log_prob(z, 4.0, 0.4, 2.0, 0.8, 0.2),
        ["z1", "z2"],
        bounds=[(-6.5, 6.5), (-6.5, 6.5)],
    )


def _w1(z1):
    return tf.sin(2.0 * math.pi * z1 / 4.0)


def _w2(z1):
    return 3.0 * tf.exp(-0.5 * tf.square((z1 - 1.0) / 0.6))


def _w3(z1):
    return 3.0 * tf.sigmoid((z1 - 1.0) / 0.3)


def _two_waves(z, shift, first_width, second_width):
    """``log(exp(-1/2 ((z2 - w1)/a)^2) + exp(-1/2 ((z2 - w1 + shift)/b)^2))`` (log-sum-exp, eq. 89)."""
    z1, z2 = z[..., 0], z[..., 1]
    return tf.reduce_logsumexp(
        tf.stack(
            [
                -0.5 * tf.square((z2 - _w1(z1)) / first_width),
                -0.5 * tf.square((z2 - _w1(z1) + shift(z1)) / second_width),
            ],
            axis=-1,
        ),
        axis=-1,
    )


def _energy(name, log_prob, wall):
    """Energies 2-4 do not decay along z1, so they are not densities on R^2.

    ``wall`` (default 4) adds ``-1/2 ((|z1| - wall)_+ / 0.1)^2``: inside
    ``|z1| <= wall``, the window of the thesis's Figure 34, nothing changes;
    outside the density falls within a fraction of a unit. ``wall=None`` gives the
    printed, improper form.
    """
    if wall is None:
        return Target(name, log_prob, ["z1", "z2"])

    def walled(z):
        outside = tf.nn.relu(tf.abs(z[..., 0]) - wall)
        return log_prob(z) - 0.5 * tf.square(outside / 0.1)

    return Target(name, walled, ["z1", "z2"], bounds=[(-wall - 1.0, wall + 1.0), (-5.0, 5.0)])


@register("energy1")
def energy1():
    """Eq. 87, first energy: a ring of radius 2 cut into two arcs."""
    return Target(
        "energy1",
        lambda z: _ring_log_prob(z, 2.0, 0.4, 2.0, 0.6, 0.5),
        ["z1", "z2"],
        bounds=[(-4.0, 4.0), (-4.0, 4.0)],
    )


@register("energy2")
def energy2(wall=4.0):
    """Eq. 87, second energy: ``-((z2 - w1(z))/0.4)^2``, as printed in the thesis."""
    return _energy(
        "energy2", lambda z: -tf.square((z[..., 1] - _w1(z[..., 0])) / 0.4), wall
    )


@register("energy3")
def energy3(wall=4.0):
    """Eq. 87, third energy: two waves split by ``w2`` (eq. 88)."""
    return _energy("energy3", lambda z: _two_waves(z, _w2, 0.35, 0.35), wall)


@register("energy4")
def energy4(wall=4.0):
    """Eq. 87, fourth energy: two waves split by ``w3`` (eq. 88)."""
    return _energy("energy4", lambda z: _two_waves(z, _w3, 0.4, 0.35), wall)


# ---------------------------------------------------------------- eight schools

EIGHT_SCHOOLS_Y = (28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0)  # Table I
EIGHT_SCHOOLS_SIGMA = (15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0)
_PRIOR_SCALE = 5.0  # mu ~ N(0, 5^2), tau ~ Half-Cauchy(0, 5) (eq. 92)


def _half_cauchy_log_prob(tau, scale):
    return math.log(2.0 / math.pi) - tf.math.log(scale) - tf.math.log1p(tf.square(tau / scale))


def _hyperprior_log_prob(mu, log_tau):
    """``log N(mu | 0, 5^2) + log HalfCauchy(tau | 0, 5) + log tau`` (eqs. 92, 95)."""
    scale = _const(_PRIOR_SCALE, mu)
    return (
        _normal_log_prob(mu, _const(0.0, mu), scale)
        + _half_cauchy_log_prob(tf.exp(log_tau), scale)
        + log_tau
    )


@register("eight_schools")
def eight_schools(centered=True, num_schools=8, thesis_compat=False):
    """The eight-schools posterior over ``(theta or theta_tilde, mu, log tau)``.

    Centered (eqs. 94-96): ``theta_i ~ N(mu, tau^2)``. Non-centered (eq. 100):
    ``theta_i = mu + tau theta_tilde_i`` with ``theta_tilde_i ~ N(0, 1)``. Both have
    the Jacobian ``tau`` of ``log tau`` (eq. 95) and the same evidence ``p(y)``.

    ``thesis_compat=True`` reproduces the study's code, which added the
    hyperprior and the Jacobian once per school: its target is
    ``p(y|theta) p(theta|mu,tau) [p(mu) p(tau) tau]^J``. Its reported ELBOs bound
    that target's evidence, not ``p(y)``.

    Args:
      centered: centered or non-centered parameterisation.
      num_schools: J, the first J schools of Table I (1 to 8).
      thesis_compat: the study's target instead of the true model.
    """
    if isinstance(num_schools, bool) or not isinstance(num_schools, int) or not 1 <= num_schools <= 8:
        raise ValueError(f"num_schools must be an integer in 1..8, got {num_schools!r}")
    y = np.asarray(EIGHT_SCHOOLS_Y[:num_schools])
    sigma = np.asarray(EIGHT_SCHOOLS_SIGMA[:num_schools])
    hyper_weight = float(num_schools) if thesis_compat else 1.0

    def log_prob(z):
        latent, mu, log_tau = z[..., :num_schools], z[..., num_schools], z[..., num_schools + 1]
        tau = tf.exp(log_tau)[..., tf.newaxis]
        if centered:
            theta = latent
            latent_lp = _normal_log_prob(theta, mu[..., tf.newaxis], tau)
        else:
            theta = mu[..., tf.newaxis] + tau * latent
            latent_lp = _normal_log_prob(latent, _const(0.0, z), _const(1.0, z))
        likelihood = _normal_log_prob(_const(y, z), theta, _const(sigma, z))
        return (
            tf.reduce_sum(likelihood + latent_lp, axis=-1)
            + hyper_weight * _hyperprior_log_prob(mu, log_tau)
        )

    latent_name = "theta" if centered else "theta_tilde"
    label = "centered" if centered else "noncentered"
    return Target(
        f"eight_schools_{label}_J{num_schools}{'_thesis' if thesis_compat else ''}",
        log_prob,
        [f"{latent_name}[{i}]" for i in range(num_schools)] + ["mu", "log_tau"],
        log_evidence_fn=lambda: eight_schools_log_evidence(num_schools, thesis_compat),
    )


@functools.lru_cache(maxsize=None)
def eight_schools_log_evidence(num_schools=8, thesis_compat=False, num=4001):
    """``log Z`` of the eight-schools target by quadrature.

    ``theta`` is integrated out exactly (``y_i | mu, tau ~ N(mu, sigma_i^2 + tau^2)``);
    the trapezoid rule then integrates over ``mu`` in [-80, 80] and ``log tau`` in
    [-20, 12] on a ``num x num`` grid. The result does not depend on the
    parameterisation.
    """
    y = np.asarray(EIGHT_SCHOOLS_Y[:num_schools])[:, None, None]
    sigma = np.asarray(EIGHT_SCHOOLS_SIGMA[:num_schools])[:, None, None]
    mu_axis = np.linspace(-80.0, 80.0, num)
    log_tau_axis = np.linspace(-20.0, 12.0, num)
    mu, log_tau = np.meshgrid(mu_axis, log_tau_axis, indexing="ij")
    var = sigma**2 + np.exp(2.0 * log_tau)
    marginal = np.sum(-0.5 * (_LOG_2PI + np.log(var)) - 0.5 * (y - mu) ** 2 / var, axis=0)
    tau = np.exp(log_tau)
    hyper = (
        -0.5 * (mu / _PRIOR_SCALE) ** 2 - math.log(_PRIOR_SCALE) - 0.5 * _LOG_2PI
        + math.log(2.0 / math.pi) - math.log(_PRIOR_SCALE) - np.log1p((tau / _PRIOR_SCALE) ** 2)
        + log_tau
    )
    log_f = marginal + (num_schools if thesis_compat else 1.0) * hyper
    weights = np.ones_like(log_f)
    weights[[0, -1], :] *= 0.5
    weights[:, [0, -1]] *= 0.5
    cell = (mu_axis[1] - mu_axis[0]) * (log_tau_axis[1] - log_tau_axis[0])
    return float(logsumexp(log_f, b=weights) + math.log(cell))
