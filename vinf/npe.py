"""Amortised inference: neural posterior estimation (NPE) with a conditional masked autoregressive flow.

Seed 001 ("Amortized variational inference"): instead of one fit per data set,
learn one map from data ``y`` to an approximate posterior ``q(z | y)`` by
minimising the expected forward KL over the model's prior predictive,

    E_{p(y)}[KL(p(z | y) || q(z | y))] = -E_{p(z, y)}[log q(z | y)] + const,

which needs only draws ``z ~ p(z)``, ``y ~ p(y | z)`` (Papamakarios & Murray
2016; Lueckmann et al. 2017; Greenberg et al. 2019). Once trained, ``q(. | y)``
at any ``y`` costs one network pass.

The pieces:

- ``prior_predictive_sampler(model, observed="y")``: draws ``(z, y)`` from a TFP
  ``JointDistribution``, ``z`` the latents in the unconstrained coordinates of
  ``vinf.targets.from_joint_distribution(model, y=...)`` (same order, same
  transforms), so ``q(. | y_obs)`` is scored against that target like any
  surrogate; ``eight_schools_sampler`` puts ``z`` in the order of
  ``vinf.targets.eight_schools`` (``theta[0..7], mu, log_tau``).
- ``ConditionalMAF``: ``q(z | y)``, a masked autoregressive flow (Papamakarios
  et al. 2017) whose every layer's MADE network also sees ``y``; evaluating
  ``log q(z | y)``, which the NPE objective needs, is one pass per layer.
  ``conditional_maf(sampler)`` builds one sized for a sampler, ``y`` and ``z``
  standardised by fixed affine maps from prior-predictive medians and
  interquartile ranges, ``y`` then squashed by ``asinh`` (heavy tails).
- ``train``: Adam on ``-mean log q(z | y)`` over fresh simulations every step.
- ``at_observation(q, y)``: ``q(. | y)`` as a ``tfd.Distribution``, so
  ``vinf.diagnostics.elbo`` and ``psis_khat`` score it as any surrogate.
- ``sbc_ranks``: simulation-based calibration (Talts et al. 2018).

#### References

Papamakarios, G. & Murray, I. (2016). Fast epsilon-free inference of simulation models with Bayesian
conditional density estimation. NeurIPS.

Papamakarios, G., Pavlakou, T. & Murray, I. (2017). Masked autoregressive flow for density estimation. NeurIPS.

Lueckmann, J.-M. et al. (2017). Flexible statistical inference for mechanistic models of neural dynamics. NeurIPS.

Greenberg, D., Nonnenmacher, M. & Macke, J. (2019). Automatic posterior transformation for likelihood-free
inference. ICML.

Talts, S., Betancourt, M., Simpson, D., Vehtari, A. & Gelman, A. (2018). Validating Bayesian inference
algorithms with simulation-based calibration. arXiv:1804.06788.
"""
import dataclasses
import sys
import time

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from scipy import stats
from tqdm.auto import tqdm

from vinf import _adam, _checks
from vinf.fit import CHUNK_STEPS
from vinf.networks import DenseNetwork, made_masks
from vinf.surrogates import Initialiser, ShiftAndLogScale
from vinf.targets import Target, eight_schools, eight_schools_model, from_joint_distribution
from vinf.targets.joint import flatten_with_names

tfb = tfp.bijectors
tfd = tfp.distributions

__all__ = [
    "PriorPredictive", "prior_predictive_sampler", "eight_schools_sampler",
    "ConditionalMAF", "conditional_maf", "robust_moments",
    "train", "TrainResult", "at_observation", "sbc_ranks", "SBCResult",
]

_IQR_TO_SD = 1.3489795  # the interquartile range of N(0, 1)
_STANDARDIZE_STREAM = 7  # the draws that fix the standardisation, apart from training's and SBC's
_SBC_STREAM = 11


def _seed_pair(seed):
    return tf.constant([_checks.seed(seed), 0], dtype=tf.int32)


# ------------------------------------------------------------------ the simulator


