"""Planar flows (thesis section IV.A, eqs. 60-64): a layer, a stack of ``K`` layers, eq. 64 and its inverse."""
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from vinf._registry import Registry
from vinf.bijectors._core import (
    flow_references,
    _float_arrays, _LayerStack, _NoInverse, _param, _setting, _VectorBijector, softplus_inverse,
)

tfb = tfp.bijectors

__all__ = [
    "Planar", "PlanarStack", "planar_u_hat", "planar_raw_u", "planar_coefficients", "planar_step",
    "PLANAR_ACTIVATIONS", "LEAKY_RELU_SLOPE",
]

# The planar non-linearities h by name, each a -> (h(a), h'(a)). Eq. 64 keeps a layer invertible for
# any h with 0 < h' <= 1 (then 1 + h' w^T u_hat > 0 once w^T u_hat > -1).
PLANAR_ACTIVATIONS = Registry("planar activation")
LEAKY_RELU_SLOPE = 0.2  # h'(a) for a <= 0 of the "leaky_relu" non-linearity

_REFERENCES = flow_references("Section IV.A, eqs. 60-64")


@PLANAR_ACTIVATIONS.register("tanh")
def _tanh(a):
    """The thesis's ``h = tanh``, ``h' = 1 - tanh^2``: in (0, 1], vanishing for large ``|a|``."""
    h = tf.tanh(a)
    return h, 1.0 - tf.square(h)


@PLANAR_ACTIVATIONS.register("leaky_relu")
def _leaky_relu(a):
    """``h(a) = a`` for ``a > 0``, ``LEAKY_RELU_SLOPE * a`` otherwise: ``h'`` in ``{0.2, 1}``, never vanishing
    (the non-linearity less prone to vanishing gradients that the thesis's section VII asks for)."""
    # Not tf.nn.leaky_relu: its slope is a float32 attribute, 1e-8 off 0.2 in float64.
    positive = a > 0
    slope = tf.where(positive, tf.ones_like(a), tf.fill(tf.shape(a), tf.constant(LEAKY_RELU_SLOPE, a.dtype)))
    return tf.where(positive, a, slope * a), slope


def planar_u_hat(u, w):
    """The invertibility correction of eq. 64.

    ``u_hat = u + (m(w.u) - w.u) w / |w|^2`` with ``m(x) = -1 + softplus(x)``,
    so that ``w.u_hat = m(w.u) > -1`` for any raw ``u``. ``planar_raw_u`` inverts it.
    """
    wu = tf.reduce_sum(w * u, axis=-1, keepdims=True)
    m_wu = -1.0 + tf.math.softplus(wu)
    w_norm_sq = tf.reduce_sum(tf.square(w), axis=-1, keepdims=True)
    return u + (m_wu - wu) * w / w_norm_sq


def planar_raw_u(u_hat, w):
    """The raw ``u`` that eq. 64 maps to ``u_hat`` (NumPy): ``planar_u_hat(planar_raw_u(u_hat, w), w) == u_hat``.

    Eq. 64 changes ``u`` only along ``w`` and sends ``w.u`` to ``m(w.u)``,
    ``m(x) = -1 + softplus(x)``; so ``u = u_hat + (m^-1(w.u_hat) - w.u_hat) w / |w|^2``
    with ``m^-1(s) = softplus^-1(1 + s)``. Shapes ``[..., D]``, broadcast.

    Raises:
      ValueError: ``w.u_hat <= -1`` anywhere (no raw ``u`` reaches it: eq. 64's
        range is ``w.u_hat > -1``), or ``w = 0``.
    """
    u_hat, w = _float_arrays(u_hat, w)
    s = np.sum(w * u_hat, axis=-1, keepdims=True)
    w_norm_sq = np.sum(np.square(w), axis=-1, keepdims=True)
    if not np.all(w_norm_sq > 0):
        raise ValueError("planar_raw_u needs w != 0: eq. 64 divides by |w|^2")
    if not np.all(s > -1.0):
        raise ValueError(f"w^T u_hat = {np.min(s):g} <= -1: no raw u gives this u_hat (eq. 64 keeps w^T u_hat > -1)")
    return u_hat + (softplus_inverse(1.0 + s) - s) * w / w_norm_sq


def planar_coefficients(u, w, b):
    """Per-layer constants of a planar flow: ``w``, ``b``, ``u_hat`` (eq. 64) and ``w^T u_hat``.

    Computed once per call for every layer at once; ``planar_step`` uses them.
    """
    u_hat = planar_u_hat(u, w)
    return dict(w=w, b=b, u_hat=u_hat, w_u_hat=tf.reduce_sum(w * u_hat, axis=-1))


