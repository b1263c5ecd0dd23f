"""Coordinate-ascent VI for the Bayesian Gaussian mixture (thesis section II.B, eqs. 14-48).

The model (eqs. 14-18): ``z_n | pi ~ Cat(pi)``, ``x_n | z_n = k ~ N(mu_k, Lambda_k^-1)``,
``pi ~ Dir(alpha0, ..., alpha0)``, ``mu_k, Lambda_k ~ N(m0, (beta0 Lambda_k)^-1) W(W0, nu0)``.
The mean-field family ``q(z) q(pi) prod_k q(mu_k, Lambda_k)`` (eq. 19) is updated in
turn: the responsibilities ``r_nk`` (eq. 35), then the statistics ``N_k, xbar_k, S_k``
(eq. 37) and the Dirichlet and Gauss-Wishart factors (eqs. 42, 44). Each sweep
cannot lower the evidence lower bound, computed in full (Bishop, PRML eqs. 10.70-10.77).

Example::

    fit = vinf.cavi.fit_mixture(x, num_components=2, seed=0)
    fit.labels                       # c_n = argmax_k r_nk
    fit.predictive_log_prob(x_new)   # log p(x_new | x), eq. 47
"""
import dataclasses
import math
import numbers

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.special import digamma, gammaln, logsumexp, multigammaln, xlogy

__all__ = [
    "Prior",
    "Posterior",
    "MixtureFit",
    "fit_mixture",
    "make_prior",
    "responsibilities",
    "statistics",
    "update",
    "elbo",
    "predictive_log_prob",
    "matched_agreement",
]


@dataclasses.dataclass(frozen=True)
class Prior:
    """Hyperparameters of eqs. 16-17: symmetric ``alpha0``, and ``beta0, m0 [D], W0 [D, D], nu0``."""

    alpha0: float
    beta0: float
    m0: np.ndarray
    W0: np.ndarray
    nu0: float


@dataclasses.dataclass(frozen=True)
class Posterior:
    """Parameters of ``q(pi) = Dir(alpha)`` and ``q(mu_k, Lambda_k) = N(m_k, (beta_k Lambda_k)^-1) W(W_k, nu_k)``
    (eqs. 42-44): ``alpha, beta, nu [K]``, ``m [K, D]``, ``W [K, D, D]``."""

    alpha: np.ndarray
    beta: np.ndarray
    m: np.ndarray
    W: np.ndarray
    nu: np.ndarray

    @property
    def expected_log_pi(self):
        """``E[log pi_k] = psi(alpha_k) - psi(sum_j alpha_j)`` (eq. 26)."""
        return digamma(self.alpha) - digamma(self.alpha.sum())

    @property
    def expected_log_det_lambda(self):
        """``E[log |Lambda_k|] = D log 2 + log |W_k| + sum_i psi((nu_k + 1 - i) / 2)`` (eq. 29)."""
        dim = self.m.shape[1]
        i = np.arange(1, dim + 1)
        return (
            dim * math.log(2.0)
            + np.linalg.slogdet(self.W)[1]
            + digamma((self.nu[:, None] + 1.0 - i) / 2.0).sum(axis=1)
        )

    def expected_mahalanobis(self, x):
        """``E[(x_n - mu_k)^T Lambda_k (x_n - mu_k)] = D / beta_k + nu_k (x_n - m_k)^T W_k (x_n - m_k)``
        (eq. 33): ``[N, K]``."""
        d = x[:, None, :] - self.m[None]
        quad = np.einsum("nki,kij,nkj->nk", d, self.W, d)
        return self.m.shape[1] / self.beta + self.nu * quad


@dataclasses.dataclass(frozen=True)
class MixtureFit:
    """What ``fit_mixture`` returns.

    Attributes:
      prior, posterior: the hyperparameters and the fitted factors.
      resp: ``r_nk`` of the data, ``[N, K]`` (eq. 35).
      elbo: the lower bound after each sweep, ``[num_iterations]``.
      converged: whether the last change of the bound was below ``tol``.
    """

    prior: Prior
    posterior: Posterior
    resp: np.ndarray
    elbo: np.ndarray
    converged: bool

    @property
    def num_iterations(self):
        return len(self.elbo)

    @property
    def labels(self):
        """``c_n = argmax_k r_nk``: the component of largest responsibility."""
        return np.argmax(self.resp, axis=1)

    def predictive_log_prob(self, x):
        """``log p(x_hat | x)``, the mixture of Student-t of eq. 47."""
        return predictive_log_prob(x, self.posterior)

    def mixture(self):
        """The Gaussian mixture implied by the fit: weights ``E[pi_k] = alpha_k / sum alpha``,
        means ``m_k`` and covariances ``E[Lambda_k]^-1 = (nu_k W_k)^-1``."""
        post = self.posterior
        return dict(
            weights=tuple(float(a) for a in post.alpha / post.alpha.sum()),
            locs=post.m.copy(),
            covs=np.linalg.inv(post.nu[:, None, None] * post.W),
        )