class PriorPredictive:
    """Draws ``(z, y) ~ p(z) p(y | z)``: ``sampler(num, seed) -> (z [num, dim], y [num, context_dim])``.

    ``seed`` is a stateless seed (a pair of integers or an int32 tensor of shape
    ``[2]``), so a draw can sit inside a compiled step. ``names`` label the
    coordinates of ``z``; ``target(y)`` is the posterior at ``y`` over the same
    coordinates, as a ``vinf.targets.Target`` (what ``q(. | y)`` approximates).

    Args:
      simulate: ``(num, seed) -> (z, y)`` in TensorFlow ops.
      names: one label per coordinate of ``z``.
      context_dim: the size of ``y``.
      target_fn: ``y -> Target`` of the posterior at ``y``, or ``None``.
      dtype: the float type of the draws.
      name: a label.
    """

    def __init__(self, simulate, names, context_dim, target_fn=None, dtype=tf.float32, name="prior_predictive"):
        if not callable(simulate):
            raise ValueError(f"simulate must be callable, got {type(simulate).__name__}")
        self._simulate = simulate
        self.names = tuple(names)
        self.dim = len(self.names)
        self.context_dim = _checks.integer(context_dim, "context_dim")
        self._target_fn = target_fn
        self.dtype = tf.as_dtype(dtype)
        self.name = name

    def __call__(self, num, seed):
        return self._simulate(num, seed)

    def __repr__(self):
        return f"PriorPredictive({self.name!r}, dim={self.dim}, context_dim={self.context_dim})"

    def target(self, y):
        """The posterior at the observation ``y`` (``[context_dim]``) as a ``Target`` over ``names``."""
        if self._target_fn is None:
            raise ValueError(f"sampler {self.name!r} was built without a posterior target")
        return self._target_fn(_context_vector(y, self.context_dim, self.dtype).numpy())


def prior_predictive_sampler(model, observed="y", order=None):
    """The prior predictive of a TFP ``JointDistribution``, latents unconstrained.

    ``z`` holds the latent variables (every variable but ``observed``) mapped to
    R^dim by each one's default event-space bijector (``log`` for a positive
    scale), flattened in the order of ``vinf.targets.from_joint_distribution(model,
    observed=...)``, whose names it carries (``"mu"``, ``"tau"``,
    ``"theta[0]"`` ...; the unconstrained coordinate of ``tau`` is named ``tau``);
    ``y`` is the observed variable flattened. ``order`` (a permutation of those
    names) reorders ``z``; ``target(y)`` follows the same order.

    Args:
      model: a ``tfd.JointDistribution*`` whose variables have static event shapes.
      observed: the name of the variable the flow conditions on.
      order: optional list of the latent names in the order wanted.

    Raises:
      ValueError: not a JointDistribution, ``observed`` not one of its
        variables, a discrete latent, or ``order`` not a permutation of the names.
    """
    if not isinstance(model, tfd.JointDistribution):
        raise ValueError(f"model must be a tfd.JointDistribution, got {type(model).__name__}")
    variables = dict(flatten_with_names(model.event_shape))
    if observed not in variables:
        raise ValueError(f"observed {observed!r} is not a variable of the model; its variables: {sorted(variables)}")
    y_shape = variables[observed]
    if not y_shape.is_fully_defined():
        raise ValueError(f"the observed variable {observed!r} needs a static event shape, got {y_shape}")
    dtype = tf.as_dtype(dict(flatten_with_names(model.dtype))[observed])
    template = from_joint_distribution(model, **{observed: np.zeros(y_shape.as_list(), dtype.as_numpy_dtype)})
    names = list(template.names)
    permutation = np.arange(len(names))
    if order is not None:
        order = list(order)
        if sorted(order) != sorted(names):
            raise ValueError(f"order must be a permutation of the latent names {names}, got {order}")
        permutation = np.array([names.index(label) for label in order])
    inverse = np.argsort(permutation)
    context_dim = int(np.prod(y_shape.as_list(), dtype=int))

    def simulate(num, seed):
        distributions, values = model.sample_distributions(num, seed=seed)
        distributions, values = dict(flatten_with_names(distributions)), dict(flatten_with_names(values))
        parts = []
        for name in values:  # the flatten order from_joint_distribution's names follow
            if name == observed:
                continue
            unconstrained = distributions[name].experimental_default_event_space_bijector().inverse(values[name])
            parts.append(tf.reshape(unconstrained, [num, -1]))
        z = tf.gather(tf.concat(parts, axis=-1), permutation, axis=-1)
        return z, tf.reshape(values[observed], [num, context_dim])

    def target_fn(y):
        joint = from_joint_distribution(model, **{observed: np.reshape(y, y_shape.as_list())})
        return Target(
            joint.name,
            lambda z: joint.log_prob(tf.gather(z, inverse, axis=-1)),
            [names[i] for i in permutation],
            constrain=lambda z: joint.constrain(np.take(z, inverse, axis=-1)),
            dtype=joint.dtype,
        )

    return PriorPredictive(simulate, [names[i] for i in permutation], context_dim, target_fn, dtype,
                           name=f"{model.name or 'model'}_prior_predictive")


