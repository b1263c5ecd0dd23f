"""``fit``: stochastic maximisation of the ELBO (thesis Algorithm 1, eqs. 50-51).

Each step draws ``S`` samples ``z_K ~ q`` with their log-density (eq. 59),
estimates ``-ELBO = mean(log q(z) - log p(z))`` and takes an Adam step
(Kingma & Ba 2014). Steps run in chunks inside one XLA-compiled ``tf.while_loop``
so the per-step cost is the arithmetic, not Python or TFP dispatch.
As in the thesis, the best parameters seen are kept and restored at the end, but
"best" is judged by default on an exponential moving average of the loss
(``CHECKPOINT_DECAY``, about a 50-step window), not on single-step estimates:
with S = 500 draws the estimate's noise is larger than the late improvements,
and the lowest single estimate is a lucky draw, often from an early, worse
state. The other rules (``CHECKPOINTS``): ``"lowest"`` keeps the parameters of
the lowest single-step loss; ``"lowest_post_update"`` is the rule of the
study's code when its tables were made (github.com/pierresegonne/VINF, commit
ee24ca6, ``code/train.py``: the lowest single-step loss from step 500 on, the
parameters saved *after* the update that follows it); ``"two_percent_post_update"``
the rule of its final commit (8f58d79: a save from step 1 on, only when the
loss falls more than 2 % below the last saved loss, again after the update);
``"last"`` keeps the final parameters. A surrogate with
``batch_shape`` ``[R]`` trains ``R`` independent approximations at once, each
with its own loss, best step and checkpoint.

Any reparameterised TFP distribution can be fitted: variables that are built
lazily (Keras layers) are built by a first draw before compiling, and every
variable's ``constraint`` is applied after each update (TFP's
``AutoregressiveNetwork`` keeps its masks that way; without it an IAF stops
being autoregressive and its log-density is wrong).

The compiled chunk is cached on the surrogate, keyed by the log-density
function object, the sample size, the checkpoint rule and ``jit_compile``; it
is released with the surrogate. Being compiled, it does not see later changes
to Python values the function closes over: pass a new function (or a new
``Target``) to retrace.

``anneal_steps`` turns on the annealed objective of Rezende & Mohamed (2015,
section 6.1): the step-``t`` gradient is that of ``mean(log q - beta_t log p)``
with the inverse temperature ``beta_t = min(1, ANNEAL_START + t / anneal_steps)``,
so early steps see a flattened target and can spread over several modes. The
recorded loss (and so the checkpoint) is always the un-annealed ``-ELBO``.

``gradient="stl"`` is the "sticking the landing" estimator of Roeder, Wu &
Duvenaud (2017): the reparameterised gradient of ``log q_phi(z_phi)`` is the
path derivative plus the score ``d log q_phi(z) / d phi`` at fixed ``z``, whose
mean is zero and whose noise does not vanish as ``q`` approaches ``p``; STL
subtracts ``log q_phi`` at the draws cut from the graph and adds its value
back, so the loss's value is unchanged and its gradient drops the score. At
``q = p`` the STL gradient is zero for every draw. It needs ``q.log_prob`` at
points other than the draws' (the draws cut from the graph miss the bijector
cache): every family but planar has it (radial's inverse is analytic, eq. 77;
an IAF's is one network pass per coordinate).

#### References

Roeder, G., Wu, Y. & Duvenaud, D. (2017). Sticking the landing: simple,
lower-variance gradient estimators for variational inference. NeurIPS.
"""
import dataclasses
import sys
import time

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from tqdm.auto import tqdm

from vinf import _adam, _checks
from vinf.targets import log_density

__all__ = [
    "fit", "FitResult", "smoothed_loss", "negative_elbo_sums",
    "CHECKPOINTS", "CheckpointRule", "GRADIENTS", "CHUNK_STEPS", "CHECKPOINT_DECAY", "ANNEAL_START",
]

