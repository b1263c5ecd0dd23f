"""The Inference Gym's models as flat, unconstrained ``Target``s, with their ground truth attached.

The Inference Gym (Sountsov, Radul & Vasudevan 2020) is a set of posteriors and
test densities, each with the mean and standard deviation of its variables
computed analytically or from long MCMC runs. ``from_inference_gym(model)``
turns any of its TensorFlow models into a ``vinf`` target;
``from_inference_gym(name, **kwargs)`` first builds one of the models that need
no download (``gym_names()``). It needs the ``gym`` extra
(``pip install -e ".[gym]"``); ``vinf`` itself imports without it.

The models that build offline with inference-gym 0.0.5 and TFP 0.25 (the
German-credit and radon models need TensorFlow Datasets downloads and are left
out), built by name with their defaults: dim counts the unconstrained
coordinates; ground truth lists the moments of the ``identity`` transformation
the gym gives (no model of 0.0.5 gives the standard error of its sd); log Z is
known for the models that are normalised densities, and computed by quadrature
for the eight schools. A Bayesian model whose prior is a ``JointDistribution``
(eight schools, the models with unknown scales, stochastic volatility, item
response, the Cox process) also gets the ``Hierarchy`` a model-informed flow
reads (``vinf.surrogates.get("mif", target.dim, target=target)``), and so does
Neal's funnel, from its definition.

===================================================  ====  =================  ==========
model                                                dim   ground truth       log Z
===================================================  ====  =================  ==========
Banana                                                  2  mean, sd           0
BrownianMotionMissingMiddleObservations                30  mean, sd, mean_se  -
BrownianMotionUnknownScalesMissingMiddleObservations   32  mean, sd, mean_se  -
ConvectionLorenzBridge                                 90  mean, sd, mean_se  -
ConvectionLorenzBridgeUnknownScales                    92  mean, sd, mean_se  -
EightSchools                                           10  mean, sd, mean_se  quadrature
IllConditionedGaussian                                100  mean, sd           0
NealsFunnel                                            10  mean, sd           0
NonIdentifiableQuarticMeasurementModel                  2  mean               -
StochasticVolatilitySP500                            2519  mean, sd, mean_se  -
StochasticVolatilitySP500Small                        103  mean, sd, mean_se  -
SyntheticItemResponseTheory                           501  mean, sd, mean_se  -
SyntheticLogGaussianCoxProcess (float64)              102  mean, sd, mean_se  -
SyntheticPlasmaSpectroscopy                            49  none               -
SyntheticPlasmaSpectroscopyWithBump                    49  none               -
VectorizedStochasticVolatilityLogSP500               2519  mean, sd, mean_se  -
VectorizedStochasticVolatilityLogSP500Small           103  mean, sd, mean_se  -
VectorizedStochasticVolatilitySP500                  2519  mean, sd, mean_se  -
VectorizedStochasticVolatilitySP500Small              103  mean, sd, mean_se  -
===================================================  ====  =================  ==========

Built by name, the Brownian-motion, Lorenz-bridge and stochastic-volatility
models take ``use_markov_chain=True`` (the same density; with the gym's
default, one variable per time step, ``StochasticVolatilitySP500Small`` takes
~12 s to build and ~20 s per eager evaluation); a keyword passed by the caller
overrides it. Most models evaluate 500 points in milliseconds once compiled;
the plasma-spectroscopy models take 1-6 s, and on a CPU XLA slows the
Cholesky-based ones (the log-Gaussian Cox process, the ill-conditioned
Gaussian) 30-fold: fit them with ``vinf.fit(..., jit_compile=False)``.

#### References

[1] Pavel Sountsov, Alexey Radul and Srinivas Vasudevan. Inference Gym, 2020.
    https://pypi.org/project/inference_gym
"""
import dataclasses
import functools
from typing import Callable, Optional

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from vinf._registry import Registry
from vinf.targets._base import Target
from vinf.targets.joint import Hierarchy, coordinate_labels, flatten_with_names, hierarchy
from vinf.targets.schools import quadrature_log_evidence

