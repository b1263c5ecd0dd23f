"""Radial flows (thesis section IV.B, eqs. 65-78): a layer, a stack of ``K`` layers, the analytic inverse,
eq. 75 and its inverse."""
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from tensorflow_probability.python.internal import dtype_util

from vinf.bijectors._core import (_AnalyticInverse, _float_arrays, _LayerStack, _param, _VectorBijector, flow_references,
                                  softplus_inverse)

tfb = tfp.bijectors

__all__ = [
    "Radial", "RadialStack", "radial_beta_hat", "radial_raw_beta", "radial_coefficients", "radial_step",
    "radial_inverse_step",
]

_REFERENCES = flow_references("Section IV.B, eqs. 65-78")


def radial_beta_hat(alpha, beta):
    """The invertibility correction of eq. 75: ``beta_hat = -alpha + softplus(beta)``; ``radial_raw_beta``
    inverts it."""
    return -alpha + tf.math.softplus(beta)


def radial_raw_beta(alpha, beta_hat):
    """The raw ``beta`` that eq. 75 maps to ``beta_hat`` (NumPy): ``softplus^-1(beta_hat + alpha)``,
    so ``radial_beta_hat(alpha, radial_raw_beta(alpha, beta_hat)) == beta_hat``. Shapes broadcast.

    Raises:
      ValueError: ``beta_hat <= -alpha`` anywhere (eq. 75's range is ``beta_hat > -alpha``).
    """
    alpha, beta_hat = _float_arrays(alpha, beta_hat)
    if not np.all(beta_hat > -alpha):
        raise ValueError(
            f"beta_hat + alpha = {np.min(beta_hat + alpha):g} <= 0: no raw beta gives this beta_hat "
            "(eq. 75 keeps beta_hat > -alpha)"
        )
    return softplus_inverse(beta_hat + alpha)


def radial_coefficients(z0, alpha, beta):
    """Per-layer constants of a radial flow: ``z0``, ``alpha``, ``beta_hat`` (eq. 75) and
    ``softplus(beta) = alpha + beta_hat``, which the log-det uses to avoid cancellation."""
    return dict(z0=z0, alpha=alpha, beta_hat=radial_beta_hat(alpha, beta), softplus_beta=tf.math.softplus(beta))


def _radial_log_det(c, r, dim):
    """Eq. 70 at radius ``r``: ``(D-1) log(1 + beta_hat h) + log(1 + beta_hat h + beta_hat h' r)``.

    With ``h = 1 / (alpha + r)`` and ``beta_hat = softplus(beta) - alpha`` (eq. 75) the two factors
    are ``(r + softplus(beta)) / (alpha + r)`` and ``(r (r + 2 alpha) + alpha softplus(beta)) / (alpha + r)^2``:
    sums of positive terms, so no cancellation where ``beta_hat`` is close to ``-alpha``.
    """
    alpha, softplus_beta = c["alpha"], c["softplus_beta"]
    log_alpha_r = tf.math.log(alpha + r)
    return (dim - 1.0) * (tf.math.log(r + softplus_beta) - log_alpha_r) + (
        tf.math.log(r * (r + 2.0 * alpha) + alpha * softplus_beta) - 2.0 * log_alpha_r
    )


def radial_step(x, c):
    """One radial layer ``f(x) = x + beta_hat h(alpha, r) (x - z0)`` and its log-det (eqs. 65-70)."""
    diff = x - c["z0"]
    r = tf.norm(diff, axis=-1)
    y = x + (c["beta_hat"] / (c["alpha"] + r))[..., tf.newaxis] * diff
    return y, _radial_log_det(c, r, tf.cast(tf.shape(x)[-1], x.dtype))


def radial_inverse_step(y, c):
    """The analytic inverse of a radial layer (eqs. 76-78) and its log-det-Jacobian.

    ``r*`` is the positive root of ``r^2 + r (alpha + beta_hat - k) - alpha k = 0``,
    ``k = |y - z0|``; it is real for every ``y`` once ``beta_hat >= -alpha`` (eq. 75).
    The root is written without cancellation whichever sign the linear
    coefficient has; the inverse's log-det is minus eq. 70 at ``r*``.
    """
    alpha, beta_hat = c["alpha"], c["beta_hat"]
    diff = y - c["z0"]
    k = tf.norm(diff, axis=-1)
    lin = alpha + beta_hat - k
    sqrt_delta = tf.sqrt(tf.square(lin) + 4.0 * alpha * k)
    safe = tf.where(lin > 0, lin + sqrt_delta, tf.ones_like(lin))
    r = tf.where(lin > 0, 2.0 * alpha * k / safe, (sqrt_delta - lin) / 2.0)
    x = c["z0"] + diff / (1.0 + beta_hat / (alpha + r))[..., tf.newaxis]
    return x, -_radial_log_det(c, r, tf.cast(tf.shape(y)[-1], y.dtype))