def eight_schools_sampler(centered=True, num_schools=8):
    """The eight-schools prior predictive (``vinf.targets.eight_schools_model``, float64), ``z`` in the
    order and under the names of ``vinf.targets.eight_schools(centered, num_schools)``:
    ``theta[0..J-1]`` (or ``theta_tilde``), ``mu``, ``log_tau`` (``exp(log_tau) = tau``), ``y`` the
    ``J`` observed effects. ``target(y)`` is the true model's posterior at ``y``; at Table I's ``y``
    it equals ``eight_schools(centered, num_schools)``."""
    names = eight_schools(centered=centered, num_schools=num_schools).names
    order = ["tau" if label == "log_tau" else label for label in names]
    generic = prior_predictive_sampler(eight_schools_model(centered, num_schools), "y", order=order)

    def target_fn(y):
        target = generic.target(y)
        return Target(target.name, target.log_prob, names, constrain=target.constrain, dtype=target.dtype)

    label = "centered" if centered else "noncentered"
    return PriorPredictive(generic, names, num_schools, target_fn, generic.dtype,
                           name=f"eight_schools_{label}_J{num_schools}_prior_predictive")


# ------------------------------------------------------------------ the conditional flow


def robust_moments(x):
    """Per column of ``x [N, d]``: ``(median, IQR / 1.349)``, the mean and sd of a Gaussian, which
    exist for any distribution (the eight-schools prior predictive has Cauchy tails: no mean, no sd).
    A column of zero spread gets scale 1."""
    x = np.asarray(x, dtype=np.float64)
    low, median, high = np.percentile(x, [25.0, 50.0, 75.0], axis=0)
    scale = (high - low) / _IQR_TO_SD
    return median, np.where(scale > 0, scale, 1.0)


def _context_vector(y, context_dim, dtype):
    """``y`` as a tensor ``[..., context_dim]`` of ``dtype``; another last axis raises ``ValueError``."""
    y = tf.convert_to_tensor(y, dtype_hint=dtype)
    if y.shape.rank == 0 or y.shape[-1] != context_dim:
        raise ValueError(f"the context y must have {context_dim} values on its last axis, got shape {y.shape}")
    return tf.cast(y, dtype)


class _WithContext(tf.Module):
    """A network of ``[context, x]`` seen as a function of ``x`` alone, the context bound; context and
    ``x`` broadcast against each other over their leading axes."""

    def __init__(self, network, context):
        super().__init__(name="with_context")
        self.network, self.context = network, context

    def __call__(self, x):
        batch = tf.broadcast_dynamic_shape(tf.shape(x)[:-1], tf.shape(self.context)[:-1])
        context = tf.broadcast_to(self.context, tf.concat([batch, tf.shape(self.context)[-1:]], axis=0))
        x = tf.broadcast_to(x, tf.concat([batch, tf.shape(x)[-1:]], axis=0))
        return self.network(tf.concat([context, x], axis=-1))


