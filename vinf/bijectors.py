"""Planar and radial flows as TensorFlow Probability bijectors (thesis section IV).

Both act on the last axis of ``z`` (``forward_min_event_ndims=1``) and broadcast
over leading batch axes of their parameters, so ``R`` independent flows (the
repeated trainings of section VI.B) can live in one bijector with parameters of
shape ``[R, D]``.
"""
import tensorflow as tf
import tensorflow_probability as tfp
from tensorflow_probability.python.internal import (
    dtype_util,
    parameter_properties,
    tensor_util,
)

tfb = tfp.bijectors

__all__ = [
    "Planar",
    "Radial",
    "PlanarStack",
    "RadialStack",
    "planar_u_hat",
    "radial_beta_hat",
]


def planar_u_hat(u, w):
    """The invertibility correction of eq. 64.

    ``u_hat = u + (m(w.u) - w.u) w / |w|^2`` with ``m(x) = -1 + softplus(x)``,
    so that ``w.u_hat = m(w.u) > -1`` for any raw ``u``.
    """
    wu = tf.reduce_sum(w * u, axis=-1, keepdims=True)
    m_wu = -1.0 + tf.math.softplus(wu)
    w_norm_sq = tf.reduce_sum(tf.square(w), axis=-1, keepdims=True)
    return u + (m_wu - wu) * w / w_norm_sq


def radial_beta_hat(alpha, beta):
    """The invertibility correction of eq. 75: ``beta_hat = -alpha + softplus(beta)``."""
    return -alpha + tf.math.softplus(beta)


class _VectorBijector(tfb.Bijector):
    """A bijector on the last axis whose parameters are named tensors.

    Subclasses pass their parameters as a dict and declare their event ranks in
    ``_parameter_properties``; this stores them (variables stay variables) and
    sets the shared bijector options.
    """

    def __init__(self, params, validate_args, name):
        with tf.name_scope(name) as name:
            dtype = dtype_util.common_dtype(list(params.values()), dtype_hint=tf.float32)
            self._params = {
                key: tensor_util.convert_nonref_to_tensor(value, dtype=dtype, name=key)
                for key, value in params.items()
            }
            super().__init__(
                forward_min_event_ndims=1,
                dtype=dtype,
                validate_args=validate_args,
                parameters=dict(params, validate_args=validate_args, name=name),
                name=name,
            )


def _param(key, doc):
    return property(lambda self: self._params[key], doc=doc)


class Planar(_VectorBijector):
    """Planar flow ``f(z) = z + u_hat tanh(w^T z + b)`` (eqs. 60-64).

    ``log|det df/dz| = log|1 + u_hat^T psi(z)|`` with
    ``psi(z) = tanh'(w^T z + b) w`` (eq. 62). The raw ``u`` is corrected to
    ``u_hat`` (eq. 64) inside the bijector, so every parameter value gives an
    invertible map with a positive Jacobian determinant.

    No closed-form inverse exists; score draws through
    ``TransformedDistribution.experimental_sample_and_log_prob`` (or rely on the
    bijector cache for tensors that ``forward`` produced).

    Reference: Rezende & Mohamed (2015), "Variational inference with
    normalizing flows", section 4.1.

    Example::

        flow = Planar(u=[1., 0.], w=[2., 0.], b=0.)
        y = flow.forward([[0.3, -1.]])
        ldj = flow.forward_log_det_jacobian([[0.3, -1.]], event_ndims=1)

    Args:
      u: raw direction, shape ``[..., D]``.
      w: normal of the hyperplane, shape ``[..., D]``.
      b: offset, shape ``[...]``.
    """

    def __init__(self, u, w, b, validate_args=False, name="planar"):
        super().__init__(dict(u=u, w=w, b=b), validate_args, name)

    @classmethod
    def _parameter_properties(cls, dtype):
        return dict(
            u=parameter_properties.ParameterProperties(event_ndims=1),
            w=parameter_properties.ParameterProperties(event_ndims=1),
            b=parameter_properties.ParameterProperties(event_ndims=0),
        )

    u = _param("u", "The raw direction.")
    w = _param("w", "The normal of the hyperplane.")
    b = _param("b", "The offset.")

    @property
    def u_hat(self):
        """The corrected direction of eq. 64."""
        return planar_u_hat(tf.convert_to_tensor(self.u), tf.convert_to_tensor(self.w))

    def _activation(self, z):
        w = tf.convert_to_tensor(self._params["w"])
        return tf.reduce_sum(w * z, axis=-1) + self._params["b"]

    def _forward(self, x):
        return x + self.u_hat * tf.tanh(self._activation(x))[..., tf.newaxis]

    def _forward_log_det_jacobian(self, x):
        # 1 + u_hat^T psi = 1 + tanh'(a) w^T u_hat, and w^T u_hat = m(w^T u) > -1,
        # so the argument of log1p is > -1 and the log is always finite.
        w = tf.convert_to_tensor(self._params["w"])
        w_u_hat = tf.reduce_sum(w * planar_u_hat(tf.convert_to_tensor(self._params["u"]), w), axis=-1)
        dtanh = 1.0 - tf.square(tf.tanh(self._activation(x)))
        return tf.math.log1p(dtanh * w_u_hat)

    def _inverse(self, y):
        raise NotImplementedError(
            "Planar flows have no closed-form inverse (thesis section IV.A); score "
            "samples with experimental_sample_and_log_prob instead of log_prob."
        )