# ---------------------------------------------------------------- validation


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _positive_float(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def _check_data(x):
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"x must be a 2-D array [N, D] with N, D >= 1, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("x holds NaN or infinite values")
    return x


def _check_positive_definite(matrix, name, dim):
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.shape != (dim, dim):
        raise ValueError(f"{name} must have shape ({dim}, {dim}), got {matrix.shape}")
    if not np.all(np.isfinite(matrix)) or not np.allclose(matrix, matrix.T):
        raise ValueError(f"{name} must be a finite symmetric matrix")
    try:
        np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        raise ValueError(f"{name} must be positive definite") from None
    return matrix


def make_prior(x, alpha0=1.0, beta0=1.0, m0=None, W0=None, nu0=None):
    """Validated hyperparameters (eqs. 16-17); ``x`` fixes ``D`` and the defaults.

    Defaults follow scikit-learn's ``BayesianGaussianMixture``: ``m0`` is the data
    mean, ``W0`` the inverse of the data covariance and ``nu0 = D``, so the prior
    scales with the data.
    """
    x = _check_data(x)
    dim = x.shape[1]
    alpha0 = _positive_float(alpha0, "alpha0")
    beta0 = _positive_float(beta0, "beta0")
    m0 = x.mean(axis=0) if m0 is None else np.asarray(m0, dtype=np.float64)
    if m0.shape != (dim,) or not np.all(np.isfinite(m0)):
        raise ValueError(f"m0 must be a finite vector of shape ({dim},), got {m0!r}")
    if W0 is None:
        if len(x) < 2:
            raise ValueError("the default W0 (inverse data covariance) needs at least 2 points; pass W0")
        W0 = np.linalg.inv(np.atleast_2d(np.cov(x, rowvar=False)) + 1e-6 * np.eye(dim))
    W0 = _check_positive_definite(W0, "W0", dim)
    nu0 = float(dim) if nu0 is None else _positive_float(nu0, "nu0")
    if nu0 <= dim - 1:
        raise ValueError(f"nu0 must exceed D - 1 = {dim - 1}, got {nu0}")
    return Prior(alpha0, beta0, m0, W0, nu0)


# ---------------------------------------------------------------- the updates


def responsibilities(x, posterior):
    """``r_nk = rho_nk / sum_j rho_nj`` with ``log rho_nk`` of eq. 35: ``[N, K]``."""
    dim = x.shape[1]
    log_rho = (
        posterior.expected_log_pi
        + 0.5 * posterior.expected_log_det_lambda
        - 0.5 * dim * math.log(2.0 * math.pi)
        - 0.5 * posterior.expected_mahalanobis(x)
    )
    return np.exp(log_rho - logsumexp(log_rho, axis=1, keepdims=True))


def statistics(x, resp):
    """``N_k``, ``xbar_k`` and ``S_k`` of eq. 37.

    An emptied component (``N_k`` near 0) keeps finite statistics: ``xbar_k``
    divides by ``N_k + 10 eps`` and only ``N_k S_k`` enters the updates.
    """
    n_k = resp.sum(axis=0)
    safe = n_k + 10.0 * np.finfo(np.float64).eps
    xbar = resp.T @ x / safe[:, None]
    d = x[:, None, :] - xbar[None]
    scatter = np.einsum("nk,nki,nkj->kij", resp, d, d)
    return n_k, xbar, scatter / safe[:, None, None]


def update(prior, n_k, xbar, S):
    """The Dirichlet and Gauss-Wishart factors given the statistics (eqs. 42, 44)."""
    alpha = prior.alpha0 + n_k
    beta = prior.beta0 + n_k
    m = (prior.beta0 * prior.m0 + n_k[:, None] * xbar) / beta[:, None]
    d = xbar - prior.m0
    W_inv = (
        np.linalg.inv(prior.W0)
        + n_k[:, None, None] * S
        + (prior.beta0 * n_k / (prior.beta0 + n_k))[:, None, None] * np.einsum("ki,kj->kij", d, d)
    )
    return Posterior(alpha=alpha, beta=beta, m=m, W=np.linalg.inv(W_inv), nu=prior.nu0 + n_k)


# ---------------------------------------------------------------- the bound


def _log_wishart_normaliser(W, nu):
    """``log B(W, nu)`` of the Wishart density (PRML eq. 10.63 / B.79)."""
    dim = W.shape[-1]
    return (
        -0.5 * nu * np.linalg.slogdet(W)[1]
        - 0.5 * nu * dim * math.log(2.0)
        - multigammaln(0.5 * np.asarray(nu, dtype=np.float64), dim)
    )


def _log_dirichlet_normaliser(alpha):
    """``log C(alpha)`` (footnote 4)."""
    return gammaln(alpha.sum()) - gammaln(alpha).sum()


def elbo(x, resp, prior, posterior):
    """The evidence lower bound ``L(q)`` (PRML eqs. 10.70-10.77) at ``q(z) = prod r_nk^z_nk``
    and the factors ``posterior``; valid for any responsibilities, not only optimal ones."""
    dim = x.shape[1]
    post = posterior
    n_k, xbar, S = statistics(x, resp)
    log_pi = post.expected_log_pi
    log_lam = post.expected_log_det_lambda
    log_2pi = math.log(2.0 * math.pi)
    d = xbar - post.m
    trace_SW = np.einsum("kij,kji->k", S, post.W)
    maha_xbar = np.einsum("ki,kij,kj->k", d, post.W, d)
    # 10.71: E[log p(x | z, mu, Lambda)]
    log_lik = 0.5 * np.sum(
        n_k * (log_lam - dim / post.beta - post.nu * trace_SW - post.nu * maha_xbar - dim * log_2pi)
    )
    # 10.72 and 10.73: E[log p(z | pi)] + E[log p(pi)]
    log_p_z = np.sum(resp * log_pi)
    alpha0 = np.full_like(post.alpha, prior.alpha0)
    log_p_pi = _log_dirichlet_normaliser(alpha0) + (prior.alpha0 - 1.0) * log_pi.sum()
    # 10.74: E[log p(mu, Lambda)]
    dm = post.m - prior.m0
    maha_m0 = np.einsum("ki,kij,kj->k", dm, post.W, dm)
    trace_W0W = np.einsum("ij,kji->k", np.linalg.inv(prior.W0), post.W)
    num_components = len(post.alpha)
    log_p_mu_lam = (
        0.5 * np.sum(dim * math.log(prior.beta0 / (2.0 * math.pi)) + log_lam
                     - dim * prior.beta0 / post.beta - prior.beta0 * post.nu * maha_m0)
        + num_components * _log_wishart_normaliser(prior.W0, prior.nu0)
        + 0.5 * (prior.nu0 - dim - 1.0) * log_lam.sum()
        - 0.5 * np.sum(post.nu * trace_W0W)
    )
    # 10.75-10.77: E[log q(z)], E[log q(pi)], E[log q(mu, Lambda)]
    log_q_z = np.sum(xlogy(resp, resp))
    log_q_pi = np.sum((post.alpha - 1.0) * log_pi) + _log_dirichlet_normaliser(post.alpha)
    entropy_lam = (
        -_log_wishart_normaliser(post.W, post.nu) - 0.5 * (post.nu - dim - 1.0) * log_lam + 0.5 * post.nu * dim
    )
    log_q_mu_lam = np.sum(0.5 * log_lam + 0.5 * dim * np.log(post.beta / (2.0 * math.pi)) - 0.5 * dim - entropy_lam)
    return float(log_lik + log_p_z + log_p_pi + log_p_mu_lam - log_q_z - log_q_pi - log_q_mu_lam)


# ---------------------------------------------------------------- prediction


def predictive_log_prob(x, posterior):
    """``log p(x_hat | x) = log sum_k alpha_k St(x_hat | m_k, L_k, nu_k + 1 - D) / sum_k alpha_k``
    (eq. 47) with the precision ``L_k = (nu_k + 1 - D) beta_k / (1 + beta_k) W_k`` (eq. 48).

    Args:
      x: points ``[M, D]``.
    Returns:
      ``[M]`` log densities.
    """
    post = posterior
    x = _check_data(x)
    dim = post.m.shape[1]
    if x.shape[1] != dim:
        raise ValueError(f"x must have {dim} columns, got {x.shape[1]}")
    df = post.nu + 1.0 - dim
    L = (df * post.beta / (1.0 + post.beta))[:, None, None] * post.W
    d = x[:, None, :] - post.m[None]
    maha = np.einsum("nki,kij,nkj->nk", d, L, d)
    log_student = (
        gammaln(0.5 * (df + dim)) - gammaln(0.5 * df)
        + 0.5 * np.linalg.slogdet(L)[1] - 0.5 * dim * np.log(df * math.pi)
        - 0.5 * (df + dim) * np.log1p(maha / df)
    )
    log_weights = np.log(post.alpha) - np.log(post.alpha.sum())
    return logsumexp(log_student + log_weights, axis=1)


def matched_agreement(labels, reference):
    """The fraction of points with the same component in ``labels`` and ``reference``, under the
    relabelling of ``labels`` that matches most points (components are exchangeable)."""
    labels, reference = np.asarray(labels), np.asarray(reference)
    if labels.shape != reference.shape or labels.ndim != 1 or labels.size == 0:
        raise ValueError(f"labels and reference must be equal-length 1-D arrays, got {labels.shape}, {reference.shape}")
    counts = np.zeros((labels.max() + 1, reference.max() + 1))
    np.add.at(counts, (labels, reference), 1)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum() / labels.size)