class ConditionalMAF(tf.Module):
    """``q(z | y)``: a conditional masked autoregressive flow (Papamakarios et al. 2017, sections 3.3-3.4).

    ``z = m + s * (f_K o ... o f_1)(eps | y)``, ``eps ~ N(0, I)``, where layer ``k``
    maps ``x`` to ``u_i = x_i exp(a_i) + b_i``, with ``(b_i, a_i)`` from a MADE
    network of ``(c(y), u_<i)`` and ``a_i`` softly held in ``(-B, B)`` by
    ``B tanh(a / B)`` (``vinf.surrogates.LOG_SCALE_BOUND``); layers alternate
    the order of ``z``. Each network sees the context as the first ``context_dim``
    inputs of a MADE over ``(y, z)`` (``vinf.networks.made_masks``), which makes
    its outputs for ``z_i`` depend on all of ``y`` and on ``z_<i``: a conditional
    autoregressive model is the tail of an autoregressive model of ``(y, z)``.
    ``log q(z | y)`` inverts every layer in one pass; drawing takes ``dim`` passes.

    The networks see ``y`` standardised and squashed,
    ``c(y) = asinh((y - context_shift) / context_scale)``, and ``m``, ``s``
    (``latent_shift``, ``latent_scale``) are a fixed affine map to ``z``'s
    scale: all fixed at construction (``conditional_maf`` takes them from the
    prior predictive), not trained. A fresh flow is close to ``N(m, s^2)``
    whatever ``y``. ``asinh`` is the identity near zero and logarithmic in the
    tails, and one-to-one, so ``q`` loses nothing of ``y``; it keeps the
    networks' inputs of order one where the prior predictive has heavy tails.
    Eight schools' (Cauchy tails from ``tau``: 1 in 200 simulated data sets has
    an effect beyond 1000, some 60 standardised units) trained stably with it
    and not without (``squash_context=False``, the plain affine map): at Adam's
    ``3e-3`` the loss rose to ~1000 and the ELBO at Table I's ``y`` fell to
    -84, against -31.4 squashed (non-centered, 2000 steps of 256).

    Args:
      dim: the size of ``z``.
      context_dim: the size of ``y``.
      num_flows: the number of MAF layers ``K``.
      hidden_units: the MADE networks' hidden widths.
      activation: a ``tf.nn`` function's name.
      seed: seed of the initial weights (as ``vinf.surrogates``).
      dtype: the float type.
      context_shift, context_scale, latent_shift, latent_scale: scalars or
        vectors of the context's and ``z``'s sizes; defaults 0 and 1.
      squash_context: apply ``asinh`` to the standardised context (default).

    Example:
      >>> q = ConditionalMAF(dim=2, context_dim=2, num_flows=2, hidden_units=(16,))
      >>> z = q.sample(100, [0.5, -1.0], seed=(0, 1))  # [100, 2] at one y
      >>> q.log_prob(z, [0.5, -1.0])                   # [100]
    """

    def __init__(self, dim, context_dim, num_flows=4, hidden_units=(64, 64), activation="relu", seed=0,
                 dtype=tf.float32, context_shift=0.0, context_scale=1.0, latent_shift=0.0, latent_scale=1.0,
                 squash_context=True):
        super().__init__(name="conditional_maf")
        self.squash_context = _checks.boolean(squash_context, "squash_context")
        self.dim = _checks.integer(dim, "dim")
        self.context_dim = _checks.integer(context_dim, "context_dim")
        self.num_flows = _checks.integer(num_flows, "num_flows")
        hidden = _checks.shape(hidden_units, "hidden_units")
        if not callable(getattr(tf.nn, str(activation), None)):
            raise ValueError(f"activation must name a function of tf.nn (relu, tanh, elu, ...), got {activation!r}")
        self.dtype = tf.as_dtype(dtype)
        if not self.dtype.is_floating:
            raise ValueError(f"dtype must be a floating type, got {self.dtype.name}")
        self.context_shift = self._affine(context_shift, self.context_dim, "context_shift")
        self.context_scale = self._affine(context_scale, self.context_dim, "context_scale", positive=True)
        self.latent_shift = self._affine(latent_shift, self.dim, "latent_shift")
        self.latent_scale = self._affine(latent_scale, self.dim, "latent_scale", positive=True)
        init = Initialiser(seed, self.dtype)
        size = self.context_dim + self.dim
        masks = made_masks(size, hidden, 2)
        # Keep the outputs of z's coordinates only (degrees context_dim + 1 .. size, shift then log-scale).
        rows = np.concatenate([np.arange(self.context_dim, size), size + np.arange(self.context_dim, size)])
        masks[-1] = masks[-1][rows]
        self.networks = [
            DenseNetwork([size, *hidden, 2 * self.dim], (), init, getattr(tf.nn, activation), masks=masks,
                         dtype=self.dtype, name=f"made{k}")
            for k in range(self.num_flows)
        ]

    def _affine(self, value, size, name, positive=False):
        try:
            value = np.broadcast_to(np.asarray(value, dtype=np.float64), (size,))
        except ValueError:
            raise ValueError(f"{name} must be a scalar or hold {size} values, got {value!r}") from None
        if not np.all(np.isfinite(value)) or (positive and np.any(value <= 0)):
            raise ValueError(f"{name} must be finite{' and positive' if positive else ''}, got {value}")
        return tf.constant(value, dtype=self.dtype)

    def context(self, y):
        """``y [..., context_dim]`` checked and cast; a wrong size raises ``ValueError``."""
        return _context_vector(y, self.context_dim, self.dtype)

    def bijector(self, y):
        """The map ``eps -> z`` at context ``y`` (``[..., context_dim]``), the context bound."""
        features = (self.context(y) - self.context_shift) / self.context_scale
        if self.squash_context:
            features = tf.math.asinh(features)
        reverse = tfb.Permute(list(range(self.dim - 1, -1, -1)))
        chain = []
        for k, network in enumerate(self.networks):
            if k:
                chain.append(reverse)
            chain.append(tfb.MaskedAutoregressiveFlow(
                shift_and_log_scale_fn=ShiftAndLogScale(_WithContext(network, features))))
        chain += [tfb.Scale(self.latent_scale), tfb.Shift(self.latent_shift)]
        return tfb.Chain(chain[::-1])

    def distribution(self, y):
        """``q(. | y)`` for a batch of contexts ``y [*batch, context_dim]``: a ``tfd.TransformedDistribution``
        of batch shape ``batch`` and event shape ``[dim]``."""
        y = self.context(y)
        if y.shape[:-1].is_fully_defined():
            shape = y.shape[:-1].as_list() + [self.dim]
        else:
            shape = tf.concat([tf.shape(y)[:-1], [self.dim]], axis=0)
        base = tfd.MultivariateNormalDiag(loc=tf.zeros(shape, dtype=self.dtype))
        return tfd.TransformedDistribution(base, self.bijector(y), name="npe_posterior")

    def log_prob(self, z, y):
        """``log q(z | y)``; ``z [..., dim]`` and ``y [..., context_dim]`` broadcast over leading axes."""
        z = tf.convert_to_tensor(z, dtype_hint=self.dtype)
        if z.shape.rank == 0 or z.shape[-1] != self.dim:
            raise ValueError(f"z must have {self.dim} values on its last axis, got shape {z.shape}")
        y = self.context(y)
        batch = tf.broadcast_dynamic_shape(tf.shape(z)[:-1], tf.shape(y)[:-1])
        y = tf.broadcast_to(y, tf.concat([batch, [self.context_dim]], axis=0))
        return self.distribution(y).log_prob(tf.cast(z, self.dtype))

    def sample(self, num, y, seed):
        """``num`` draws of ``q(. | y)`` at each context: ``[num, *batch, dim]``."""
        return self.distribution(y).sample(_checks.integer(num, "num"), seed=seed)