CHUNK_STEPS = 250  # steps per compiled call: long enough to hide dispatch, short for the progress bar
CHECKPOINT_DECAY = 0.98  # EMA of the loss that picks the checkpoint; ~1 / (1 - decay) = 50 steps
ANNEAL_START = 0.01  # beta_0 of the annealing schedule (Rezende & Mohamed 2015)



@dataclasses.dataclass(frozen=True)
class CheckpointRule:
    """When ``fit`` keeps a step's parameters as the best so far.

    A step checkpoints when its loss (smoothed by an exponential moving average
    of ``decay``; 0: the single-step estimate) is below the kept one by more than
    ``tolerance`` of its magnitude, from step ``start`` on; ``after_update`` keeps
    the parameters after that step's Adam update (the study's code) rather than
    those the loss was measured at. Members that never checkpoint keep their last
    parameters.
    """

    decay: float = 0.0
    start: int = 0
    tolerance: float = 0.0
    after_update: bool = False


CHECKPOINTS = {  # which parameters fit restores (module docstring); None: the last
    "smoothed": CheckpointRule(decay=CHECKPOINT_DECAY),
    "lowest": CheckpointRule(),
    "lowest_post_update": CheckpointRule(start=500, after_update=True),
    "two_percent_post_update": CheckpointRule(start=1, tolerance=0.02, after_update=True),
    "last": None,
}
GRADIENTS = ("reparameterized", "stl")  # the gradient estimators of the ELBO (module docstring)


@dataclasses.dataclass
class FitResult:
    """What ``fit`` returns.

    Attributes:
      loss: ``[num_steps, *batch_shape]`` Monte-Carlo estimates of ``-ELBO``,
        one per step, evaluated at the parameters before that step's update.
      best_step: step (per batch member) whose loss chose the parameters
        restored: the minimum of ``smoothed_loss(loss)`` (``checkpoint="smoothed"``)
        or of ``loss`` (``"lowest"``), the last save of the study's rules (``q``
        then holds the parameters after that step's update; -1 where none was
        made, and ``q`` keeps its last parameters); with ``"last"``, the last step
        (``q`` then holds the parameters after its update).
      best_loss: the (smoothed) loss at ``best_step``.
      seconds: wall time of the fit, compilation included.
    """

    loss: np.ndarray
    best_step: np.ndarray
    best_loss: np.ndarray
    seconds: float

    @property
    def elbo(self):
        """The ELBO trace, ``-loss``."""
        return -self.loss


def smoothed_loss(loss, decay=CHECKPOINT_DECAY):
    """The bias-corrected exponential moving average of a loss trace (axis 0) that
    ``fit`` minimises to choose its checkpoint."""
    loss = np.asarray(loss, dtype=np.float64)
    ema = np.zeros_like(loss[0])
    out = np.empty_like(loss)
    for t, value in enumerate(loss):
        ema = decay * ema + (1.0 - decay) * value
        out[t] = ema / (1.0 - decay ** (t + 1))
    return out


def _score_at_fixed_draws(q, z):
    """``log q_phi(z) - stop_gradient(log q_phi(z))`` at the draws ``z`` held fixed: zero in value, its
    gradient the score ``d log q_phi(z) / d phi`` that STL removes (Roeder et al. 2017)."""
    log_q = q.log_prob(tf.stop_gradient(z))
    return log_q - tf.stop_gradient(log_q)


def negative_elbo_sums(log_prob, q, variables, seed, sample_size, beta=1.0, gradient="reparameterized"):
    """Sums over ``sample_size`` draws ``z ~ q`` for one gradient step (eqs. 50-51).

    Returns ``sum(log q(z) - log p(z))`` per batch member (``sample_size`` times
    the ``-ELBO`` estimate) and the gradient with respect to ``variables`` of
    ``sum(log q(z) - beta log p(z))``, ``beta`` the annealing inverse
    temperature; with ``gradient="stl"``, without the score term (module
    docstring). ``seed`` is a stateless seed of the draws.
    """
    with tf.GradientTape() as tape:
        z, log_q = q.experimental_sample_and_log_prob(sample_size, seed=seed)
        log_p = log_prob(z)
        loss = tf.reduce_sum(log_q - log_p, axis=0)
        objective = tf.reduce_sum(log_q - beta * log_p)
        if gradient == "stl":
            objective = objective - tf.reduce_sum(_score_at_fixed_draws(q, z))
    return loss, tape.gradient(objective, variables)


