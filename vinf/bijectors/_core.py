"""What every flow of ``vinf.bijectors`` shares: named tensor parameters, the bijector cache of the
log-det computed with a draw, validation in TFP's ``is_init`` idiom, and ``K`` layers stacked in one
bijector."""
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from tensorflow_probability.python.internal import dtype_util, tensor_util

tfb = tfp.bijectors

__all__ = ["softplus_inverse"]


def _float_arrays(*values):
    """``values`` as NumPy arrays of one floating dtype (their common one, float64 if none is floating)."""
    arrays = [np.asarray(v) for v in values]
    dtype = np.result_type(*arrays)
    dtype = dtype if np.issubdtype(dtype, np.floating) else np.float64
    return [a.astype(dtype) for a in arrays]


def softplus_inverse(x):
    """``log(exp(x) - 1)``, the inverse of ``softplus`` on ``(0, inf)``, in NumPy.

    Written ``x + log(-expm1(-x))``: no overflow for large ``x``, no cancellation
    for small ``x``. Keeps the dtype of a floating ``x`` (float64 otherwise).

    Raises:
      ValueError: an entry of ``x`` is not positive (softplus never reaches it).
    """
    (x,) = _float_arrays(x)
    if not np.all(x > 0):
        raise ValueError(f"softplus_inverse needs x > 0 (softplus is positive), got min {np.min(x):g}")
    return x + np.log(-np.expm1(-x))


def flow_references(thesis_section):
    """The docstring references of the planar and radial flows: Rezende & Mohamed, and the thesis's section."""
    return f"""
    #### References

    [1]: Danilo Jimenez Rezende and Shakir Mohamed. Variational Inference with
         Normalizing Flows. In _International Conference on Machine Learning_,
         2015. https://arxiv.org/abs/1505.05770

    [2]: Pierre Segonne. Variational Inference using Normalizing Flows.
         Technical University of Denmark (DTU). {thesis_section}.
         https://github.com/pierresegonne/VINF
"""


class _VectorBijector(tfb.AutoCompositeTensorBijector):
    """A flow on the last axis whose parameters are named tensors.

    Subclasses pass their parameters as a dict (an optional parameter may be
    ``None``: it is then absent from ``_tensors()``), declare their event ranks
    and constraints in ``_parameter_properties``, the checks that
    ``validate_args`` runs in ``_parameter_assertions``, and implement
    ``_forward_and_ldj(x) -> (y, ldj)``. ``settings`` are further constructor
    arguments that are not tensors (the planar ``activation``): kept in
    ``parameters`` and passed by name to the layer steps.

    ``forward`` leaves the log-det-Jacobian it computed alongside ``y`` in the
    bijector cache, so drawing from a flow and scoring the draw cost one pass.
    That is a write into TFP's bijector cache, which offers no public way to
    hand over a log-det computed with ``y``: without it, ``TransformedDistribution``
    scores each draw by running the whole flow again (``_forward_log_det_jacobian(x)``).
    """

    # {parameter name: tensor -> assertion op}, run when validate_args (the is_init idiom below).
    _parameter_assertions = {}

    def __init__(self, params, validate_args, name, settings=None):
        self._settings = dict(settings or {})
        with tf.name_scope(name) as name:
            dtype = dtype_util.common_dtype([v for v in params.values() if v is not None], dtype_hint=tf.float32)
            self._params = {
                key: tensor_util.convert_nonref_to_tensor(value, dtype=dtype, name=key)
                for key, value in params.items()
                if value is not None
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

    def _parameter_control_dependencies(self, is_init):
        # TFP's idiom: constants are checked once, when the bijector is built (is_init); variables,
        # which can change, at every call.
        if not self.validate_args:
            return []
        return [
            check(self._params[key])
            for key, check in self._parameter_assertions.items()
            if key in self._params and is_init != tensor_util.is_ref(self._params[key])
        ]

    def _forward(self, x):
        y, ldj = self._forward_and_ldj(x)
        self._cache.forward_attributes(x)["ildj"] = -ldj  # see the class docstring
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
    return property(lambda self: self._params.get(key), doc=doc)


def _setting(key, doc):
    return property(lambda self: self._settings[key], doc=doc)


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

    A stack validates its parameters as its layer class does.
    """

    _layer_class = None

    def __init__(self, params, validate_args, name, settings=None):
        super().__init__(params, validate_args, name, settings)
        props = self._layer_class.parameter_properties(self.dtype)
        self._layer_axes = {key: -(props[key].event_ndims + 1) for key in self._params}
        sizes = {value.shape[self._layer_axes[key]] for key, value in self._params.items()}
        if len(sizes) != 1 or None in sizes:
            raise ValueError(
                f"{type(self).__name__}: every parameter needs the same static number "
                f"of layers on its layer axis, got {sorted(map(str, sizes))}"
            )
        self._num_layers = int(sizes.pop())

    @property
    def _parameter_assertions(self):
        return self._layer_class._parameter_assertions

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