def conditional_maf(sampler, num_flows=4, hidden_units=(64, 64), activation="relu", seed=0, dtype=tf.float32,
                    num_standardize=10_000, squash_context=True):
    """A ``ConditionalMAF`` sized for ``sampler`` (a ``PriorPredictive``), its fixed affine maps of ``y``
    and ``z`` set from ``robust_moments`` of ``num_standardize`` prior-predictive draws (seeded by ``seed``)."""
    _check_sampler(sampler)
    seed = _checks.seed(seed)
    num_standardize = _checks.integer(num_standardize, "num_standardize", minimum=2)
    z, y = sampler(num_standardize, tf.constant([seed, _STANDARDIZE_STREAM], dtype=tf.int32))
    latent_shift, latent_scale = robust_moments(z.numpy())
    context_shift, context_scale = robust_moments(y.numpy())
    return ConditionalMAF(sampler.dim, sampler.context_dim, num_flows, hidden_units, activation, seed, dtype,
                          context_shift, context_scale, latent_shift, latent_scale, squash_context)


# ------------------------------------------------------------------ training


def _check_sampler(sampler):
    if not isinstance(sampler, PriorPredictive):
        raise ValueError(
            f"sampler must be a vinf.npe.PriorPredictive (prior_predictive_sampler), got {type(sampler).__name__}")