# ---------------------------------------------------------------- the loop


def _kmeans_plus_plus(x, num_components, rng):
    """Hard initial responsibilities: k-means++ seeds (Arthur & Vassilvitskii 2007), nearest seed."""
    centres = [x[rng.integers(len(x))]]
    for _ in range(1, num_components):
        dist = np.min(((x[:, None, :] - np.array(centres)[None]) ** 2).sum(-1), axis=1)
        total = dist.sum()
        probs = dist / total if total > 0 else None
        centres.append(x[rng.choice(len(x), p=probs)])
    dist = ((x[:, None, :] - np.array(centres)[None]) ** 2).sum(-1)
    return np.eye(num_components)[np.argmin(dist, axis=1)]


def fit_mixture(x, num_components, alpha0=1.0, beta0=1.0, m0=None, W0=None, nu0=None,
                max_iter=1000, tol=1e-10, seed=0):
    """Fit the variational Bayesian Gaussian mixture by CAVI (eqs. 35, 37, 42, 44).

    Starts from hard k-means++ responsibilities (seeded), then alternates the
    parameter factors (eqs. 42, 44) and the responsibilities (eq. 35) until the
    relative change of the bound is at most ``tol`` or ``max_iter`` sweeps.

    Args:
      x: data ``[N, D]``.
      num_components: K, at most N.
      alpha0, beta0, m0, W0, nu0: the prior (see ``make_prior`` for defaults).
      max_iter: maximum number of sweeps.
      tol: relative tolerance on the change of the bound.
      seed: seed of the initialisation.

    Returns:
      ``MixtureFit``.

    Raises:
      ValueError: on invalid data, K or prior, before any work.
    """
    x = _check_data(x)
    num_components = _positive_int(num_components, "num_components")
    if num_components > len(x):
        raise ValueError(f"num_components = {num_components} exceeds the number of points {len(x)}")
    max_iter = _positive_int(max_iter, "max_iter")
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not tol >= 0:
        raise ValueError(f"tol must be a non-negative number, got {tol!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    prior = make_prior(x, alpha0, beta0, m0, W0, nu0)

    resp = _kmeans_plus_plus(x, num_components, np.random.default_rng(seed))
    trace = []
    converged = False
    for _ in range(max_iter):
        posterior = update(prior, *statistics(x, resp))
        resp = responsibilities(x, posterior)
        trace.append(elbo(x, resp, prior, posterior))
        if len(trace) > 1 and abs(trace[-1] - trace[-2]) <= tol * abs(trace[-1]):
            converged = True
            break
    return MixtureFit(prior, posterior, resp, np.array(trace), converged)
