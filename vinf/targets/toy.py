"""The toy targets of section V (eqs. 80-89, Figures 17-35), registered by name."""
import math

import numpy as np
import tensorflow as tf

from vinf.targets._base import Target, _const, _LOG_2PI, _normal_log_prob, register

__all__ = ["THESIS_MIXTURE", "w1", "w2", "w3"]


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
    """The section II mixture posterior (Figure 19); ``THESIS_MIXTURE`` by default (the thesis prints no
    parameters for it; these draw the figure it shows)."""
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

    Eq. 86 as printed is the negative of a log density (its exponent would grow
    without bound): we negate the whole printed expression, ring and bump terms
    alike, which gives what the figure and the text describe, ``exp(-U)`` with
    ``U = 1/2 ((|z| - 4)/0.4)^2 - log(e^{-0.2((z1-2)/0.8)^2} + e^{-0.2((z1+2)/0.8)^2})``.
    """
    return Target(
        "circle",
        lambda z: _ring_log_prob(z, 4.0, 0.4, 2.0, 0.8, 0.2),
        ["z1", "z2"],
        bounds=[(-6.5, 6.5), (-6.5, 6.5)],
    )


def w1(z1):
    """``w1(z1) = sin(2 pi z1 / 4)``, eq. 88."""
    return tf.sin(2.0 * math.pi * z1 / 4.0)


def w2(z1):
    """``w2(z1) = 3 exp(-((z1 - 1) / 0.6)^2 / 2)``, eq. 88."""
    return 3.0 * tf.exp(-0.5 * tf.square((z1 - 1.0) / 0.6))


def w3(z1):
    """``w3(z1) = 3 sigmoid((z1 - 1) / 0.3)``, eq. 88."""
    return 3.0 * tf.sigmoid((z1 - 1.0) / 0.3)


def _two_waves(z, shift, first_width, second_width):
    """``log(exp(-1/2 ((z2 - w1)/a)^2) + exp(-1/2 ((z2 - w1 + shift)/b)^2))`` (log-sum-exp, eq. 89)."""
    z1, z2 = z[..., 0], z[..., 1]
    return tf.reduce_logsumexp(
        tf.stack(
            [
                -0.5 * tf.square((z2 - w1(z1)) / first_width),
                -0.5 * tf.square((z2 - w1(z1) + shift(z1)) / second_width),
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
        "energy2", lambda z: -tf.square((z[..., 1] - w1(z[..., 0])) / 0.4), wall
    )


@register("energy3")
def energy3(wall=4.0):
    """Eq. 87, third energy: two waves split by ``w2`` (eq. 88)."""
    return _energy("energy3", lambda z: _two_waves(z, w2, 0.35, 0.35), wall)


@register("energy4")
def energy4(wall=4.0):
    """Eq. 87, fourth energy: two waves split by ``w3`` (eq. 88)."""
    return _energy("energy4", lambda z: _two_waves(z, w3, 0.4, 0.35), wall)