def _check_pair(q, sampler):
    if not isinstance(q, ConditionalMAF):
        raise ValueError(f"q must be a vinf.npe.ConditionalMAF, got {type(q).__name__}")
    _check_sampler(sampler)
    if (q.dim, q.context_dim) != (sampler.dim, sampler.context_dim):
        raise ValueError(
            f"q models z of size {q.dim} given y of size {q.context_dim}, but the sampler draws z of size "
            f"{sampler.dim} and y of size {sampler.context_dim}")


@dataclasses.dataclass
class TrainResult:
    """What ``train`` returns: ``loss [num_steps]``, each step's ``-mean log q(z | y)`` over its batch
    (before that step's update), and the wall time in seconds, compilation included."""

    loss: np.ndarray
    seconds: float


class _Compiled:
    """A plain holder (``tf.Module`` does not look inside it) of a flow's Adam state and compiled functions."""

    def __init__(self, variables):
        self.m = [tf.Variable(tf.zeros_like(v), trainable=False) for v in variables]
        self.v = [tf.Variable(tf.zeros_like(v), trainable=False) for v in variables]
        self.t = tf.Variable(0.0, dtype=variables[0].dtype, trainable=False)
        self.learning_rate = tf.Variable(0.0, dtype=variables[0].dtype, trainable=False)
        self.functions = {}


def _compiled(q):
    holder = q.__dict__.get("_vinf_npe")
    if holder is None:
        holder = _Compiled(list(q.trainable_variables))
        setattr(q, "_vinf_npe", holder)  # a plain object: tf.Module does not track what it holds
    return holder


def _train_chunk(q, sampler, batch_size, clip_norm, state):
    """``run(seed, start, num) -> (losses [CHUNK_STEPS], done, finite)``: up to ``CHUNK_STEPS`` Adam steps
    (Kingma & Ba 2014) on the NPE loss, each on a fresh batch, stopping before a non-finite step."""
    variables = list(q.trainable_variables)

    def step(seed, index):
        z, y = sampler(batch_size, tf.random.experimental.stateless_fold_in(seed, index))
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(q.log_prob(tf.cast(z, q.dtype), tf.cast(y, q.dtype)))
        grads = tape.gradient(loss, variables)
        finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(g)) for g in grads] + [tf.math.is_finite(loss)])
        if clip_norm is not None:
            grads, _ = tf.clip_by_global_norm(grads, clip_norm)
        return loss, grads, finite

    def apply(grads):
        t = state.t.assign_add(1.0)
        _adam.step(variables, grads, state.m, state.v, state.learning_rate, t)

    def run(seed, start, num):
        def body(i, losses, ok):
            loss, grads, finite = step(seed, start + i)
            losses = tf.tensor_scatter_nd_update(losses, [[i]], loss[tf.newaxis])

            def update():
                apply(grads)
                return i + 1

            return tf.cond(finite, update, lambda: i), losses, finite

        losses = tf.fill([CHUNK_STEPS], tf.constant(np.nan, q.dtype))
        done, losses, ok = tf.while_loop(lambda i, _, ok: tf.logical_and(ok, i < num), body,
                                         (tf.constant(0), losses, tf.constant(True)), maximum_iterations=CHUNK_STEPS)
        return losses, done, ok

    return run