tfb, tfd = tfp.bijectors, tfp.distributions

__all__ = ["from_inference_gym", "gym_names", "GroundTruth", "INSTALL_GYM"]

INSTALL_GYM = 'pip install -e ".[gym]"'

# The models of the module docstring's table: name -> constructor keywords the registry passes by default.
_MARKOV_CHAIN = {"use_markov_chain": True}
_OFFLINE_DEFAULTS = {
    "Banana": {},
    "BrownianMotionMissingMiddleObservations": _MARKOV_CHAIN,
    "BrownianMotionUnknownScalesMissingMiddleObservations": _MARKOV_CHAIN,
    "ConvectionLorenzBridge": _MARKOV_CHAIN,
    "ConvectionLorenzBridgeUnknownScales": _MARKOV_CHAIN,
    "EightSchools": {},
    "IllConditionedGaussian": {},
    "NealsFunnel": {},
    "NonIdentifiableQuarticMeasurementModel": {},
    "StochasticVolatilitySP500": _MARKOV_CHAIN,
    "StochasticVolatilitySP500Small": _MARKOV_CHAIN,
    "SyntheticItemResponseTheory": {},
    "SyntheticLogGaussianCoxProcess": {},
    "SyntheticPlasmaSpectroscopy": {},
    "SyntheticPlasmaSpectroscopyWithBump": {},
    "VectorizedStochasticVolatilityLogSP500": {},
    "VectorizedStochasticVolatilityLogSP500Small": {},
    "VectorizedStochasticVolatilitySP500": {},
    "VectorizedStochasticVolatilitySP500Small": {},
}


def _gym_eight_schools_log_evidence():
    """The gym's eight schools (Table I's data; ``avg_effect ~ N(0, 10)``, ``log_stddev ~ N(5, 1)``, both
    unconstrained as they are): ``log Z`` by the quadrature of ``vinf.targets.quadrature_log_evidence``."""
    def log_normal(x, loc, scale):
        return -0.5 * ((x - loc) / scale) ** 2 - np.log(scale) - 0.5 * np.log(2 * np.pi)

    return quadrature_log_evidence(8, lambda mu, log_sd: log_normal(mu, 0.0, 10.0) + log_normal(log_sd, 5.0, 1.0))


def _funnel_hierarchy(model, dtype):
    """Neal's funnel as the gym writes it (its ``NealsFunnel`` docstring), a hierarchy of two variables:
    ``x[0] ~ N(0, 3)``, then ``x[i] ~ N(0, exp(x[0] / 2))`` for the other coordinates."""
    dim = int(model.event_shape[0])

    def prior(z):
        z = tf.convert_to_tensor(z, dtype=dtype)
        ones = tf.ones_like(z[..., 1:])
        log_scale = tf.concat([tf.fill(tf.shape(z[..., :1]), tf.constant(np.log(3.0), dtype)), z[..., :1] / 2 * ones],
                              axis=-1)
        return tf.zeros_like(z), log_scale

    return Hierarchy(variables=("x[0]", "x[1:]"), sizes=(1, dim - 1), order=np.arange(dim), prior=prior, dtype=dtype)


# The hierarchies of the gym's test densities that are not Bayesian models, written from their definitions.
_HIERARCHIES = {"NealsFunnel": _funnel_hierarchy}

# log Z by model: 0 where unnormalized_log_prob is a tfd distribution's log_prob (see their sources), else computed.
_LOG_EVIDENCE = {
    "Banana": lambda: 0.0,
    "IllConditionedGaussian": lambda: 0.0,
    "NealsFunnel": lambda: 0.0,
    "EightSchools": _gym_eight_schools_log_evidence,
}

_OFFLINE = Registry("offline Inference Gym model", sort=True)
gym_names = _OFFLINE.names  # the models that build without a download, by their gym class names


def _build(name, defaults, **kwargs):
    model_class = getattr(_inference_gym().targets, name)
    try:
        return model_class(**{**defaults, **kwargs})
    except TypeError as err:  # an unknown keyword
        raise ValueError(f"Inference Gym model {name} does not take {sorted(kwargs)}: {err}") from err