def _alpha_is_positive(alpha):
    return tf.debugging.assert_positive(alpha, message="Radial: alpha must be positive.")


class Radial(_AnalyticInverse, _VectorBijector):
    __doc__ = """Radial flow ``f(z) = z + beta_hat h(alpha, r) (z - z0)`` (eqs. 65-78).

    ``r = |z - z0|``, ``h(alpha, r) = 1 / (alpha + r)`` and
    ``log|det df/dz| = (D-1) log(1 + beta_hat h) + log(1 + beta_hat h + beta_hat h' r)``
    (eq. 70). The raw ``beta`` is corrected to ``beta_hat = -alpha + softplus(beta)``
    (eq. 75), so the map is invertible for any ``beta`` (``radial_raw_beta`` gives
    the raw ``beta`` of a wanted ``beta_hat``). ``alpha`` must be positive: its
    ``parameter_properties`` constrain it by a ``Softplus`` (pass a
    ``tfp.util.TransformedVariable`` to train it), ``validate_args`` checks it;
    ``z0`` and ``beta`` are unconstrained. The inverse is analytic: the positive
    root ``r*`` of eq. 76 (always real once ``beta_hat >= -alpha``) put into eq. 77.

    Example::

        flow = Radial(z0=[1., 1.], alpha=1., beta=2.)
        x = flow.inverse(flow.forward([[0., 0.5]]))   # == [[0., 0.5]]

    Args:
      z0: reference point, shape ``[..., D]``.
      alpha: positive scale, shape ``[...]``.
      beta: raw strength, shape ``[...]``.
    """ + _REFERENCES

    _coefficients = staticmethod(radial_coefficients)
    _step = staticmethod(radial_step)
    _inverse_step = staticmethod(radial_inverse_step)
    _parameter_assertions = dict(alpha=_alpha_is_positive)

    def __init__(self, z0, alpha, beta, validate_args=False, name="radial"):
        super().__init__(dict(z0=z0, alpha=alpha, beta=beta), validate_args, name)

    @classmethod
    def _parameter_properties(cls, dtype):
        return dict(
            z0=tfp.util.ParameterProperties(event_ndims=1, default_constraining_bijector_fn=tfb.Identity),
            alpha=tfp.util.ParameterProperties(
                event_ndims=0, default_constraining_bijector_fn=lambda: tfb.Softplus(low=dtype_util.eps(dtype))),
            beta=tfp.util.ParameterProperties(event_ndims=0, default_constraining_bijector_fn=tfb.Identity),
        )

    z0 = _param("z0", "The reference point.")
    alpha = _param("alpha", "The positive scale.")
    beta = _param("beta", "The raw strength.")

    @property
    def beta_hat(self):
        """The corrected strength of eq. 75."""
        return radial_beta_hat(tf.convert_to_tensor(self.alpha), tf.convert_to_tensor(self.beta))

    def _forward_and_ldj(self, x):
        return radial_step(x, radial_coefficients(**self._tensors()))

    def _inverse_and_ildj(self, y):
        return radial_inverse_step(y, radial_coefficients(**self._tensors()))


class RadialStack(_AnalyticInverse, _LayerStack):
    __doc__ = """``K`` radial layers (eq. 65) in one bijector: ``z0`` is ``[..., K, D]``, ``alpha, beta`` ``[..., K]``.

    The inverse runs the analytic layer inverses (eq. 77) from the last layer to the first.
    """ + _REFERENCES

    _layer_class = Radial
    z0, alpha, beta = Radial.z0, Radial.alpha, Radial.beta

    def __init__(self, z0, alpha, beta, validate_args=False, name="radial_stack"):
        super().__init__(dict(z0=z0, alpha=alpha, beta=beta), validate_args, name)

    def _inverse_and_ildj(self, y):
        return self._run(y, Radial._inverse_step, reverse=True)