def train(q, sampler, num_steps, batch_size=256, learning_rate=1e-3, seed=0, progress=None, jit_compile=True,
          clip_norm=None):
    """Neural posterior estimation: maximise ``E_{p(z, y)}[log q(z | y)]`` (seed 001) by Adam.

    Every step draws a fresh batch of ``batch_size`` pairs ``(z, y)`` from
    ``sampler`` (no fixed simulation budget: the prior predictive is cheap, and
    fresh draws cannot be overfitted), and takes one Adam step on
    ``-mean log q(z | y)``. Steps run ``CHUNK_STEPS`` at a time in one compiled
    loop, as ``vinf.fit``'s; ``q`` keeps its last parameters (the loss is an
    unbiased estimate of the same objective at every step: no checkpoint
    is needed to undo noise). Adam's moments start afresh at each call.

    Args:
      q: a ``ConditionalMAF`` (``conditional_maf(sampler)``); updated in place.
      sampler: a ``PriorPredictive`` of the same sizes.
      num_steps: Adam steps.
      batch_size: simulations per step.
      learning_rate: Adam's step size.
      seed: integer seed of the simulations; the same seed and ``q`` give the same training.
      progress: show a tqdm bar; ``None`` shows one when stderr is a terminal.
      jit_compile: compile the steps with XLA.
      clip_norm: when set, scale each step's gradient down to at most this
        global norm (``tf.clip_by_global_norm``) before Adam: a guard against
        the rare simulation far in a heavy tail, whose loss can be 1e6 times
        the typical one.

    Returns:
      ``TrainResult`` with the loss trace.

    Raises:
      ValueError: on invalid arguments, before any work.
      FloatingPointError: when a loss or gradient turns non-finite, naming the
        step; ``q`` keeps the last finite parameters and the error's ``result``
        the trace so far.
    """
    _check_pair(q, sampler)
    num_steps = _checks.integer(num_steps, "num_steps")
    batch_size = _checks.integer(batch_size, "batch_size")
    learning_rate = _checks.positive_real(learning_rate, "learning_rate")
    clip_norm = None if clip_norm is None else _checks.positive_real(clip_norm, "clip_norm")
    seed_tensor = _seed_pair(seed)
    jit_compile = _checks.boolean(jit_compile, "jit_compile")
    state = _compiled(q)
    for slot in state.m + state.v:
        slot.assign(tf.zeros_like(slot))
    state.t.assign(0.0)
    state.learning_rate.assign(learning_rate)
    key = ("train", sampler, batch_size, clip_norm, jit_compile)
    if key not in state.functions:
        chunk = _train_chunk(q, sampler, batch_size, clip_norm, state)
        state.functions[key] = tf.function(chunk, jit_compile=jit_compile, autograph=False)
    run = state.functions[key]
    losses = np.full(num_steps, np.nan, dtype=q.dtype.as_numpy_dtype)
    show = sys.stderr.isatty() if progress is None else bool(progress)
    started = time.perf_counter()
    with tqdm(total=num_steps, disable=not show, unit="step", leave=False) as bar:
        for start in range(0, num_steps, CHUNK_STEPS):
            num = min(CHUNK_STEPS, num_steps - start)
            chunk, done, ok = run(seed_tensor, tf.constant(start), tf.constant(num))
            done = int(done)
            losses[start: start + done] = chunk.numpy()[:done]
            bar.update(done)
            if not bool(ok):
                failed = start + done
                losses[failed] = chunk.numpy()[done]
                err = FloatingPointError(
                    f"non-finite NPE loss or gradient at step {failed}; q keeps "
                    f"{f'the parameters of step {failed - 1}' if failed else 'its initial parameters'}")
                err.result = TrainResult(losses[: failed + 1], time.perf_counter() - started)
                raise err
            bar.set_postfix(loss=f"{losses[start + done - 1]:.4g}")
    return TrainResult(losses, time.perf_counter() - started)


# ------------------------------------------------------------------ using and checking q


