"""A user's own model: a TFP ``JointDistribution`` as a flat, unconstrained ``Target``, with its ``Hierarchy``."""
import collections.abc
import dataclasses
import typing

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from vinf.targets._base import Target

tfd = tfp.distributions

__all__ = ["from_joint_distribution", "Hierarchy", "hierarchy", "unflattener", "LOCATION_SCALE_FAMILIES"]

# Real-line families y = loc + scale * eps: their loc and log scale are a child's prior inputs (Hierarchy.prior).
LOCATION_SCALE_FAMILIES = (tfd.Normal, tfd.Cauchy, tfd.StudentT, tfd.Laplace, tfd.Logistic)


@dataclasses.dataclass(frozen=True, eq=False)
class Hierarchy:
    """A target's latent variables in its model's hierarchical order, with each one's conditional prior:
    what a model-informed flow (``vinf.surrogates.get("mif", ...)``) reads.

    Attributes:
      variables: the latent variables, named as in ``target.names`` (``"theta"`` for
        ``theta[0]`` ...), in the model's own topological order (the
        JointDistribution's: every variable after its parents, hyperparameters first).
        ``target.names`` follow ``tf.nest.flatten`` order instead (sorted names for a
        ``JointDistributionNamed``).
      sizes: each variable's number of unconstrained coordinates, in that order.
      order: the permutation between the two: ``order[k]`` is the target coordinate
        that comes ``k``-th in the hierarchical order (``z[..., order]`` lists a
        point's coordinates hyperparameters first; ``np.argsort(order)`` goes back).
      prior: ``z [..., dim] -> (loc, log_scale)``, both ``[..., dim]`` in target
        order: for every coordinate, the location and log scale of its variable's
        conditional prior given the values in ``z`` of the variables before it, in
        the unconstrained coordinates the target uses. A child whose prior is a
        location-scale family of the real line (``LOCATION_SCALE_FAMILIES``, also
        inside ``tfd.Sample`` or ``tfd.Independent``, e.g. ``theta ~ N(mu, tau)``)
        has its ``loc`` and ``log scale`` there (its unconstrained coordinate is the
        variable itself). Any other variable (``tau ~ HalfCauchy(0, 5)``, mapped by
        ``log``) has the constant inputs ``(0, 0)``: no model information, so a
        flow treats it as a free coordinate. Values of later variables in ``z`` are
        ignored. Computes in ``dtype``.
      dtype: the model's float type.
    """

    variables: tuple
    sizes: tuple
    order: np.ndarray
    prior: typing.Callable
    dtype: tf.DType


