"""Trainable variational families q(z) over unconstrained ``z`` in R^dim.

Every surrogate is a ``tfd.Distribution`` whose ``tf.Variable`` s are found by
``q.trainable_variables``. Raw parameters are drawn from a centred Gaussian with
standard deviation 1e-2 (thesis section V) by a NumPy generator seeded with
``seed``, so a seed fixes the initial state exactly. One exception, the planar
``w`` (sd ``1/sqrt(dim)``), is explained in ``planar``.

``batch_shape`` (e.g. ``[5]``) builds that many independent surrogates in one
distribution: draws have shape ``[S, *batch_shape, dim]`` and every variable
starts with ``batch_shape``. ``vinf.fit`` trains them together, each on its own
ELBO; that is how the repeated trainings of section VI.B run at the cost of one.
"""
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from vinf.bijectors import PlanarStack, RadialStack

tfb = tfp.bijectors
tfd = tfp.distributions

__all__ = ["mean_field", "full_rank", "planar", "radial", "INIT_SCALE"]

INIT_SCALE = 1e-2  # sd of the centred Gaussian initialiser (thesis section V)


def _check(dim, batch_shape, num_flows=None):
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
        raise ValueError(f"dim must be a positive integer, got {dim!r}")
    batch_shape = tuple(int(n) for n in np.atleast_1d(np.asarray(batch_shape, dtype=np.int64)))
    if any(n < 1 for n in batch_shape):
        raise ValueError(f"batch_shape must hold positive sizes, got {batch_shape}")
    if num_flows is not None and (
        isinstance(num_flows, bool) or not isinstance(num_flows, (int, np.integer)) or num_flows < 1
    ):
        raise ValueError(f"num_flows must be a positive integer, got {num_flows!r}")
    return int(dim), batch_shape


class _Initialiser:
    """Draws raw initial values from N(0, INIT_SCALE^2), in float32."""

    def __init__(self, seed):
        self._rng = np.random.default_rng(seed)

    def __call__(self, shape, scale=INIT_SCALE):
        return (scale * self._rng.standard_normal(shape)).astype(np.float32)


def _diagonal_gaussian(dim, batch_shape, init, name):
    loc = tf.Variable(init(batch_shape + (dim,)), name=f"{name}_loc")
    scale = tfp.util.TransformedVariable(
        np.exp(init(batch_shape + (dim,))), tfb.Exp(), name=f"{name}_scale"
    )
    return tfd.MultivariateNormalDiag(loc=loc, scale_diag=scale, name=name)


def mean_field(dim, seed=0, batch_shape=()):
    """Mean-field Gaussian ``q(z) = prod_i N(z_i | mu_i, sigma_i^2)`` (eqs. 9, 52).

    ``sigma = exp(raw)``, so the initial scale is close to 1.
    """
    dim, batch_shape = _check(dim, batch_shape)
    return _diagonal_gaussian(dim, batch_shape, _Initialiser(seed), "mean_field")


def full_rank(dim, seed=0, batch_shape=()):
    """Full-rank Gaussian ``z = mu + L eps``, ``L`` lower-triangular with a positive
    diagonal (the Cholesky reparameterisation of reference 000)."""
    dim, batch_shape = _check(dim, batch_shape)
    init = _Initialiser(seed)
    loc = tf.Variable(init(batch_shape + (dim,)), name="full_rank_loc")
    fill = tfb.FillScaleTriL(diag_bijector=tfb.Exp(), diag_shift=None)
    raw_tril = init(batch_shape + (dim * (dim + 1) // 2,))
    scale_tril = tfp.util.TransformedVariable(
        fill.forward(raw_tril).numpy(), fill, name="full_rank_scale_tril"
    )
    return tfd.MultivariateNormalTriL(loc=loc, scale_tril=scale_tril, name="full_rank")


def _flow(base, bijector, name):
    return tfd.TransformedDistribution(base, bijector, name=name)


def planar(dim, num_flows=64, seed=0, batch_shape=()):
    """Diagonal Gaussian ``q_0`` pushed through ``num_flows`` planar layers (eqs. 59-64).

    The layers' parameters are stacked in three variables, ``u`` and ``w`` of shape
    ``[*batch_shape, K, dim]`` and ``b`` of shape ``[*batch_shape, K]``.

    ``w`` starts at sd ``1/sqrt(dim)`` (so ``|w|`` is near 1), not the thesis's 1e-2.
    The correction of eq. 64, ``u_hat = u + (m(w'u) - w'u) w / |w|^2``, grows as
    ``1/|w|``: from ``|w|`` ~ 1e-2 Adam can push a layer's ``|w|`` towards zero and
    ``u_hat`` past 100, and the draws overflow. On the one-school eight-schools
    target (K = 64, 3000 steps, 6 seeds x 10 surrogates) the thesis's initialisation
    made 1 of 6 batched fits diverge and left one surrogate 20 nats below the rest;
    ``w`` at sd ``1/sqrt(dim)`` had no failure and equal or better ELBOs
    (``benchmarks/planar_init.py`` repeats the comparison).
    """
    dim, batch_shape = _check(dim, batch_shape, num_flows)
    init = _Initialiser(seed)
    base = _diagonal_gaussian(dim, batch_shape, init, "q0")
    u = tf.Variable(init(batch_shape + (num_flows, dim)), name="planar_u")
    w = tf.Variable(init(batch_shape + (num_flows, dim), scale=dim ** -0.5), name="planar_w")
    b = tf.Variable(init(batch_shape + (num_flows,)), name="planar_b")
    return _flow(base, PlanarStack(u, w, b), "planar")


def radial(dim, num_flows=32, seed=0, batch_shape=()):
    """Diagonal Gaussian ``q_0`` pushed through ``num_flows`` radial layers (eqs. 65-75).

    ``alpha = softplus(raw)`` keeps it positive; ``beta`` is raw (corrected by
    eq. 75 inside the bijector).
    """
    dim, batch_shape = _check(dim, batch_shape, num_flows)
    init = _Initialiser(seed)
    base = _diagonal_gaussian(dim, batch_shape, init, "q0")
    z0 = tf.Variable(init(batch_shape + (num_flows, dim)), name="radial_z0")
    alpha = tfp.util.TransformedVariable(
        tf.math.softplus(init(batch_shape + (num_flows,))).numpy(),
        tfb.Softplus(),
        name="radial_alpha",
    )
    beta = tf.Variable(init(batch_shape + (num_flows,)), name="radial_beta")
    return _flow(base, RadialStack(z0, alpha, beta), "radial")