for _name, _defaults in _OFFLINE_DEFAULTS.items():
    _OFFLINE.register(_name)(functools.partial(_build, _name, _defaults))


@dataclasses.dataclass(frozen=True)
class GroundTruth:
    """The gym's posterior moments of its ``identity`` transformation, flattened.

    The gym states them in the model's constrained space. Where the identity
    transformation returns the model's own variables (most models), ``names`` are
    the labels of ``target.constrain(z)``'s values in its order (each variable
    raveled; a dict's keys sorted, a named tuple's fields in turn, as
    ``tf.nest.flatten`` orders them); a few models return other quantities
    (the vectorized stochastic-volatility models give ``log_volatility`` for
    their non-centred ``std_log_volatility``), and ``transform`` maps draws to
    them in every case.

    Attributes:
      names: one label per entry, ``"school_effects[0]"`` style.
      mean, sd: ground-truth mean and standard deviation, ``[len(names)]``, or ``None``.
      mean_se, sd_se: their Monte-Carlo standard errors, or ``None`` (exact values have none).
      transform: unconstrained ``z [..., dim]`` -> ``[..., len(names)]`` (NumPy),
        the quantities the moments describe.
    """

    names: tuple
    mean: Optional[np.ndarray]
    sd: Optional[np.ndarray]
    mean_se: Optional[np.ndarray]
    sd_se: Optional[np.ndarray]
    transform: Callable = dataclasses.field(repr=False, compare=False)


def from_inference_gym(model, **kwargs):
    """An Inference Gym model as a target over unconstrained ``z`` in R^dim.

    With ``b`` the model's ``default_event_space_bijector`` (after
    ``VectorModel`` has flattened a structured event), the target is ADVI's
    unconstrained density (Kucukelbir et al. 2017):
    ``log_prob(z) = model.unnormalized_log_prob(b(z)) + log|det db/dz|``.
    Coordinates are named from the model's structure (``"avg_effect"``,
    ``"school_effects[0]"`` ...; ``"x[0]"`` ... for a model over one vector);
    ``target.constrain(z)`` returns the model's variables by name;
    ``target.ground_truth`` holds the gym's moments (``GroundTruth``, or
    ``None`` when it has none); ``target.log_evidence()`` is 0 for the models
    that are normalised densities (Banana, IllConditionedGaussian, NealsFunnel).

    Args:
      model: an ``inference_gym.using_tensorflow.targets.Model``, or the name
        of one of ``gym_names()``.
      **kwargs: constructor keywords of the model named (e.g. ``ndims=2``).

    Raises:
      ImportError: inference-gym is not installed (naming the install command).
      ValueError: an unknown name, keywords beside a model instance, not an
        Inference Gym model, or an event the gym's ``VectorModel`` cannot flatten.

    #### Example

    ```python
    target = vinf.targets.from_inference_gym("NealsFunnel", ndims=2)
    target.log_evidence()        # 0.0
    target.ground_truth.sd       # [3., 9.49]
    ```
    """
    gym = _inference_gym()
    if isinstance(model, str):
        model = _OFFLINE.factory(model)(**kwargs)
    elif kwargs:
        raise ValueError(f"keywords {sorted(kwargs)} build a model by name; got a model instance already built")
    if not isinstance(model, gym.targets.Model):
        raise ValueError(
            f"model must be an inference_gym.using_tensorflow.targets.Model or one of: {', '.join(gym_names())}; "
            f"got {type(model).__name__}"
        )
    vector = model if _is_vector(model) else _vector_model(gym, model)
    if not vector.event_shape.is_fully_defined():
        raise ValueError(f"Inference Gym model {model} needs a static event shape, got {vector.event_shape}")
    bijector = vector.default_event_space_bijector
    dtype = tf.as_dtype(vector.dtype)
    unconstrained = tf.nest.map_structure(
        lambda b, shape: b.inverse_event_shape(shape), model.default_event_space_bijector, model.event_shape
    )
    names = [label for path, shape in flatten_with_names(unconstrained) for label in coordinate_labels(path, shape.as_list())]

    def log_prob(z):
        return vector.unnormalized_log_prob(bijector.forward(z)) + bijector.forward_log_det_jacobian(z, event_ndims=1)

    def constrained(z):
        """The model's own (structured) values at unconstrained NumPy ``z``."""
        x = bijector.forward(tf.constant(z, dtype=dtype))
        return x if vector is model else vector.vector_event_to_structured(x)

    def constrain(z):
        return {path: value.numpy() for path, value in flatten_with_names(constrained(z))}

    innermost = model
    while isinstance(innermost, gym.targets.VectorModel):
        innermost = innermost.model
    kind = type(innermost).__name__
    gym_class = getattr(gym.targets, kind, None) is type(innermost)  # not a subclass of the caller's
    log_evidence = _LOG_EVIDENCE.get(kind) if gym_class else None
    own_hierarchy = _HIERARCHIES.get(kind) if gym_class and model is innermost else None
    return Target(
        f"gym:{type(innermost).__name__}", log_prob, names, constrain=constrain, dtype=dtype,
        log_evidence_fn=log_evidence,
        ground_truth=_ground_truth(model, constrained),
        hierarchy=own_hierarchy(model, dtype) if own_hierarchy else _hierarchy(gym, model, unconstrained, dtype),
    )