def from_joint_distribution(model, **observed):
    """The posterior of ``model`` given ``observed`` values, as a target over R^dim.

    The latent variables (those not in ``observed``) are mapped to R^dim through
    the model's default event-space bijectors (``log`` for a positive scale,
    as ADVI does, Kucukelbir et al. 2017), and the log-Jacobian of that map is
    added, so ``exp(log_prob)`` integrates to ``p(observed)``:
    ``log_prob(z) = log p(T(z), observed) + log|det dT/dz|``.

    Coordinates are named from the model, ``"mu"``, ``"tau"``, ``"theta[0]"`` ... (the
    unconstrained coordinate of ``tau`` is named ``tau``), in ``tf.nest.flatten``
    order (sorted names for a ``JointDistributionNamed``); ``target.constrain(z)``
    returns ``{name: value}`` in the model's constrained space. ``target.hierarchy``
    (a ``Hierarchy``) lists the variables in the model's own order instead, with
    each one's conditional prior: what the ``mif`` surrogate family reads.

    Args:
      model: a ``tfd.JointDistribution*`` (named, sequential or coroutine).
      **observed: values of the observed variables, by name; none makes the
        target the model's prior.

    Raises:
      ValueError: ``model`` is not a JointDistribution, a name is not the
        model's, nothing is left latent, or a latent variable is discrete.
    """
    if not isinstance(model, tfd.JointDistribution):
        raise ValueError(f"model must be a tfd.JointDistribution, got {type(model).__name__}")
    try:  # nothing observed: the target is the prior itself
        pinned = model.experimental_pin(**observed) if observed else model
    except (ValueError, TypeError) as err:
        raise ValueError(f"observed values do not fit the model: {err}") from err
    latent = flatten_with_names(pinned.dtype)
    if not latent:
        raise ValueError("every variable of the model is observed: nothing is left to infer")
    distributions, _ = model.sample_distributions(seed=(0, 0), **observed)
    discrete = [  # no map from R^n onto their support
        name for name, d in flatten_with_names(distributions)
        if name not in observed and d.experimental_default_event_space_bijector() is None
    ]
    if discrete:
        raise ValueError(
            f"latent variables {discrete} are discrete; vinf fits continuous latents only: observe them "
            "or marginalise them out of the model"
        )
    dtype = tf.as_dtype(latent[0][1])
    bijector = pinned.experimental_default_event_space_bijector()
    unconstrained = bijector.inverse_event_shape(pinned.event_shape)
    shapes = flatten_with_names(unconstrained)
    if any(not shape.is_fully_defined() for _, shape in shapes):
        raise ValueError(f"every latent variable needs a static event shape, got {dict(shapes)}")
    names = [label for (path, shape) in shapes for label in coordinate_labels(path, shape.as_list())]
    unflatten = unflattener(unconstrained)

    def log_prob(z):
        x_unconstrained = unflatten(z)
        x = bijector.forward(x_unconstrained)
        return pinned.unnormalized_log_prob(x) + bijector.forward_log_det_jacobian(x_unconstrained)

    def constrain(z):
        x = bijector.forward(unflatten(tf.constant(z, dtype=dtype)))
        return {path: value.numpy() for path, value in flatten_with_names(x)}

    return Target(model.name or "joint_distribution", log_prob, names, constrain=constrain, dtype=dtype,
                  hierarchy=hierarchy(model, bijector, unconstrained, dtype, observed))


def unflattener(unconstrained):
    """``z [..., dim] -> structure``: a flat point split into the parts of ``unconstrained`` (a structure of
    static event shapes, in ``tf.nest.flatten`` order), each reshaped to its own shape."""
    shapes = [shape for _, shape in flatten_with_names(unconstrained)]
    sizes = [int(np.prod(shape.as_list())) for shape in shapes]

    def unflatten(z):
        parts = tf.split(z, sizes, axis=-1)
        parts = [tf.reshape(p, tf.concat([tf.shape(p)[:-1], shape], axis=0)) for p, shape in zip(parts, shapes)]
        return tf.nest.pack_sequence_as(unconstrained, parts)

    return unflatten


def _model_order(model):
    """Every variable's name, in the model's own order."""
    if hasattr(model, "resolve_graph"):  # JointDistributionNamed and Sequential (and their auto-batched forms)
        return [name for name, _ in model.resolve_graph()]
    return [name for name, _ in flatten_with_names(model.dtype)]  # a coroutine's structure is its own order


