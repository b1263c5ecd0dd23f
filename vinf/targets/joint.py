"""A user's own model: a TFP ``JointDistribution`` as a flat, unconstrained ``Target``."""
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from vinf.targets._base import Target

tfd = tfp.distributions

__all__ = ["from_joint_distribution"]


def from_joint_distribution(model, **observed):
    """The posterior of ``model`` given ``observed`` values, as a target over R^dim.

    The latent variables (those not in ``observed``) are mapped to R^dim through
    the model's default event-space bijectors (``log`` for a positive scale,
    as ADVI does, Kucukelbir et al. 2017), and the log-Jacobian of that map is
    added, so ``exp(log_prob)`` integrates to ``p(observed)``:
    ``log_prob(z) = log p(T(z), observed) + log|det dT/dz|``.

    Coordinates are named from the model, ``"mu"``, ``"tau"``, ``"theta[0]"`` ... (the
    unconstrained coordinate of ``tau`` is named ``tau``); ``target.constrain(z)``
    returns ``{name: value}`` in the model's constrained space.

    Args:
      model: a ``tfd.JointDistribution*`` (named, sequential or coroutine).
      **observed: values of the observed variables, by name.

    Raises:
      ValueError: ``model`` is not a JointDistribution, a name is not the
        model's, nothing is left latent, or a latent variable is discrete.
    """
    if not isinstance(model, tfd.JointDistribution):
        raise ValueError(f"model must be a tfd.JointDistribution, got {type(model).__name__}")
    try:
        pinned = model.experimental_pin(**observed)
    except (ValueError, TypeError) as err:
        raise ValueError(f"observed values do not fit the model: {err}") from err
    latent = _flatten_with_names(pinned.dtype)
    if not latent:
        raise ValueError("every variable of the model is observed: nothing is left to infer")
    distributions, _ = model.sample_distributions(seed=(0, 0), **observed)
    discrete = [  # no map from R^n onto their support
        name for name, d in _flatten_with_names(distributions)
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
    shapes = _flatten_with_names(unconstrained)
    if any(not shape.is_fully_defined() for _, shape in shapes):
        raise ValueError(f"every latent variable needs a static event shape, got {dict(shapes)}")
    sizes = [int(np.prod(shape.as_list())) for _, shape in shapes]
    names = [label for (path, shape) in shapes for label in _labels(path, shape.as_list())]

    def unflatten(z):
        parts = tf.split(z, sizes, axis=-1)
        parts = [tf.reshape(p, tf.concat([tf.shape(p)[:-1], shape], axis=0)) for p, (_, shape) in zip(parts, shapes)]
        return tf.nest.pack_sequence_as(unconstrained, parts)

    def log_prob(z):
        x_unconstrained = unflatten(z)
        x = bijector.forward(x_unconstrained)
        return pinned.unnormalized_log_prob(x) + bijector.forward_log_det_jacobian(x_unconstrained)

    def constrain(z):
        x = bijector.forward(unflatten(tf.constant(z, dtype=dtype)))
        return {path: value.numpy() for path, value in _flatten_with_names(x)}

    return Target(model.name or "joint_distribution", log_prob, names, constrain=constrain, dtype=dtype)


def _flatten_with_names(structure):
    """``[(name, value)]`` of a JointDistribution's structure, in ``tf.nest.flatten`` order:
    a dict's sorted keys, a named tuple's fields, a list's positions."""
    if isinstance(structure, dict):
        names = sorted(structure)
    elif hasattr(structure, "_fields"):
        names = list(structure._fields)
    else:
        names = [str(i) for i in range(len(structure))]
    return list(zip(names, tf.nest.flatten(structure)))


def _labels(path, shape):
    """``"mu"`` for a scalar, ``"theta[0]"`` ... for a vector, ``"L[0,1]"`` ... beyond."""
    if not shape:
        return [path]
    return [f"{path}[{','.join(map(str, index))}]" for index in np.ndindex(*shape)]