def _hierarchy(gym, model, unconstrained, dtype):
    """The ``Hierarchy`` (what ``vinf.surrogates.get("mif", ...)`` reads) of a Bayesian model whose prior is a
    ``tfd.JointDistribution`` over the model's own variables; ``None`` for any other model (a test density, a
    prior of one variable such as a Markov chain, a model already flattened by ``VectorModel``)."""
    if not isinstance(model, gym.targets.BayesianModel) or isinstance(model, gym.targets.VectorModel):
        return None
    prior = model.prior_distribution()
    if not isinstance(prior, tfd.JointDistribution):
        return None
    bijectors = model.default_event_space_bijector
    bijector = tfb.JointMap(bijectors) if tf.nest.is_nested(bijectors) else bijectors
    return hierarchy(prior, bijector, unconstrained, dtype)


def _inference_gym():
    """``inference_gym.using_tensorflow``, or an ImportError saying how to install it."""
    try:
        from inference_gym import using_tensorflow
    except ImportError as err:
        raise ImportError(
            f"vinf.targets.from_inference_gym needs the Inference Gym (inference-gym 0.0.5): {INSTALL_GYM}"
        ) from err
    return using_tensorflow


def _is_vector(model):
    return not tf.nest.is_nested(model.dtype) and model.event_shape.rank == 1


def _vector_model(gym, model):
    """The gym's own flattening of a structured (or scalar) event into one vector."""
    try:
        return gym.targets.VectorModel(model)
    except (TypeError, ValueError) as err:  # several dtypes, or a bijector not one per variable
        raise ValueError(f"the Inference Gym's VectorModel cannot flatten model {model}: {err}") from err


def _ground_truth(model, constrained):
    """``GroundTruth`` of the model's ``identity`` transformation, or ``None`` when the gym gives no mean."""
    identity = model.sample_transformations.get("identity")
    if identity is None or identity.ground_truth_mean is None:
        return None
    parts = flatten_with_names(identity.ground_truth_mean)
    names = tuple(label for path, value in parts for label in coordinate_labels(path, list(np.shape(value))))

    def flat(moment):
        if moment is None:
            return None
        return np.concatenate([np.ravel(value) for _, value in flatten_with_names(moment)]).astype(np.float64)

    def transform(z):
        z = np.asarray(z)
        values = flatten_with_names(identity(constrained(z)))
        return np.concatenate([np.reshape(np.asarray(v), z.shape[:-1] + (-1,)) for _, v in values], axis=-1)

    return GroundTruth(
        names=names, mean=flat(identity.ground_truth_mean), sd=flat(identity.ground_truth_standard_deviation),
        mean_se=flat(identity.ground_truth_mean_standard_error),
        sd_se=flat(identity.ground_truth_standard_deviation_standard_error), transform=transform,
    )