def at_observation(q, y):
    """``q(. | y)`` at one observation ``y [context_dim]``: a ``tfd.Distribution`` with batch shape ``[]``
    and event shape ``[dim]``, scored by ``vinf.diagnostics`` (``elbo``, ``psis_khat``,
    ``to_inference_data``) as any surrogate, against ``sampler.target(y)``."""
    if not isinstance(q, ConditionalMAF):
        raise ValueError(f"q must be a vinf.npe.ConditionalMAF, got {type(q).__name__}")
    y = q.context(y)
    if y.shape.rank != 1:
        raise ValueError(f"at_observation takes one observation of shape [{q.context_dim}], got shape {y.shape}")
    return q.distribution(y)


@dataclasses.dataclass
class SBCResult:
    """Simulation-based calibration (Talts et al. 2018) of ``q``.

    Attributes:
      ranks: ``[num_datasets, dim]``, the rank of each true ``z*_d`` among ``num_draws``
        draws of ``q(. | y*)``: uniform on ``0..num_draws`` when ``q`` is the posterior.
      chi2, p_value: ``[dim]``, Pearson's chi-square of the ranks over ``num_bins`` equal bins,
        and its p-value (``num_bins - 1`` degrees of freedom).
      names: the coordinates' labels.
      num_draws, num_bins: as called.
      seconds: the wall time, compilation included.
    """

    ranks: np.ndarray
    chi2: np.ndarray
    p_value: np.ndarray
    names: tuple
    num_draws: int
    num_bins: int
    seconds: float

    def histogram(self):
        """Counts ``[num_bins, dim]`` of the ranks per bin (what a rank histogram draws)."""
        return _rank_counts(self.ranks, self.num_draws, self.num_bins)


def _rank_counts(ranks, num_draws, num_bins):
    width = (num_draws + 1) // num_bins
    return np.stack([np.bincount(r, minlength=num_bins) for r in (ranks // width).T], axis=-1)


def sbc_ranks(q, sampler, num_datasets=200, num_draws=99, num_bins=10, seed=0, jit_compile=True):
    """Simulation-based calibration ranks of ``q`` (Talts et al. 2018, Algorithm 1).

    For each of ``num_datasets`` prior-predictive pairs ``(z*, y*)``, draw
    ``num_draws`` samples of ``q(. | y*)`` and count, per coordinate, how many
    fall below ``z*_d``. If ``q(. | y)`` is the posterior for every ``y``, each
    rank is uniform on ``0..num_draws``; ``num_bins`` (which must divide
    ``num_draws + 1``) equal bins then have equal expected counts, and a
    chi-square test per coordinate says whether they do.

    Returns:
      ``SBCResult``.
    """
    _check_pair(q, sampler)
    num_datasets = _checks.integer(num_datasets, "num_datasets")
    num_draws = _checks.integer(num_draws, "num_draws")
    num_bins = _checks.integer(num_bins, "num_bins", minimum=2)
    if (num_draws + 1) % num_bins:
        raise ValueError(f"num_bins={num_bins} must divide num_draws + 1 = {num_draws + 1}")
    seed = _checks.seed(seed)
    jit_compile = _checks.boolean(jit_compile, "jit_compile")
    state = _compiled(q)
    key = ("sbc", sampler, num_datasets, num_draws, jit_compile)
    if key not in state.functions:

        def ranks(seed_tensor):
            data_seed, draw_seed = tfp.random.split_seed(seed_tensor)
            z, y = sampler(num_datasets, data_seed)
            z = tf.cast(z, q.dtype)
            draws = q.sample(num_draws, tf.cast(y, q.dtype), seed=draw_seed)  # [L, N, dim]
            return tf.reduce_sum(tf.cast(draws < z, tf.int32), axis=0)

        state.functions[key] = tf.function(ranks, jit_compile=jit_compile, autograph=False)
    started = time.perf_counter()
    ranks = state.functions[key](tf.constant([seed, _SBC_STREAM], dtype=tf.int32)).numpy()
    seconds = time.perf_counter() - started
    counts = _rank_counts(ranks, num_draws, num_bins)
    expected = num_datasets / num_bins
    chi2 = np.sum((counts - expected) ** 2 / expected, axis=0)
    return SBCResult(ranks, chi2, stats.chi2.sf(chi2, num_bins - 1), sampler.names, num_draws, num_bins, seconds)