def _validate(q, num_steps, sample_size, learning_rate, seed, anneal_steps, checkpoint, sample_chunks, gradient):
    if not isinstance(q, tfp.distributions.Distribution):
        raise ValueError(f"q must be a tfp distribution, got {type(q).__name__}")
    sample_chunks = _checks.integer(sample_chunks, "sample_chunks")
    if _checks.integer(sample_size, "sample_size") % sample_chunks:
        raise ValueError(f"sample_chunks={sample_chunks} must divide sample_size={sample_size}")
    return dict(
        sample_chunks=sample_chunks,
        num_steps=_checks.integer(num_steps, "num_steps"),
        sample_size=_checks.integer(sample_size, "sample_size"),
        learning_rate=_checks.positive_real(learning_rate, "learning_rate"),
        seed=_checks.seed(seed),
        anneal_steps=_checks.integer(anneal_steps, "anneal_steps", minimum=0),
        checkpoint=_checks.one_of(checkpoint, "checkpoint", tuple(CHECKPOINTS)),
        gradient=_checks.one_of(gradient, "gradient", GRADIENTS),
    )


_DTYPE_HINT = (
    "If the density computes in another float type, build q with that dtype "
    "(vinf.surrogates.get(..., dtype=...)) or wrap it in vinf.targets.Target(..., dtype=...), which fit casts to q's"
)


def _probe(log_prob, q, gradient="reparameterized"):
    """Draw twice from ``q`` eagerly (building lazily created variables) and evaluate ``log_prob``
    on the draws (and, for STL, ``q.log_prob`` off the bijector cache), to fail early and clearly.
    Returns the surrogate's batch shape."""
    z, _ = q.experimental_sample_and_log_prob(2, seed=(0, 0))
    try:
        lp = tf.convert_to_tensor(log_prob(z))
    except ValueError:  # already says what is wrong (a Target's dim check, for one)
        raise
    except Exception as err:  # the user's function: say which call failed
        raise ValueError(
            f"log_prob failed on {z.dtype.name} draws of q of shape {z.shape.as_list()}: {err}. {_DTYPE_HINT}"
        ) from err
    if lp.dtype != z.dtype:
        raise ValueError(f"log_prob returned {lp.dtype.name} for {z.dtype.name} draws of q. {_DTYPE_HINT}")
    if lp.shape != z.shape[:-1]:
        raise ValueError(
            f"log_prob must map [..., dim] to [...]: draws of shape {z.shape.as_list()} "
            f"gave {lp.shape.as_list()}, expected {z.shape[:-1].as_list()}"
        )
    if not q.trainable_variables:
        raise ValueError("q has no trainable variables; build it with vinf.surrogates")
    if gradient == "stl":
        try:
            _score_at_fixed_draws(q, z)
        except NotImplementedError as err:
            raise ValueError(
                "gradient='stl' evaluates q.log_prob at points other than q's own draws, which this surrogate "
                f"cannot: {err} Use gradient='reparameterized', or a family with an inverse (every family of "
                "vinf.surrogates but planar)."
            ) from err
    return z.shape[1:-1]