def hierarchy(model, bijector, unconstrained, dtype, observed=None):
    """The ``Hierarchy`` of a target over the latents of ``model`` (a ``tfd.JointDistribution``) given
    ``observed`` values: ``bijector`` maps the unconstrained parts (shapes ``unconstrained``, a structure whose
    ``tf.nest.flatten`` order is the target's coordinates') to the latents' values, as the model names them."""
    observed = observed or {}
    shapes = flatten_with_names(unconstrained)
    sizes = [int(np.prod(shape.as_list())) for _, shape in shapes]
    unflatten = unflattener(unconstrained)
    model_names = _model_order(model)
    latent_names = [name for name in model_names if name not in observed]
    paths = [path for path, _ in shapes]
    # A sequential model's latents are named by position among them ("0", "1", ...), in the model's order.
    positional = paths == [str(i) for i in range(len(paths))]
    model_name = dict(zip(paths, latent_names)) if positional else {path: path for path in paths}
    rank = {name: i for i, name in enumerate(model_names)}
    hierarchical = sorted(range(len(paths)), key=lambda v: rank[model_name[paths[v]]])
    starts = np.cumsum([0] + sizes)
    order = np.concatenate([np.arange(starts[v], starts[v + 1]) for v in hierarchical])

    def prior(z):
        z = tf.convert_to_tensor(z, dtype=dtype)
        values = bijector.forward(unflatten(z))
        given = dict(observed, **{model_name[path]: value for path, value in flatten_with_names(values)})
        value = given if isinstance(model.dtype, dict) else [given[name] for name in model_names]
        # Every value is given, so nothing is drawn: the seed only keeps the call stateless.
        distributions, _ = model.sample_distributions(seed=(0, 0), value=value)
        by_name = _by_name(distributions, model_names)
        batch = tf.shape(z)[:-1]
        locs, log_scales = [], []
        for (path, shape), size in zip(shapes, sizes):
            full = tf.concat([batch, shape], axis=0)
            flat = tf.concat([batch, [size]], axis=0)
            loc_scale = _location_scale(by_name[model_name[path]])
            if loc_scale is None:
                locs.append(tf.zeros(flat, dtype=dtype))
                log_scales.append(tf.zeros(flat, dtype=dtype))
                continue
            loc, scale = (tf.reshape(tf.broadcast_to(t, full), flat) for t in loc_scale)
            locs.append(loc)
            log_scales.append(tf.math.log(scale))
        return tf.concat(locs, axis=-1), tf.concat(log_scales, axis=-1)

    return Hierarchy(
        variables=tuple(paths[v] for v in hierarchical),
        sizes=tuple(sizes[v] for v in hierarchical),
        order=order,
        prior=prior,
        dtype=dtype,
    )


def _by_name(structure, model_names):
    """``{name: part}`` of a structure that ``sample_distributions`` returns."""
    if isinstance(structure, dict):
        return structure
    if hasattr(structure, "_asdict"):
        return structure._asdict()
    return dict(zip(model_names, structure))


def _location_scale(d):
    """``(loc, scale)`` of a location-scale prior, shaped to broadcast to ``[*batch, *event]`` of ``d``;
    ``None`` for any other distribution."""
    if isinstance(d, LOCATION_SCALE_FAMILIES):
        return d.loc, d.scale
    if isinstance(d, tfd.Independent):  # its event axes are the inner batch's last axes: no reshaping
        return _location_scale(d.distribution)
    if isinstance(d, tfd.Sample):  # the draws' axes sit between the inner batch and the inner event
        inner, new_axes = _location_scale(d.distribution), d.sample_shape.shape.num_elements()
        event_rank = d.distribution.event_shape.rank
        if inner is None or new_axes is None or event_rank is None:
            return None
        full = tf.concat([d.distribution.batch_shape_tensor(), d.distribution.event_shape_tensor()], axis=0)
        split = tf.size(full) - event_rank
        shape = tf.concat([full[:split], tf.ones([new_axes], full.dtype), full[split:]], axis=0)
        return tuple(tf.reshape(tf.broadcast_to(t, full), shape) for t in inner)
    return None


def flatten_with_names(structure, prefix=None):
    """``[(name, part)]`` of a model's value, dtype or shape, in ``tf.nest.flatten`` order (a mapping's sorted
    keys, a named tuple's fields, a list's positions): a part's name is its key or field, joined by dots inside
    a nested structure (``"log_volatility.x_000001"``), ``"x"`` for a single tensor."""
    if not tf.nest.is_nested(structure):
        return [(prefix or "x", structure)]
    if isinstance(structure, collections.abc.Mapping):
        children = [(str(key), structure[key]) for key in sorted(structure)]
    elif hasattr(structure, "_fields"):
        children = [(field, getattr(structure, field)) for field in structure._fields]
    else:
        children = [(str(i), child) for i, child in enumerate(structure)]
    return [part for name, child in children
            for part in flatten_with_names(child, name if prefix is None else f"{prefix}.{name}")]


def coordinate_labels(path, shape):
    """``"mu"`` for a scalar, ``"theta[0]"`` ... for a vector, ``"L[0,1]"`` ... beyond."""
    if not shape:
        return [path]
    return [f"{path}[{','.join(map(str, index))}]" for index in np.ndindex(*shape)]