def planar_step(x, c, activation="tanh"):
    """One planar layer and its log-det-Jacobian (eqs. 60-63).

    ``f(x) = x + u_hat h(w^T x + b)``, ``log|det df/dx| = log(1 + h'(w^T x + b) w^T u_hat)``, with
    ``h`` the non-linearity registered as ``activation`` in ``PLANAR_ACTIVATIONS`` (``tanh`` by default);
    ``w^T u_hat > -1`` (eq. 64) and ``0 < h' <= 1`` keep the argument of ``log1p`` above -1.
    """
    h, h_prime = PLANAR_ACTIVATIONS.factory(activation)(tf.reduce_sum(c["w"] * x, axis=-1) + c["b"])
    y = x + c["u_hat"] * h[..., tf.newaxis]
    return y, tf.math.log1p(h_prime * c["w_u_hat"])


def _w_is_nonzero(w):
    return tf.debugging.assert_positive(
        tf.reduce_sum(tf.square(w), axis=-1), message="Planar: w must be nonzero (eq. 64 divides by |w|^2)."
    )


class Planar(_NoInverse, _VectorBijector):
    __doc__ = """Planar flow ``f(z) = z + u_hat h(w^T z + b)`` (eqs. 60-64), ``h = tanh`` by default.

    ``log|det df/dz| = log|1 + u_hat^T psi(z)|`` with
    ``psi(z) = h'(w^T z + b) w`` (eq. 62). The raw ``u`` is corrected to
    ``u_hat`` (eq. 64) inside the bijector, so every parameter value gives an
    invertible map with a positive Jacobian determinant: that needs
    ``0 < h' <= 1``, which both non-linearities of ``PLANAR_ACTIVATIONS.names()`` have
    (``"tanh"``, the thesis's; ``"leaky_relu"``, ``h(a) = a`` for ``a > 0`` and
    ``LEAKY_RELU_SLOPE * a`` otherwise, whose slope does not vanish for large
    ``|a|``, section VII). ``u``, ``w`` and ``b`` are unconstrained
    (``parameter_properties``); ``validate_args`` checks that ``w`` is not zero.
    ``planar_raw_u`` gives the raw ``u`` of a wanted ``u_hat``.

    No closed-form inverse exists; score draws through
    ``TransformedDistribution.experimental_sample_and_log_prob`` (or rely on the
    bijector cache for tensors that ``forward`` produced).

    Example::

        flow = Planar(u=[1., 0.], w=[2., 0.], b=0.)
        y = flow.forward([[0.3, -1.]])
        ldj = flow.forward_log_det_jacobian([[0.3, -1.]], event_ndims=1)

    Args:
      u: raw direction, shape ``[..., D]``.
      w: normal of the hyperplane, shape ``[..., D]``.
      b: offset, shape ``[...]``.
      activation: the non-linearity ``h``, a name in ``PLANAR_ACTIVATIONS.names()``.
    """ + _REFERENCES

    _coefficients = staticmethod(planar_coefficients)
    _step = staticmethod(planar_step)
    _parameter_assertions = dict(w=_w_is_nonzero)

    def __init__(self, u, w, b, activation="tanh", validate_args=False, name="planar"):
        PLANAR_ACTIVATIONS.factory(activation)  # an unknown name raises here, listing the known ones
        super().__init__(dict(u=u, w=w, b=b), validate_args, name, settings=dict(activation=activation))

    @classmethod
    def _parameter_properties(cls, dtype):
        return dict(
            u=tfp.util.ParameterProperties(event_ndims=1, default_constraining_bijector_fn=tfb.Identity),
            w=tfp.util.ParameterProperties(event_ndims=1, default_constraining_bijector_fn=tfb.Identity),
            b=tfp.util.ParameterProperties(event_ndims=0, default_constraining_bijector_fn=tfb.Identity),
        )

    u = _param("u", "The raw direction.")
    w = _param("w", "The normal of the hyperplane.")
    b = _param("b", "The offset.")
    activation = _setting("activation", "The name of the non-linearity ``h``.")

    @property
    def u_hat(self):
        """The corrected direction of eq. 64."""
        return planar_u_hat(tf.convert_to_tensor(self.u), tf.convert_to_tensor(self.w))

    def _forward_and_ldj(self, x):
        return planar_step(x, planar_coefficients(**self._tensors()), **self._settings)


class PlanarStack(_NoInverse, _LayerStack):
    __doc__ = """``K`` planar layers (eq. 60) in one bijector: ``u, w`` are ``[..., K, D]``, ``b`` is ``[..., K]``.

    Layer ``k`` is ``Planar(u[..., k, :], w[..., k, :], b[..., k], activation)``; the
    log-det-Jacobian is the sum of eq. 63.
    """ + _REFERENCES

    _layer_class = Planar
    u, w, b, activation = Planar.u, Planar.w, Planar.b, Planar.activation

    def __init__(self, u, w, b, activation="tanh", validate_args=False, name="planar_stack"):
        PLANAR_ACTIVATIONS.factory(activation)  # an unknown name raises here, listing the known ones
        super().__init__(dict(u=u, w=w, b=b), validate_args, name, settings=dict(activation=activation))
