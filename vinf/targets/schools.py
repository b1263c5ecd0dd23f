"""The eight-schools model of section VI.B (eqs. 90-100): the hand-written target, its exact
evidence by quadrature, and the same model as a TFP ``JointDistribution``."""
import functools
import math

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from scipy.special import logsumexp

from vinf import _checks
from vinf.targets._base import Target, _const, _LOG_2PI, _normal_log_prob, register

tfd = tfp.distributions

__all__ = ["EIGHT_SCHOOLS_Y", "EIGHT_SCHOOLS_SIGMA", "eight_schools", "eight_schools_model",
           "eight_schools_log_evidence", "quadrature_log_evidence"]

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
    centered = _checks.boolean(centered, "centered")
    thesis_compat = _checks.boolean(thesis_compat, "thesis_compat")
    num_schools = _checks.integer(num_schools, "num_schools", 1, 8)
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

    def constrain(z):
        latent, mu, tau = z[..., :num_schools], z[..., num_schools], np.exp(z[..., num_schools + 1])
        if centered:
            return dict(mu=mu, tau=tau, theta=latent)
        return dict(mu=mu, tau=tau, theta=mu[..., None] + tau[..., None] * latent, theta_tilde=latent)

    latent_name = "theta" if centered else "theta_tilde"
    label = "centered" if centered else "noncentered"
    return Target(
        f"eight_schools_{label}_J{num_schools}{'_thesis' if thesis_compat else ''}",
        log_prob,
        [f"{latent_name}[{i}]" for i in range(num_schools)] + ["mu", "log_tau"],
        log_evidence_fn=lambda: eight_schools_log_evidence(num_schools, thesis_compat),
        constrain=constrain,
    )


def eight_schools_model(centered=True, num_schools=8, dtype=tf.float64):
    """The eight-schools model (eqs. 90-92; non-centered as eq. 100) as a ``tfd.JointDistributionNamed``
    over ``mu``, ``tau``, ``theta`` (or ``theta_tilde``) and the observed ``y``.

    ``vinf.targets.from_joint_distribution(eight_schools_model(...), y=EIGHT_SCHOOLS_Y[:J])``
    is the true model's target (tau unconstrained by ``log``, TFP's default for
    the half-Cauchy): the same density as ``eight_schools(thesis_compat=False)``.
    """
    centered = _checks.boolean(centered, "centered")
    num_schools = _checks.integer(num_schools, "num_schools", 1, 8)
    sigma = tf.constant(EIGHT_SCHOOLS_SIGMA[:num_schools], dtype=dtype)
    scale = tf.constant(_PRIOR_SCALE, dtype=dtype)
    zero, one = tf.constant(0.0, dtype=dtype), tf.constant(1.0, dtype=dtype)
    parts = dict(mu=tfd.Normal(zero, scale), tau=tfd.HalfCauchy(zero, scale))
    if centered:
        parts["theta"] = lambda mu, tau: tfd.Sample(tfd.Normal(mu, tau), num_schools)
        parts["y"] = lambda theta: tfd.Independent(tfd.Normal(theta, sigma), 1)
    else:
        parts["theta_tilde"] = tfd.Sample(tfd.Normal(zero, one), num_schools)
        parts["y"] = lambda theta_tilde, mu, tau: tfd.Independent(
            tfd.Normal(mu[..., tf.newaxis] + tau[..., tf.newaxis] * theta_tilde, sigma), 1)
    return tfd.JointDistributionNamed(parts, name="eight_schools")


@functools.lru_cache(maxsize=None)
def eight_schools_log_evidence(num_schools=8, thesis_compat=False, num=4001):
    """``log Z`` of the eight-schools target by quadrature (``quadrature_log_evidence``); the study's target
    counts the hyperprior ``J`` times. The result does not depend on the parameterisation."""
    def log_hyperprior(mu, log_tau):  # eqs. 92 and 95, in NumPy
        tau = np.exp(log_tau)
        return (-0.5 * (mu / _PRIOR_SCALE) ** 2 - math.log(_PRIOR_SCALE) - 0.5 * _LOG_2PI
                + math.log(2.0 / math.pi) - math.log(_PRIOR_SCALE) - np.log1p((tau / _PRIOR_SCALE) ** 2) + log_tau)

    weight = num_schools if thesis_compat else 1.0
    return quadrature_log_evidence(num_schools, lambda mu, log_tau: weight * log_hyperprior(mu, log_tau), num)


def quadrature_log_evidence(num_schools, log_hyperprior, num=4001):
    """``log Z`` of an eight-schools posterior of the first ``num_schools`` schools of Table I, by quadrature.

    ``theta`` is integrated out exactly (``y_i | mu, tau ~ N(mu, sigma_i^2 + tau^2)``);
    the trapezoid rule then integrates ``p(y | mu, tau) exp(log_hyperprior(mu, log tau))``
    over ``mu`` in [-80, 80] and ``log tau`` in [-20, 12] on a ``num x num`` grid
    (``log_hyperprior``: the hyperparameters' log density in ``(mu, log tau)``, Jacobian included).
    """
    y = np.asarray(EIGHT_SCHOOLS_Y[:num_schools])[:, None, None]
    sigma = np.asarray(EIGHT_SCHOOLS_SIGMA[:num_schools])[:, None, None]
    mu_axis = np.linspace(-80.0, 80.0, num)
    log_tau_axis = np.linspace(-20.0, 12.0, num)
    mu, log_tau = np.meshgrid(mu_axis, log_tau_axis, indexing="ij")
    var = sigma**2 + np.exp(2.0 * log_tau)
    marginal = np.sum(-0.5 * (_LOG_2PI + np.log(var)) - 0.5 * (y - mu) ** 2 / var, axis=0)
    log_f = marginal + log_hyperprior(mu, log_tau)
    weights = np.ones_like(log_f)
    weights[[0, -1], :] *= 0.5
    weights[:, [0, -1]] *= 0.5
    cell = (mu_axis[1] - mu_axis[0]) * (log_tau_axis[1] - log_tau_axis[0])
    return float(logsumexp(log_f, b=weights) + math.log(cell))
