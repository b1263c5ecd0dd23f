"""The toy targets of section V (eqs. 80-89, Figures 17-35), registered by name.

Where the thesis's printed form and its code differ, the code is the default: it made the figures. The
code is the study's ``code/target_distributions.py`` (github pierresegonne/VINF, byte-identical at commits
ee24ca6 and 8f58d79; "l." below are its lines); each docstring names the lines it follows.
"""
import math

import numpy as np
import tensorflow as tf

from vinf.targets._base import Target, _const, _LOG_2PI, _normal_log_prob, register

__all__ = ["THESIS_MIXTURE", "TWO_HILLS_SIGMA", "CAPTION_SIGMA", "FIGURE_EIGHT_SCALE", "BANANA_SCALE", "w1", "w2", "w3"]

# The study's code: two_hills_sigma2 = 0.1 (l.13), a variance, so sd sqrt(0.1) ~ 0.316 (l.61: scale=sqrt(sigma2)).
TWO_HILLS_SIGMA = math.sqrt(0.1)
CAPTION_SIGMA = 0.1  # Figure 18's caption prints "sigma = 0.1", read as an sd: a valley ~12 nats deep, not ~1
FIGURE_EIGHT_SCALE = 0.45  # the study's code: figure_eight_scale = 0.45 (l.26), the components' sd (l.131-132)
BANANA_SCALE = 4.0  # the study's code: banana_std2 = 4 (l.16), z2's sd (l.72), as in its NUTS samples


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
def two_hills(x=0.5, sigma=TWO_HILLS_SIGMA):
    """``log N(x | z^2, sigma^2) + log N(z | 0, 1)`` (eqs. 80-82): modes at +-sqrt(x).

    ``sigma`` is the sd: the study's code has variance 0.1 (l.12-13, 60-64: ``Normal(loc=z**2,
    scale=sqrt(two_hills_sigma2))``), whose valley between the hills is about 1 nat deep;
    ``sigma=CAPTION_SIGMA`` (0.1) is the caption's "sigma = 0.1" read as an sd.
    """

    def log_prob(z):
        z = z[..., 0]
        return _normal_log_prob(_const(x, z), tf.square(z), _const(sigma, z)) + _normal_log_prob(
            z, _const(0.0, z), _const(1.0, z)
        )

    return Target("two_hills", log_prob, ["z"], bounds=[(-3.0, 3.0)])


# The study's demo_gmm (l.19-22, 88-92: log(0.5 N(mu1, Sigma1) + 0.5 N(mu2, Sigma2))): the parameters that
# generated its Figure 4 data (code/studies/mean_field_gaussian_mixture/data/2D_gaussian_mixture_params.pickle,
# written by sample_generation_GMM.py l.36-50, 200 draws per component), not a fit to them.
THESIS_MIXTURE = dict(
    weights=(0.5, 0.5),
    locs=((7.1867262, 6.33361695), (9.08082621, -3.88217883)),
    covs=(((8.74083795, -6.74083795), (-6.74083795, 8.74083795)),
          ((4.18261901, 2.18261901), (2.18261901, 4.18261901))),
)


@register("gaussian_mixture")
def gaussian_mixture(weights=None, locs=None, covs=None):
    """The section II mixture posterior (Figures 19-21); ``THESIS_MIXTURE`` by default, the study's
    ``demo_gmm`` (l.19-22, 88-92; the thesis prints no parameters for it)."""
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
def figure_eight(mu=(1.0, 1.0), scale=FIGURE_EIGHT_SCALE):
    """Symmetric mixture ``0.5 N(z | mu, s^2 I) + 0.5 N(z | -mu, s^2 I)`` under a flat prior (eqs. 83-84).

    ``scale`` is the sd: the study's code draws ``MultivariateNormalDiag(scale_diag=0.45)`` (l.24-28,
    130-134; its ``figure_eight_cov = 0.45 I`` is defined but unused), where Figure 22's caption prints
    ``Sigma = 0.45 I``.
    """
    mu = np.asarray(mu, dtype=float)
    cov = scale**2 * np.eye(2)
    return Target(
        "figure_eight",
        lambda z: _mixture_log_prob(z, (0.5, 0.5), (mu, -mu), (cov, cov)),
        ["z1", "z2"],
        bounds=[(-4.0, 4.0), (-4.0, 4.0)],
        log_evidence_fn=lambda: 0.0,
    )


