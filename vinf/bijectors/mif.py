"""Model-informed flows (Ko & Domke 2025): VIP's partial non-centring (Gorinova et al. 2020) as flow layers
that read the model's conditional priors, in the model's hierarchical order."""
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from vinf.bijectors._core import _AnalyticInverse, _LayerStack, _param, _setting, _VectorBijector

tfb = tfp.bijectors

__all__ = ["ModelInformed", "ModelInformedStack", "mif_coefficients", "mif_step", "mif_inverse_step"]

_REFERENCES = """
    #### References

    [1]: Joohwan Ko and Justin Domke. Model-Informed Flows for Bayesian
         Inference. _arXiv preprint arXiv:2505.24243_, 2025.
         https://arxiv.org/abs/2505.24243

    [2]: Maria I. Gorinova, Dave Moore and Matthew D. Hoffman. Automatic
         Reparameterisation of Probabilistic Programs. In _International
         Conference on Machine Learning_, 2020. https://arxiv.org/abs/1906.03028
"""


def _group_bounds(group_sizes):
    stops = np.cumsum(group_sizes)
    return list(zip((0, *stops[:-1].tolist()), stops.tolist()))


def mif_coefficients(shift, log_scale, lam, gamma, tril=None):
    """Per-layer constants of a model-informed layer: the parameters, ``exp(log_scale)`` and, with
    ``tril``, its strictly lower triangle (the rest of the matrix is unused)."""
    c = dict(shift=shift, log_scale=log_scale, scale=tf.exp(log_scale), lam=lam, gamma=gamma)
    if tril is not None:
        dim = tril.shape[-1]
        c["tril"] = tril * tf.constant(np.tril(np.ones((dim, dim)), -1), dtype=tril.dtype)
    return c


def _noise(x, c):
    """``e = exp(s) * x + L x``: the layer's input as the (full-rank) Gaussian of VIP's auxiliary variable."""
    e = c["scale"] * x
    if "tril" in c:
        e = e + tf.linalg.matvec(c["tril"], x)
    return e


def mif_step(x, c, prior, group_sizes):
    """One model-informed layer and its log-det-Jacobian, group by group in the hierarchical order.

    For each group ``v`` (a variable of the model) in turn, with ``(f_v, log g_v)`` from ``prior(y)`` read at
    the outputs of the earlier groups: ``y_v = f_v + exp(gamma log g_v) (a - lambda f_v + e_v)``,
    ``e = exp(s) x + L x``. ``log|det dy/dx| = sum_i (gamma_i log g_i + s_i)``: ``y_i`` depends on ``x_i``
    through ``exp(s_i) x_i`` only, the rest through earlier coordinates, so the Jacobian is triangular.
    """
    e = _noise(x, c)
    parts, log_scales = [], []
    y = tf.zeros_like(x)  # the later groups' places: the prior of a group reads only earlier groups
    for start, stop in _group_bounds(group_sizes):
        loc, log_prior_scale = (t[..., start:stop] for t in prior(y))
        log_scale = c["gamma"][..., start:stop] * log_prior_scale
        centred = c["shift"][..., start:stop] - c["lam"][..., start:stop] * loc + e[..., start:stop]
        parts.append(loc + tf.exp(log_scale) * centred)
        log_scales.append(log_scale)
        y = tf.concat(parts + [tf.zeros_like(x[..., stop:])], axis=-1)
    return y, tf.reduce_sum(tf.concat(log_scales, axis=-1) + c["log_scale"], axis=-1)


def mif_inverse_step(y, c, prior, group_sizes):
    """The analytic inverse of ``mif_step`` and its log-det-Jacobian.

    Every group's prior is read from ``y`` at once (each reads only earlier groups), then
    ``e = (y - f) exp(-gamma log g) - a + lambda f`` and ``x`` solves ``(diag(exp(s)) + L) x = e``:
    a triangular solve, sequential over the coordinates inside one op.
    """
    del group_sizes  # every group at once
    loc, log_prior_scale = prior(y)
    log_scale = c["gamma"] * log_prior_scale
    e = (y - loc) * tf.exp(-log_scale) - c["shift"] + c["lam"] * loc
    if "tril" in c:
        matrix = c["tril"] + tf.linalg.diag(c["scale"])
        x = tf.linalg.triangular_solve(matrix, e[..., tf.newaxis], lower=True)[..., 0]
    else:
        x = e / c["scale"]
    return x, -tf.reduce_sum(log_scale + c["log_scale"], axis=-1)


def _event_size(value):
    return tf.TensorShape(value.shape if hasattr(value, "shape") else np.shape(value))[-1]


def _check_settings(prior, group_sizes, dim, name):
    if not callable(prior):
        raise ValueError(f"{name}: prior must be callable, y [..., D] -> (loc, log_scale), got {type(prior).__name__}")
    sizes = tuple(group_sizes)
    if not sizes or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in sizes):
        raise ValueError(f"{name}: group_sizes must be positive integers, got {group_sizes!r}")
    if dim is not None and sum(sizes) != dim:
        raise ValueError(f"{name}: group_sizes {sizes} cover {sum(sizes)} coordinates, the flow acts on {dim}")
    return tuple(int(s) for s in sizes)


