"""The mean-field baseline at its optimum: starts spread over a target's box, and the best diagonal
Gaussian by quadrature.

Reverse KL has local optima: a mean-field Gaussian started near the origin (the
study's initialisation, section V) can stop on a saddle or a poor mode. So
mean-field fits start from several means (``spread_locs``), and their best is
checked against ``best_diagonal_gaussian``: ``KL(q || p)`` of
``q = N(mu, diag(sigma^2))`` computed by Gauss-Hermite quadrature (no sampling
noise) and minimised over ``(mu, log sigma)`` by L-BFGS from several starts.

``KL(q || p) = log Z - ELBO(q)`` (eq. 7) with the ELBO
``E_q[log p~(z)] + H[q]``, ``H[q] = sum_i log sigma_i + D/2 log(2 pi e)``, and
``E_q[f] = pi^{-D/2} sum_n w_n f(mu + sqrt(2) sigma x_n)`` over the
tensor-product Gauss-Hermite nodes ``(x_n, w_n)``. Used by the mean-field
experiment (Figure 7) and the toy-targets KL table.
"""
import math

import numpy as np

__all__ = ["spread_locs", "spread_scale", "diagonal_gaussian_kl", "best_diagonal_gaussian", "search_box", "NODES",
           "gauss_hermite_nodes", "kl_and_gradient"]

NODES = 128  # Gauss-Hermite nodes per axis (the energies' walls are kinks: fewer nodes misjudge wide q by 0.03 nats)


def spread_locs(bounds, num, first, seed, fraction=0.5):
    """``num`` starting means: ``first`` (a surrogate's own start), then a Latin hypercube over the central
    ``fraction`` of the box ``bounds`` (``[(low, high)] * dim``; seeded): each axis cut into ``num - 1`` equal
    strata, one start in each, so the starts cover the box however few they are."""
    from scipy.stats import qmc

    low, high = np.asarray(bounds, dtype=float).T
    centre, half = (low + high) / 2, fraction * (high - low) / 2
    unit = qmc.LatinHypercube(d=len(low), seed=np.random.default_rng(seed)).random(num - 1)
    return np.vstack([np.reshape(first, (1, -1)), centre + half * (2 * unit - 1)]).astype(np.float32)


def spread_scale(bounds, num, fraction=0.5):
    """A starting sd for ``spread_locs``'s starts: half a stratum's width on each axis, so that a start sees
    the modes near it rather than all of them (from sd 1 a mean-field fit of two hills centred within 1 of the
    origin slides onto the saddle between them)."""
    low, high = np.asarray(bounds, dtype=float).T
    return (fraction * (high - low) / (2 * (num - 1))).astype(np.float32)


def gauss_hermite_nodes(dim, num):
    """Unit-Gaussian quadrature: points ``[num**dim, dim]`` and weights summing to 1."""
    x, w = np.polynomial.hermite.hermgauss(num)
    mesh = np.meshgrid(*[x] * dim, indexing="ij")
    weights = np.prod(np.meshgrid(*[w] * dim, indexing="ij"), axis=0).ravel() / math.pi ** (dim / 2)
    return math.sqrt(2.0) * np.stack([m.ravel() for m in mesh], axis=-1), weights


def kl_and_gradient(target, nodes, weights, log_z):
    """``params = (mu, log sigma) -> (KL, dKL/dparams)`` with the score of ``log p~`` by TensorFlow."""
    import tensorflow as tf

    x = tf.constant(nodes, tf.float64)
    w = tf.constant(weights, tf.float64)
    dim = nodes.shape[1]
    entropy_const = 0.5 * dim * math.log(2.0 * math.pi * math.e)

    @tf.function(input_signature=[tf.TensorSpec([2 * dim], tf.float64)], autograph=False)
    def kl_and_gradient(params):
        with tf.GradientTape() as tape:
            tape.watch(params)
            loc, log_scale = params[:dim], params[dim:]
            expected = tf.reduce_sum(w * target.log_prob(loc + tf.exp(log_scale) * x))
            kl = log_z - expected - tf.reduce_sum(log_scale) - entropy_const
        return kl, tape.gradient(kl, params)

    def value(params):
        kl, gradient = kl_and_gradient(tf.constant(params, tf.float64))
        return float(kl), gradient.numpy()

    return value


def diagonal_gaussian_kl(target, loc, scale, num=NODES):
    """``KL(N(loc, diag(scale^2)) || p)`` of a 1-D or 2-D ``target`` by quadrature (``log Z`` from the target)."""
    nodes, weights = gauss_hermite_nodes(target.dim, num)
    params = np.concatenate([np.ravel(loc), np.log(np.ravel(scale))]).astype(np.float64)
    return kl_and_gradient(target, nodes, weights, target.log_evidence())(params)[0]


def best_diagonal_gaussian(target, locs, scales, num=NODES):
    """The diagonal Gaussian closest to ``target`` in ``KL(q || p)``, by L-BFGS from each start
    ``N(locs[i], diag(scales[i]^2))`` (``scales`` ``[dim]`` for one sd of every start).

    Returns ``dict(loc, scale, kl, kl_by_start, kl_check)``: the best optimum
    found, the optimum each start reached, and the best one's KL again on twice
    as many nodes (their difference bounds the quadrature's error).
    """
    from scipy import optimize

    nodes, weights = gauss_hermite_nodes(target.dim, num)
    value = kl_and_gradient(target, nodes, weights, target.log_evidence())
    locs = np.asarray(locs, dtype=np.float64).reshape(-1, target.dim)
    log_scales = np.broadcast_to(np.log(np.asarray(scales, dtype=np.float64)), locs.shape)
    # log sigma within [-7, 3]: sigma from 1e-3 to 20, wider than any toy target's box needs
    bounds = [(None, None)] * target.dim + [(-7.0, 3.0)] * target.dim
    results = [optimize.minimize(value, np.concatenate([loc, log_scale]), jac=True, method="L-BFGS-B", bounds=bounds)
               for loc, log_scale in zip(locs, log_scales)]
    best = min(results, key=lambda r: r.fun)
    loc, scale = best.x[:target.dim], np.exp(best.x[target.dim:])
    return dict(loc=loc.tolist(), scale=scale.tolist(), kl=float(best.fun), kl_by_start=[float(r.fun) for r in results],
                kl_check=diagonal_gaussian_kl(target, loc, scale, num=2 * num))


def search_box(target, num_starts, seed, fraction=1.0):
    """``best_diagonal_gaussian`` from the origin at sd 1 (the study's start) and ``num_starts - 1`` means of
    ``spread_locs`` over the central ``fraction`` of the target's box, each at ``spread_scale``'s sd."""
    locs = spread_locs(target.bounds, num_starts, np.zeros(target.dim), seed, fraction)
    scales = np.vstack([np.ones(target.dim), np.tile(spread_scale(target.bounds, num_starts, fraction),
                                                     (num_starts - 1, 1))])
    return best_diagonal_gaussian(target, locs, scales)