class _Trainer:
    """Adam state, best-parameter checkpoint and compiled chunks for one surrogate.

    It lives on the surrogate (``_TRAINER_ATTRIBUTE``), so it is released with it.
    """

    def __init__(self, q, batch_shape):
        self.q = q
        self.variables = list({v.ref(): v for v in q.trainable_variables}.values())
        self.batch_shape = batch_shape
        self._check_batch()
        dtype = q.dtype
        self.m = [tf.Variable(tf.zeros_like(v), trainable=False) for v in self.variables]
        self.v = [tf.Variable(tf.zeros_like(v), trainable=False) for v in self.variables]
        self.best = [tf.Variable(v, trainable=False) for v in self.variables]
        self.t = tf.Variable(tf.zeros([], dtype), trainable=False)
        self.learning_rate = tf.Variable(tf.zeros([], dtype), trainable=False)
        self.ema = tf.Variable(tf.zeros(batch_shape, dtype), trainable=False)
        self.best_loss = tf.Variable(tf.fill(batch_shape, tf.constant(np.inf, dtype)), trainable=False)
        self.best_step = tf.Variable(tf.fill(batch_shape, -1), trainable=False)
        self.compiled = {}

    def reset(self, learning_rate):
        for slot in self.m + self.v:
            slot.assign(tf.zeros_like(slot))
        for best, var in zip(self.best, self.variables):
            best.assign(var)
        self.t.assign(tf.zeros_like(self.t))
        self.learning_rate.assign(tf.cast(learning_rate, self.learning_rate.dtype))
        self.best_loss.assign(tf.fill(self.batch_shape, tf.constant(np.inf, self.best_loss.dtype)))
        self.best_step.assign(tf.fill(self.batch_shape, -1))
        self.ema.assign(tf.zeros_like(self.ema))

    def _check_batch(self):
        for var in self.variables:
            if var.shape[: len(self.batch_shape)] != self.batch_shape:
                raise ValueError(
                    f"variable {var.name} of shape {var.shape} does not start with the "
                    f"surrogate's batch shape {self.batch_shape}: fit trains batch members independently, "
                    "so each needs its own parameters (vinf.surrogates builds them so)"
                )

    def _mask(self, improved, var):
        extra = var.shape.rank - len(self.batch_shape)
        return tf.reshape(improved, self.batch_shape.as_list() + [1] * extra)

    def chunk(self, log_prob, sample_size, sample_chunks, checkpoint, gradient, jit_compile):
        key = (log_prob, sample_size, sample_chunks, checkpoint, gradient, jit_compile)
        if key not in self.compiled:
            self.compiled[key] = tf.function(
                self._make_chunk(log_prob, sample_size, sample_chunks, checkpoint, gradient),
                jit_compile=jit_compile, autograph=False,
            )
        return self.compiled[key]

    def _make_chunk(self, log_prob, sample_size, sample_chunks, checkpoint, gradient):
        q, variables, dtype = self.q, self.variables, self.q.dtype
        rule = CHECKPOINTS[checkpoint]
        decay = 0.0 if rule is None else rule.decay

        def draws_sum(seed, size, beta):
            return negative_elbo_sums(log_prob, q, variables, seed, size, beta, gradient)

        def step(seed, index, anneal_steps):
            step_seed = tf.random.experimental.stateless_fold_in(seed, index)
            beta = tf.minimum(1.0, ANNEAL_START + tf.cast(index, tf.float32) / tf.maximum(anneal_steps, 1.0))
            beta = tf.cast(tf.where(anneal_steps > 0.0, beta, 1.0), dtype)
            if sample_chunks == 1:
                loss, grads = draws_sum(step_seed, sample_size, beta)
            else:  # the same sums, chunk by chunk: a smaller working set (see fit's docstring)
                size = sample_size // sample_chunks

                def body(j, loss, grads):
                    more, more_grads = draws_sum(tf.random.experimental.stateless_fold_in(step_seed, j), size, beta)
                    return j + 1, loss + more, [g + h for g, h in zip(grads, more_grads)]

                zeros = [tf.zeros_like(v) for v in variables]
                _, loss, grads = tf.while_loop(
                    lambda j, *_: j < sample_chunks, body,
                    (tf.constant(0), tf.zeros(self.batch_shape, dtype), zeros))
            loss = loss / sample_size  # -ELBO per batch member
            grads = [g / sample_size for g in grads]
            finite = tf.reduce_all(tf.math.is_finite(loss))
            for g in grads:
                finite = tf.logical_and(finite, tf.reduce_all(tf.math.is_finite(g)))
            return loss, grads, finite

        def improved(index, loss, t):
            """Whether this step checkpoints, per member, by ``rule``; records its loss and step if so."""
            ema = self.ema.assign(decay * self.ema + (1.0 - decay) * loss)
            smoothed = ema / (1.0 - decay**t)
            better = smoothed < self.best_loss
            if rule.tolerance:  # the first checkpoint (best still infinite) needs no margin
                margin = tf.cast(rule.tolerance, dtype) * tf.abs(self.best_loss)
                better = tf.logical_and(better, tf.logical_or(tf.math.is_inf(self.best_loss),
                                                              self.best_loss - smoothed > margin))
            if rule.start:
                better = tf.logical_and(better, index >= rule.start)
            self.best_loss.assign(tf.where(better, smoothed, self.best_loss))
            self.best_step.assign(tf.where(better, index, self.best_step))
            return better

        def keep(better):
            for best, var in zip(self.best, variables):
                best.assign(tf.where(self._mask(better, var), var, best))

        def apply(index, loss, grads):
            t = self.t.assign_add(tf.ones_like(self.t))
            better = None if rule is None else improved(index, loss, t)
            if better is not None and not rule.after_update:
                keep(better)  # the parameters the loss was measured at
            _adam.step(variables, grads, self.m, self.v, self.learning_rate, t)
            if better is not None and rule.after_update:
                keep(better)  # the parameters after the update that followed the low loss (the study's code)

        def run(seed, start, num, anneal_steps):
            losses = tf.fill([CHUNK_STEPS] + self.batch_shape.as_list(), tf.constant(np.nan, dtype))

            def body(i, losses, ok):
                loss, grads, finite = step(seed, start + i, anneal_steps)
                losses = tf.tensor_scatter_nd_update(losses, [[i]], loss[tf.newaxis])

                def update():
                    apply(start + i, loss, grads)
                    return i + 1

                i = tf.cond(finite, update, lambda: i)
                return i, losses, finite

            done, losses, ok = tf.while_loop(
                lambda i, losses, ok: tf.logical_and(ok, i < num),
                body,
                (tf.constant(0), losses, tf.constant(True)),
                maximum_iterations=CHUNK_STEPS,
            )
            return losses, done, ok

        return run

    def restore_best(self):
        """Every member's kept parameters; a member that never checkpointed keeps its last ones."""
        kept = self.best_step >= 0
        for best, var in zip(self.best, self.variables):
            var.assign(tf.where(self._mask(kept, var), best, var))


