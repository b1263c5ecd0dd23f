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

from vinf._registry import Registry

tfb = tfp.bijectors

__all__ = [
    "Planar",
    "Radial",
    "PlanarStack",
    "RadialStack",
    "planar_u_hat",
    "radial_beta_hat",
    "PLANAR_ACTIVATIONS",
    "LEAKY_RELU_SLOPE",
]

# The planar non-linearities h by name, each a -> (h(a), h'(a)). Eq. 64 keeps a layer invertible for
# any h with 0 < h' <= 1 (then 1 + h' w^T u_hat > 0 once w^T u_hat > -1).
PLANAR_ACTIVATIONS = Registry("planar activation")
LEAKY_RELU_SLOPE = 0.2  # h'(a) for a <= 0 of the "leaky_relu" non-linearity


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
    so that ``w.u_hat = m(w.u) > -1`` for any raw ``u``.
    """
    wu = tf.reduce_sum(w * u, axis=-1, keepdims=True)
    m_wu = -1.0 + tf.math.softplus(wu)
    w_norm_sq = tf.reduce_sum(tf.square(w), axis=-1, keepdims=True)
    return u + (m_wu - wu) * w / w_norm_sq


def radial_beta_hat(alpha, beta):
    """The invertibility correction of eq. 75: ``beta_hat = -alpha + softplus(beta)``."""
    return -alpha + tf.math.softplus(beta)


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


class _VectorBijector(tfb.Bijector):
    """A flow on the last axis whose parameters are named tensors.

    Subclasses pass their parameters as a dict, declare their event ranks in
    ``_parameter_properties`` and implement ``_forward_and_ldj(x) -> (y, ldj)``.
    ``settings`` are further constructor arguments that are not tensors (the
    planar ``activation``): kept in ``parameters`` and passed by name to the
    layer steps. ``forward`` leaves the log-det-Jacobian it computed alongside
    ``y`` in the bijector cache, so drawing from a flow and scoring the draw
    cost one pass.
    """

    def __init__(self, params, validate_args, name, settings=None):
        self._settings = dict(settings or {})
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
                parameters=dict(params, **self._settings, validate_args=validate_args, name=name),
                name=name,
            )

    def _tensors(self):
        return {key: tf.convert_to_tensor(value) for key, value in self._params.items()}

    def _forward(self, x):
        y, ldj = self._forward_and_ldj(x)
        # The cache's attributes exist for this: forward_log_det_jacobian(x) finds
        # the ldj computed alongside y instead of running the flow again.
        self._cache.forward_attributes(x)["ildj"] = -ldj
        return y

    def _forward_log_det_jacobian(self, x):
        return self._forward_and_ldj(x)[1]


class _AnalyticInverse:
    """Mixin for flows with ``_inverse_and_ildj(y) -> (x, ildj)``; caches the ildj like forward."""

    def _inverse(self, y):
        x, ildj = self._inverse_and_ildj(y)
        self._cache.inverse_attributes(y)["ildj"] = ildj
        return x

    def _inverse_log_det_jacobian(self, y):
        return self._inverse_and_ildj(y)[1]


class _NoInverse:
    """Mixin for planar flows, which have no closed-form inverse (thesis section IV.A)."""

    def _inverse(self, y):
        raise NotImplementedError(
            "Planar flows have no closed-form inverse (thesis section IV.A); score "
            "samples with experimental_sample_and_log_prob instead of log_prob."
        )


def _param(key, doc):
    return property(lambda self: self._params[key], doc=doc)


class Planar(_NoInverse, _VectorBijector):
    """Planar flow ``f(z) = z + u_hat h(w^T z + b)`` (eqs. 60-64), ``h = tanh`` by default.

    ``log|det df/dz| = log|1 + u_hat^T psi(z)|`` with
    ``psi(z) = h'(w^T z + b) w`` (eq. 62). The raw ``u`` is corrected to
    ``u_hat`` (eq. 64) inside the bijector, so every parameter value gives an
    invertible map with a positive Jacobian determinant: that needs
    ``0 < h' <= 1``, which both non-linearities of ``PLANAR_ACTIVATIONS.names()`` have
    (``"tanh"``, the thesis's; ``"leaky_relu"``, ``h(a) = a`` for ``a > 0`` and
    ``LEAKY_RELU_SLOPE * a`` otherwise, whose slope does not vanish for large
    ``|a|``, section VII).

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
      activation: the non-linearity ``h``, a name in ``PLANAR_ACTIVATIONS.names()``.
    """

    _coefficients = staticmethod(planar_coefficients)
    _step = staticmethod(planar_step)

    def __init__(self, u, w, b, activation="tanh", validate_args=False, name="planar"):
        PLANAR_ACTIVATIONS.factory(activation)  # an unknown name raises here, listing the known ones
        super().__init__(dict(u=u, w=w, b=b), validate_args, name, settings=dict(activation=activation))

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
    def activation(self):
        """The name of the non-linearity ``h``."""
        return self._settings["activation"]

    @property
    def u_hat(self):
        """The corrected direction of eq. 64."""
        return planar_u_hat(tf.convert_to_tensor(self.u), tf.convert_to_tensor(self.w))

    def _forward_and_ldj(self, x):
        return planar_step(x, planar_coefficients(**self._tensors()), **self._settings)


class Radial(_AnalyticInverse, _VectorBijector):
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

    _coefficients = staticmethod(radial_coefficients)
    _step = staticmethod(radial_step)
    _inverse_step = staticmethod(radial_inverse_step)

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

    def _forward_and_ldj(self, x):
        return radial_step(x, radial_coefficients(**self._tensors()))

    def _inverse_and_ildj(self, y):
        return radial_inverse_step(y, radial_coefficients(**self._tensors()))


class _LayerStack(_VectorBijector):
    """``K`` layers of one bijector class, ``f_K o ... o f_1``, as one bijector.

    Each parameter is the layer class's parameter with a layer axis of size ``K``
    inserted just before its event axes (``u`` of a planar layer is ``[..., D]``,
    so a stack's ``u`` is ``[..., K, D]``). The layers' constants (``u_hat``,
    ``beta_hat``) are computed for all layers at once, with the layer axis moved
    to the front, and the layers are unrolled into one graph that carries the
    running log-det-Jacobian (eq. 59) with the sample. Unrolled, XLA fuses across
    layers: a compiled training step runs about 1.4x faster than the same layers
    in a ``tf.while_loop``, for a compilation that grows with depth (about 10 s
    at K = 64 on this project's 2-core machine), paid once per surrogate.
    """

    _layer_class = None

    def __init__(self, params, validate_args, name, settings=None):
        super().__init__(params, validate_args, name, settings)
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

    def _coefficients_by_layer(self):
        """The layer class's constants for every layer, layer axis first."""
        leading = {
            key: tf.experimental.numpy.moveaxis(value, self._layer_axes[key], 0)
            for key, value in self._tensors().items()
        }
        return self._layer_class._coefficients(**leading)

    def layer_norms(self, values):
        """Per-layer Euclidean norms of tensors shaped like this stack's parameters.

        ``values`` maps each parameter's name to a tensor of its shape (its
        gradient, say); returns ``[..., K]``: for each layer, the norm over the
        entries of all its parameters.
        """
        squares = [
            tf.reduce_sum(tf.square(values[key]), axis=list(range(axis + 1, 0)))
            for key, axis in self._layer_axes.items()
        ]
        return tf.sqrt(tf.add_n(squares))

    def _run(self, x, step, reverse):
        """Fold ``step(x, constants of layer k, **settings) -> (x', ldj)`` over the layers, summing ldj (eq. 59)."""
        coefficients = self._coefficients_by_layer()
        order = range(self._num_layers - 1, -1, -1) if reverse else range(self._num_layers)
        total = 0.0
        for k in order:
            x, ldj = step(x, {key: value[k] for key, value in coefficients.items()}, **self._settings)
            total = total + ldj
        return x, total

    def _forward_and_ldj(self, x):
        return self._run(x, self._layer_class._step, reverse=False)


class PlanarStack(_NoInverse, _LayerStack):
    """``K`` planar layers (eq. 60) in one bijector: ``u, w`` are ``[..., K, D]``, ``b`` is ``[..., K]``.

    Layer ``k`` is ``Planar(u[..., k, :], w[..., k, :], b[..., k], activation)``; the
    log-det-Jacobian is the sum of eq. 63.
    """

    _layer_class = Planar
    activation = Planar.activation

    def __init__(self, u, w, b, activation="tanh", validate_args=False, name="planar_stack"):
        PLANAR_ACTIVATIONS.factory(activation)  # an unknown name raises here, listing the known ones
        super().__init__(dict(u=u, w=w, b=b), validate_args, name, settings=dict(activation=activation))


class RadialStack(_AnalyticInverse, _LayerStack):
    """``K`` radial layers (eq. 65) in one bijector: ``z0`` is ``[..., K, D]``, ``alpha, beta`` ``[..., K]``.

    The inverse runs the analytic layer inverses (eq. 77) from the last layer to the first.
    """

    _layer_class = Radial

    def __init__(self, z0, alpha, beta, validate_args=False, name="radial_stack"):
        super().__init__(dict(z0=z0, alpha=alpha, beta=beta), validate_args, name)

    def _inverse_and_ildj(self, y):
        return self._run(y, Radial._inverse_step, reverse=True)