class Radial(_VectorBijector):
    """Radial flow ``f(z) = z + beta_hat h(alpha, r) (z - z0)`` (eqs. 65-78).

    ``r = |z - z0|``, ``h(alpha, r) = 1 / (alpha + r)`` and
    ``log|det df/dz| = (D-1) log(1 + beta_hat h) + log(1 + beta_hat h + beta_hat h' r)``
    (eq. 70). The raw ``beta`` is corrected to ``beta_hat = -alpha + softplus(beta)``
    (eq. 75), so the map is invertible for any ``beta``; ``alpha`` must be
    positive (pass a ``tfp.util.TransformedVariable`` with a ``Softplus`` to train
    it). The inverse is analytic: the positive root ``r*`` of eq. 76 (always real
    once ``beta_hat >= -alpha``) put into eq. 77.

    Reference: Rezende & Mohamed (2015), section 4.1.

    Example::

        flow = Radial(z0=[1., 1.], alpha=1., beta=2.)
        x = flow.inverse(flow.forward([[0., 0.5]]))   # == [[0., 0.5]]

    Args:
      z0: reference point, shape ``[..., D]``.
      alpha: positive scale, shape ``[...]``.
      beta: raw strength, shape ``[...]``.
    """

    def __init__(self, z0, alpha, beta, validate_args=False, name="radial"):
        super().__init__(dict(z0=z0, alpha=alpha, beta=beta), validate_args, name)

    @classmethod
    def _parameter_properties(cls, dtype):
        return dict(
            z0=parameter_properties.ParameterProperties(event_ndims=1),
            alpha=parameter_properties.ParameterProperties(event_ndims=0),
            beta=parameter_properties.ParameterProperties(event_ndims=0),
        )

    z0 = _param("z0", "The reference point.")
    alpha = _param("alpha", "The positive scale.")
    beta = _param("beta", "The raw strength.")

    @property
    def beta_hat(self):
        """The corrected strength of eq. 75."""
        return radial_beta_hat(tf.convert_to_tensor(self.alpha), tf.convert_to_tensor(self.beta))

    def _parameter_control_dependencies(self, is_init):
        if not self.validate_args:
            return []
        return [
            tf.debugging.assert_positive(self._params["alpha"], message="Radial: alpha must be positive.")
        ]

    def _forward(self, x):
        alpha = tf.convert_to_tensor(self._params["alpha"])
        diff = x - self._params["z0"]
        r = tf.norm(diff, axis=-1)
        h = 1.0 / (alpha + r)
        return x + (radial_beta_hat(alpha, self._params["beta"]) * h)[..., tf.newaxis] * diff

    def _forward_log_det_jacobian(self, x):
        alpha = tf.convert_to_tensor(self._params["alpha"])
        beta_hat = radial_beta_hat(alpha, self._params["beta"])
        r = tf.norm(x - self._params["z0"], axis=-1)
        h = 1.0 / (alpha + r)
        # 1 + beta_hat h + beta_hat h' r simplifies to 1 + beta_hat alpha h^2.
        dim = tf.cast(tf.shape(x)[-1], x.dtype)
        return (dim - 1.0) * tf.math.log1p(beta_hat * h) + tf.math.log1p(
            beta_hat * alpha * tf.square(h)
        )

    def _inverse(self, y):
        alpha = tf.convert_to_tensor(self._params["alpha"])
        beta_hat = radial_beta_hat(alpha, self._params["beta"])
        diff = y - self._params["z0"]
        k = tf.norm(diff, axis=-1)
        # Positive root of r^2 + r (alpha + beta_hat - k) - alpha k = 0 (eqs. 76, 78),
        # written without cancellation whichever sign the linear coefficient has.
        c = alpha + beta_hat - k
        sqrt_delta = tf.sqrt(tf.square(c) + 4.0 * alpha * k)
        stable_denominator = tf.where(c > 0, c + sqrt_delta, tf.ones_like(c))
        r = tf.where(c > 0, 2.0 * alpha * k / stable_denominator, (sqrt_delta - c) / 2.0)
        return self._params["z0"] + diff / (1.0 + beta_hat / (alpha + r))[..., tf.newaxis]

    def _inverse_log_det_jacobian(self, y):
        return -self._forward_log_det_jacobian(self._inverse(y))


