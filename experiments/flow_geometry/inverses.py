"""The inverses of the invertibility corrections: raw ``u`` from ``u_hat`` (eq. 64), raw ``beta`` from
``beta_hat`` (eq. 75), and ``softplus^-1`` under both.

``vinf``'s bijectors take raw parameters and apply the corrections themselves,
so a layer drawn with an intended ``u_hat`` (``beta_hat``) needs its raw
parameter. These belong beside ``vinf.bijectors.planar_u_hat`` and
``radial_beta_hat``: once ``vinf.bijectors`` has its own, this module goes and
``layers`` imports them from there (the only module that uses them).
"""
import numpy as np

__all__ = ["softplus_inverse", "planar_raw_u", "radial_raw_beta"]


def softplus_inverse(x):
    """``log(exp(x) - 1)``, the inverse of ``softplus`` on ``(0, inf)``."""
    x = np.asarray(x, dtype=np.float64)
    return x + np.log(-np.expm1(-x))


def planar_raw_u(w, u_hat):
    """The ``u`` that eq. 64 maps to ``u_hat``.

    Eq. 64 changes ``u`` only along ``w`` and sends ``w^T u`` to
    ``m(w^T u) = -1 + softplus(w^T u)``, so ``u = u_hat + (m^-1(w^T u_hat) -
    w^T u_hat) w / |w|^2`` with ``m^-1(s) = softplus^-1(1 + s)``, defined for
    ``w^T u_hat > -1``.
    """
    w, u_hat = np.asarray(w, np.float64), np.asarray(u_hat, np.float64)
    s = w @ u_hat
    if s <= -1.0:
        raise ValueError(f"w^T u_hat = {s:g} <= -1: no raw u gives this u_hat (eq. 64)")
    return u_hat + (softplus_inverse(1.0 + s) - s) * w / (w @ w)


def radial_raw_beta(alpha, beta_hat):
    """The ``beta`` that eq. 75 maps to ``beta_hat``: ``softplus^-1(beta_hat + alpha)``."""
    if beta_hat <= -alpha:
        raise ValueError(f"beta_hat = {beta_hat:g} <= -alpha: no raw beta gives it (eq. 75)")
    return float(softplus_inverse(beta_hat + alpha))