class ModelInformed(_AnalyticInverse, _VectorBijector):
    __doc__ = """A model-informed flow layer (Ko & Domke 2025): VIP's partial non-centring, learnt per coordinate.

    The coordinates are in the model's hierarchical order (every variable after
    its parents), cut into ``group_sizes`` (one group per variable). ``prior(y)``
    gives, for every coordinate, its conditional prior's location ``f`` and log
    scale ``log g`` in unconstrained coordinates given the earlier groups of
    ``y`` (``vinf.targets.joint.Hierarchy.prior``, reordered). Group by group:

        y_v = f_v(y_<v) + g_v(y_<v)^gamma (a - lambda f_v(y_<v) + exp(s) x_v + (L x)_v)

    with per-coordinate translation ``a`` (``shift``), log scale ``s``,
    interpolation weights ``lambda`` (``lam``) and ``gamma``, and an optional
    strictly lower-triangular ``L`` (``tril``; only that triangle is read).
    ``lambda = 1, gamma = 0`` is the centred form, ``y = a + exp(s) x + L x``:
    with ``x ~ N(0, I)`` a Gaussian (mean-field without ``L``); ``lambda = 0,
    gamma = 1`` the non-centred form, ``y = f + g (a + exp(s) x + L x)``. With
    ``gamma = 1 - lambda`` one layer is VIP exactly [2]: ``z_tilde = a + exp(s) x + L x``
    is VIP's variational Gaussian over the auxiliary variable, full-rank (or,
    ``L = 0``, mean-field), and ``z = f + g^(1 - lambda) (z_tilde - lambda f)`` its
    map back to the model's variable. That is Ko & Domke's reading [1] of VIP as
    an affine forward autoregressive flow, with a translation term and the
    prior's parameters as inputs, in the hierarchical order; ``lambda`` and
    ``gamma`` apart, and layers stacked, generalise it. All parameters are
    unconstrained.

    Drawing is sequential over the groups (eight schools: three steps);
    ``log|det dy/dx| = sum_i (gamma_i log g_i + s_i)`` (triangular Jacobian in the
    hierarchical order); the inverse is analytic (``mif_inverse_step``). The
    prior's log scale enters unbounded: ``exp(log tau)`` must reach the funnel's
    neck.

    Args:
      shift: ``a``, shape ``[..., D]``.
      log_scale: ``s``, shape ``[..., D]``.
      lam: ``lambda``, shape ``[..., D]``.
      gamma: ``gamma``, shape ``[..., D]``.
      prior: ``y [..., D] -> (loc, log_scale)``, each ``[..., D]``: the conditional
        priors of the coordinates given the earlier groups of ``y``.
      group_sizes: the groups' sizes in order, summing to ``D``.
      tril: optional ``L``, shape ``[..., D, D]``.
    """ + _REFERENCES

    _coefficients = staticmethod(mif_coefficients)
    _step = staticmethod(mif_step)
    _inverse_step = staticmethod(mif_inverse_step)

    def __init__(self, shift, log_scale, lam, gamma, prior, group_sizes, tril=None, validate_args=False,
                 name="model_informed"):
        group_sizes = _check_settings(prior, group_sizes, _event_size(shift), type(self).__name__)
        super().__init__(dict(shift=shift, log_scale=log_scale, lam=lam, gamma=gamma, tril=tril), validate_args,
                         name, settings=dict(prior=prior, group_sizes=group_sizes))

    @classmethod
    def _parameter_properties(cls, dtype):
        vector = tfp.util.ParameterProperties(event_ndims=1, default_constraining_bijector_fn=tfb.Identity)
        return dict(
            shift=vector, log_scale=vector, lam=vector, gamma=vector,
            tril=tfp.util.ParameterProperties(event_ndims=2, default_constraining_bijector_fn=tfb.Identity),
        )

    shift = _param("shift", "The translation ``a``.")
    log_scale = _param("log_scale", "The log scale ``s`` of the layer's input.")
    lam = _param("lam", "``lambda``: how much of the prior's location is taken out (1: centred, 0: non-centred).")
    gamma = _param("gamma", "``gamma``: the power of the prior's scale (0: centred, 1: non-centred).")
    tril = _param("tril", "``L``, read below its diagonal, or ``None``.")
    prior = _setting("prior", "``y -> (loc, log_scale)``: the conditional priors in the hierarchical order.")
    group_sizes = _setting("group_sizes", "The groups' (variables') sizes in the hierarchical order.")

    def _forward_and_ldj(self, x):
        return mif_step(x, mif_coefficients(**self._tensors()), **self._settings)

    def _inverse_and_ildj(self, y):
        return mif_inverse_step(y, mif_coefficients(**self._tensors()), **self._settings)


class ModelInformedStack(_AnalyticInverse, _LayerStack):
    __doc__ = """``K`` model-informed layers in one bijector: ``shift, log_scale, lam, gamma`` are ``[..., K, D]``,
    ``tril`` (optional) ``[..., K, D, D]``.

    Layer ``k`` is ``ModelInformed`` with the parameters of index ``k`` on the layer
    axis; every layer reads the priors at its own outputs, so a later layer
    non-centres the values that the earlier ones drew. The inverse runs the
    analytic layer inverses from the last layer to the first.
    """ + _REFERENCES

    _layer_class = ModelInformed
    shift, log_scale, lam, gamma, tril = (ModelInformed.shift, ModelInformed.log_scale, ModelInformed.lam,
                                          ModelInformed.gamma, ModelInformed.tril)
    prior, group_sizes = ModelInformed.prior, ModelInformed.group_sizes

    def __init__(self, shift, log_scale, lam, gamma, prior, group_sizes, tril=None, validate_args=False,
                 name="model_informed_stack"):
        group_sizes = _check_settings(prior, group_sizes, _event_size(shift), type(self).__name__)
        super().__init__(dict(shift=shift, log_scale=log_scale, lam=lam, gamma=gamma, tril=tril), validate_args,
                         name, settings=dict(prior=prior, group_sizes=group_sizes))

    def _inverse_and_ildj(self, y):
        return self._run(y, mif_inverse_step, reverse=True)
