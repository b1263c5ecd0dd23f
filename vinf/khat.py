"""Two estimators of the Pareto shape k-hat of importance log weights (thesis eqs. 98-99).

``"arviz"``: ArviZ's PSIS (Vehtari et al. 2024): the generalized Pareto fitted to
the largest ``min(S/5, 3 sqrt(S))`` weights, its k shrunk towards 0.5 by a weak
prior. ``"thesis"``: the estimator of the study's code, the 2015 PSIS (Vehtari,
Gelman & Gabry, "Pareto smoothed importance sampling", arXiv:1507.02646v1):
the generalized Pareto fitted by Zhang & Stephens's method to the exceedances
of the largest 20 % of the weights, with no prior on k. Written here from the
published algorithm: Zhang & Stephens (2009), "A new and efficient estimation
method for the generalized Pareto distribution", Technometrics 51(3), eqs. 3-6.
"""
import warnings

import numpy as np

__all__ = ["METHODS", "khat", "gpd_fit_zhang_stephens"]

_TAIL_FRACTION = 0.2  # the 2015 PSIS: the top 20 % of the weights
_ZS_PRIOR = 3.0  # Zhang & Stephens's prior scale for theta, relative to the first quartile


def gpd_fit_zhang_stephens(exceedances):
    """Zhang & Stephens's estimate ``(k, sigma)`` of a generalized Pareto fitted to positive ``exceedances``.

    In PSIS's convention (a heavy tail has ``k > 0``) and with ``theta = -k / sigma``, the
    profile log likelihood is ``l(theta) = n (log(-theta / k(theta)) - k(theta) - 1)`` with
    ``k(theta) = mean(log(1 - theta x))`` (their eq. 3, signs flipped). The estimate of
    ``theta`` is its posterior mean over ``m = 30 + sqrt(n)`` quadrature points placed by
    their empirical prior (eq. 6); ``k = k(theta_hat)`` and ``sigma = -k / theta_hat``.

    Exceedances whose first quartile is 0 or so far below the largest that ``1 / quartile`` overflows (weights
    spread over more than ~700 nats, as a diverged fit's are) leave the prior without a scale: the tail is one
    weight, and the estimate is ``(inf, nan)``.
    """
    x = np.sort(np.asarray(exceedances, dtype=np.float64))
    n = x.size
    m = 30 + int(np.sqrt(n))
    j = np.arange(1, m + 1)
    first_quartile = x[int(n / 4 + 0.5) - 1]
    with np.errstate(divide="ignore", over="ignore"):
        theta = 1.0 / x[-1] + (1.0 - np.sqrt(m / (j - 0.5))) / (_ZS_PRIOR * first_quartile)
    if not np.all(np.isfinite(theta)):
        return np.inf, np.nan
    k_of_theta = np.mean(np.log1p(-theta[:, None] * x[None, :]), axis=1)
    log_lik = n * (np.log(-theta / k_of_theta) - k_of_theta - 1.0)
    with np.errstate(over="ignore"):  # a point far below the best gets weight 1 / inf = 0
        weights = 1.0 / np.sum(np.exp(log_lik[None, :] - log_lik[:, None]), axis=1)
    keep = weights >= 10 * np.finfo(float).eps  # negligible quadrature points drop out
    weights = weights[keep] / weights[keep].sum()
    theta_hat = np.sum(theta[keep] * weights)
    k = np.mean(np.log1p(-theta_hat * x))
    return k, -k / theta_hat


def _thesis_one(lw):
    """The 2015 PSIS k-hat of one set of log weights (module docstring)."""
    lw = lw - np.max(lw)
    cutoff = np.percentile(lw, 100 * (1 - _TAIL_FRACTION))
    tail = lw[lw > cutoff]
    if tail.size <= 4:
        return np.inf
    k, _ = gpd_fit_zhang_stephens(np.exp(tail) - np.exp(cutoff))
    return k


def _thesis(lw):
    """``_thesis_one`` over the leading axes of ``lw [..., num_samples]``."""
    flat = lw.reshape(-1, lw.shape[-1])
    return np.array([_thesis_one(row) for row in flat]).reshape(lw.shape[:-1])


def _arviz(lw):
    """ArviZ's PSIS k-hat, over the leading axes of ``lw [..., num_samples]`` already."""
    import arviz as az

    with warnings.catch_warnings():
        # arviz warns when k-hat is large; reporting k-hat is the point here.
        warnings.simplefilter("ignore")
        _, k = az.psislw(lw)
    return k


METHODS = {"arviz": _arviz, "thesis": _thesis}  # each maps log weights [..., num_samples] to k-hat [...]


def khat(lw, method="arviz"):
    """k-hat of log weights ``[..., num_samples]`` (samples last) by ``method`` (``METHODS``)."""
    return METHODS[method](lw)