class _LayerStack(_VectorBijector):
    """``K`` layers of one bijector class, ``f_K o ... o f_1``, as one bijector.

    Each parameter is the layer class's parameter with a layer axis of size ``K``
    inserted just before its event axes (``u`` of a planar layer is ``[..., D]``,
    so a stack's ``u`` is ``[..., K, D]``). The layers run in a ``tf.while_loop``:
    a graph of one layer instead of ``K``, so XLA compiles in seconds at any
    depth, and the loop carries the running log-det-Jacobian (eq. 59) with the
    sample, so drawing from a flow and scoring the draw cost one pass.
    """

    _layer_class = None

    def __init__(self, params, validate_args, name):
        super().__init__(params, validate_args, name)
        props = self._layer_class.parameter_properties(self.dtype)
        self._layer_axes = {key: -(props[key].event_ndims + 1) for key in params}
        sizes = {value.shape[self._layer_axes[key]] for key, value in self._params.items()}
        if len(sizes) != 1 or None in sizes:
            raise ValueError(
                f"{type(self).__name__}: every parameter needs the same static number "
                f"of layers on its layer axis, got {sorted(map(str, sizes))}"
            )
        self._num_layers = int(sizes.pop())

    @classmethod
    def _parameter_properties(cls, dtype):
        return {
            key: prop._replace(event_ndims=prop.event_ndims + 1)
            for key, prop in cls._layer_class.parameter_properties(dtype).items()
        }

    @property
    def num_layers(self):
        return self._num_layers

    def layer(self, k):
        """The ``k``-th layer (0-based, applied ``k``-th) as a bijector of its own."""
        return self._layer_from(self._tensors(), k)

    def _tensors(self):
        return {key: tf.convert_to_tensor(value) for key, value in self._params.items()}

    def _layer_from(self, tensors, k):
        return self._layer_class(
            **{
                key: tf.gather(value, k, axis=self._layer_axes[key])
                for key, value in tensors.items()
            },
            validate_args=self.validate_args,
        )

    def _run(self, x, order, step):
        """Fold ``step(layer, x) -> (x', ldj)`` over the layers in ``order``, summing ldj."""
        tensors = self._tensors()
        x, total = step(self._layer_from(tensors, order[0]), x)  # fixes the broadcast shapes

        def body(i, x, total):
            x, ldj = step(self._layer_from(tensors, tf.gather(order, i)), x)
            return i + 1, x, total + ldj

        _, x, total = tf.while_loop(
            lambda i, x, total: i < self._num_layers,
            body,
            (tf.constant(1), x, total),
            maximum_iterations=max(self._num_layers - 1, 0),
        )
        return x, total

    @staticmethod
    def _forward_step(layer, x):
        return layer._forward(x), layer._forward_log_det_jacobian(x)

    @staticmethod
    def _inverse_step(layer, y):
        x = layer._inverse(y)
        return x, layer._inverse_log_det_jacobian(y)

    def _forward_and_ldj(self, x):
        return self._run(x, tf.range(self._num_layers), self._forward_step)

    def _forward(self, x):
        y, ldj = self._forward_and_ldj(x)
        # The cache's attributes exist for this: forward_log_det_jacobian(x) will
        # find the ldj computed alongside y instead of running the layers again.
        self._cache.forward_attributes(x)["ildj"] = -ldj
        return y

    def _forward_log_det_jacobian(self, x):
        return self._forward_and_ldj(x)[1]

    def _inverse_and_ildj(self, y):
        return self._run(y, tf.range(self._num_layers - 1, -1, -1), self._inverse_step)

    def _inverse(self, y):
        x, ildj = self._inverse_and_ildj(y)
        self._cache.inverse_attributes(y)["ildj"] = ildj
        return x

    def _inverse_log_det_jacobian(self, y):
        return self._inverse_and_ildj(y)[1]


class PlanarStack(_LayerStack):
    """``K`` planar layers (eq. 60) in one bijector: ``u, w`` are ``[..., K, D]``, ``b`` is ``[..., K]``.

    Layer ``k`` is ``Planar(u[..., k, :], w[..., k, :], b[..., k])``; the
    log-det-Jacobian is the sum of eq. 63.
    """

    _layer_class = Planar

    def __init__(self, u, w, b, validate_args=False, name="planar_stack"):
        super().__init__(dict(u=u, w=w, b=b), validate_args, name)


class RadialStack(_LayerStack):
    """``K`` radial layers (eq. 65) in one bijector: ``z0`` is ``[..., K, D]``, ``alpha, beta`` ``[..., K]``.

    The inverse runs the analytic layer inverses (eq. 77) from the last layer to the first.
    """

    _layer_class = Radial

    def __init__(self, z0, alpha, beta, validate_args=False, name="radial_stack"):
        super().__init__(dict(z0=z0, alpha=alpha, beta=beta), validate_args, name)