_TRAINER_ATTRIBUTE = "_vinf_trainer"


def _trainer(q, batch_shape):
    """The surrogate's trainer, made on its first fit. Kept as an attribute of ``q`` (not in a
    module-level table that would keep every surrogate alive)."""
    trainer = q.__dict__.get(_TRAINER_ATTRIBUTE)
    if trainer is None or trainer.batch_shape != batch_shape:
        trainer = _Trainer(q, batch_shape)
        setattr(q, _TRAINER_ATTRIBUTE, trainer)  # a plain object: tf.Module does not track what it holds
    return trainer


def fit(
    target,
    q,
    num_steps,
    sample_size=500,
    learning_rate=1e-2,
    seed=0,
    progress=None,
    jit_compile=True,
    anneal_steps=0,
    checkpoint="smoothed",
    sample_chunks=1,
    gradient="reparameterized",
):
    """Fit ``q`` to the unnormalised density ``exp(log p)`` by maximising the ELBO.

    Args:
      target: a ``vinf.targets.Target`` (its dim is checked against ``q`` and
        its dtype cast to ``q``'s), or a callable mapping ``z`` of shape
        ``[..., dim]`` to ``log p(z, x)`` of shape ``[...]`` in TensorFlow ops.
      q: a surrogate from ``vinf.surrogates`` or any reparameterised
        ``tfd.Distribution`` with ``tf.Variable`` s; updated in place.
      num_steps: number of Adam steps (the thesis's "epochs").
      sample_size: Monte-Carlo draws ``S`` per step (eq. 51); the thesis uses 500.
      learning_rate: Adam's step size; the thesis uses 1e-2.
      seed: integer seed of the draws; the same seed and surrogate state give the
        same fit.
      progress: show a tqdm bar; ``None`` shows one when stderr is a terminal.
      jit_compile: compile each chunk of steps with XLA.
      anneal_steps: when positive, train on the annealed objective (module
        docstring) whose inverse temperature reaches 1 after this many steps.
      checkpoint: which parameters to keep, a name of ``CHECKPOINTS``:
        ``"smoothed"`` (lowest moving average of the loss, the default),
        ``"lowest"`` (lowest single-step loss), the study's code's rules
        ``"lowest_post_update"`` and ``"two_percent_post_update"`` (module
        docstring), or ``"last"``.
      sample_chunks: draw the ``S`` samples of a step in this many chunks
        (``S`` must divide evenly), summing their gradients: the same
        estimator, other random numbers, a smaller working set. Whether it is
        faster depends on the shapes: measured once here (a loaded machine),
        2 chunks ran planar K = 64 with 20 members on eight schools 1.4x
        faster and did not help radial K = 64 or planar K = 128 on two schools.
      gradient: the estimator of the ELBO's gradient: ``"reparameterized"``
        (the thesis's, the default) or ``"stl"`` (sticking the landing, Roeder
        et al. 2017: the same loss, its gradient without the score term, which
        vanishes at ``q = p``; module docstring). ``"stl"`` needs
        ``q.log_prob`` at arbitrary points, so planar surrogates are refused.

    Returns:
      ``FitResult`` with the loss trace and the best step, whose parameters are
      now in ``q``.

    Raises:
      ValueError: on invalid arguments, before any work.
      FloatingPointError: when a loss or gradient turns non-finite; ``q`` keeps
        the parameters of the last finite step and the error's ``result``
        attribute holds the trace so far.
    """
    args = _validate(q, num_steps, sample_size, learning_rate, seed, anneal_steps, checkpoint, sample_chunks, gradient)
    log_prob = log_density(target, q)
    trainer = _trainer(q, _probe(log_prob, q, args["gradient"]))
    trainer.reset(args["learning_rate"])
    run = trainer.chunk(log_prob, args["sample_size"], args["sample_chunks"], args["checkpoint"], args["gradient"],
                        jit_compile)

    num_steps = args["num_steps"]
    seed_tensor = tf.constant([args["seed"], 0], dtype=tf.int32)
    anneal = tf.constant(float(args["anneal_steps"]))
    losses = np.full((num_steps,) + tuple(trainer.batch_shape), np.nan, dtype=q.dtype.as_numpy_dtype)
    show = sys.stderr.isatty() if progress is None else bool(progress)
    started = time.perf_counter()
    with tqdm(total=num_steps, disable=not show, unit="step", leave=False) as bar:
        for start in range(0, num_steps, CHUNK_STEPS):
            num = min(CHUNK_STEPS, num_steps - start)
            chunk, done, ok = run(seed_tensor, tf.constant(start), tf.constant(num), anneal)
            done = int(done)
            losses[start : start + done] = chunk.numpy()[:done]
            bar.update(done)
            if not bool(ok):
                losses[start + done] = chunk.numpy()[done]
                result = _result(losses[: start + done + 1], trainer, started)
                failed = start + done
                kept = f"the parameters of step {failed - 1}" if failed else "its initial parameters"
                err = FloatingPointError(f"non-finite loss or gradient at step {failed}; the surrogate keeps {kept}")
                err.result = result
                raise err
            bar.set_postfix(elbo=f"{-np.mean(losses[start + done - 1]):.4g}")
    if args["checkpoint"] == "last":
        trainer.best_step.assign(tf.fill(trainer.batch_shape, num_steps - 1))
        trainer.best_loss.assign(losses[-1])
    else:
        trainer.restore_best()
    return _result(losses, trainer, started)


def _result(losses, trainer, started):
    best_step = trainer.best_step.numpy()
    best_loss = trainer.best_loss.numpy()
    return FitResult(
        loss=losses,
        best_step=best_step if best_step.ndim else int(best_step),
        best_loss=best_loss if best_loss.ndim else float(best_loss),
        seconds=time.perf_counter() - started,
    )