@register("banana")
def banana(scale=BANANA_SCALE):
    """``N(z2 | 0, scale^2) N(z1 | z2^2 / 4, 1)`` (eq. 85).

    Eq. 85 prints ``N(z2 | 0, 4)``; the study's code takes 4 as the sd (l.15-17, 67-75:
    ``tfd.Normal(loc=0, scale=banana_std2)``, ``banana_std2 = 4``), and so do the NUTS draws of its
    Figure 29 (code/samples/generate_samples_banana.py l.13-15; code/samples/banana.npy has z2's sd 3.7).
    ``scale=2.0`` reads the 4 as a variance. The box holds z2 to 4.5 sd and z1 to the arms' ends.
    """
    reach = 4.5 * scale

    def log_prob(z):
        z1, z2 = z[..., 0], z[..., 1]
        return _normal_log_prob(z2, _const(0.0, z), _const(scale, z)) + _normal_log_prob(
            z1, tf.square(z2) / 4.0, _const(1.0, z)
        )

    return Target(
        "banana", log_prob, ["z1", "z2"], bounds=[(-5.0, reach**2 / 4.0 + 5.0), (-reach, reach)],
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
    ``U = 1/2 ((|z| - 4)/0.4)^2 - log(e^{-0.2((z1-2)/0.8)^2} + e^{-0.2((z1+2)/0.8)^2})``,
    as the study's code does (l.78-85: ``return -u``).
    """
    return Target(
        "circle",
        lambda z: _ring_log_prob(z, 4.0, 0.4, 2.0, 0.8, 0.2),
        ["z1", "z2"],
        bounds=[(-6.5, 6.5), (-6.5, 6.5)],
    )


def w1(z1):
    """``w1(z1) = sin(2 pi z1 / 4)``, eq. 88 (the study's code, l.40-42)."""
    return tf.sin(2.0 * math.pi * z1 / 4.0)


def w2(z1):
    """``w2(z1) = 3 exp(-((z1 - 1) / 0.6)^2 / 2)``, eq. 88 (the study's code, l.45-48)."""
    return 3.0 * tf.exp(-0.5 * tf.square((z1 - 1.0) / 0.6))


def w3(z1):
    """``w3(z1) = 3 sigmoid((z1 - 1) / 0.3)``, eq. 88 (the study's code, l.51-53)."""
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
    """Eq. 87, first energy: a ring of radius 2 cut into two arcs (the study's code, l.95-102)."""
    return Target(
        "energy1",
        lambda z: _ring_log_prob(z, 2.0, 0.4, 2.0, 0.6, 0.5),
        ["z1", "z2"],
        bounds=[(-4.0, 4.0), (-4.0, 4.0)],
    )


@register("energy2")
def energy2(wall=4.0):
    """Eq. 87, second energy: ``-1/2 ((z2 - w1(z))/0.4)^2``.

    The study's code has the 1/2 (l.105-107: ``- 0.5 * ((z2 - w1(z)) / 0.4) ** 2``); eq. 87 prints it
    without, a band narrower by sqrt(2).
    """
    return _energy(
        "energy2", lambda z: -0.5 * tf.square((z[..., 1] - w1(z[..., 0])) / 0.4), wall
    )


@register("energy3")
def energy3(wall=4.0):
    """Eq. 87, third energy: two waves split by ``w2`` (eq. 88; the study's code, l.110-117)."""
    return _energy("energy3", lambda z: _two_waves(z, w2, 0.35, 0.35), wall)


@register("energy4")
def energy4(wall=4.0):
    """Eq. 87, fourth energy: two waves split by ``w3`` (eq. 88; the study's code, l.120-127)."""
    return _energy("energy4", lambda z: _two_waves(z, w3, 0.4, 0.35), wall)
