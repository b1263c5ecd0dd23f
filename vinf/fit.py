"""``fit``: stochastic maximisation of the ELBO (thesis Algorithm 1, eqs. 50-51).

Each step draws ``S`` samples ``z_K ~ q`` with their log-density (eq. 59),
estimates ``-ELBO = mean(log q(z) - log p(z))`` and takes an Adam step
(Kingma & Ba 2014). Steps run in chunks inside one XLA-compiled ``tf.while_loop``
so the per-step cost is the arithmetic, not Python or TFP dispatch. The compiled
chunk is cached per (surrogate, target, sample size) and reused by later fits.

As in the thesis, the best parameters seen are kept and restored at the end, but
"best" is judged on an exponential moving average of the loss
(``CHECKPOINT_DECAY``, about a 50-step window), not on single-step estimates:
with S = 500 draws the estimate's noise is larger than the late improvements,
and the lowest single estimate is a lucky draw, often from an early, worse state. A surrogate with ``batch_shape`` ``[R]`` trains ``R``
independent approximations at once, each with its own loss, best step and
checkpoint.

``anneal_steps`` turns on the annealed objective of Rezende & Mohamed (2015,
section 6.1): the step-``t`` gradient is that of ``mean(log q - beta_t log p)``
with the inverse temperature ``beta_t = min(1, ANNEAL_START + t / anneal_steps)``,
so early steps see a flattened target and can spread over several modes. The
recorded loss (and so the checkpoint) is always the un-annealed ``-ELBO``.
"""
import dataclasses
import math
import numbers
import sys
import time
import weakref

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from tqdm.auto import tqdm

__all__ = ["fit", "FitResult", "smoothed_loss", "CHUNK_STEPS", "CHECKPOINT_DECAY", "ANNEAL_START"]

CHUNK_STEPS = 250  # steps per compiled call: long enough to hide dispatch, short for the progress bar
CHECKPOINT_DECAY = 0.98  # EMA of the loss that picks the checkpoint; ~1 / (1 - decay) = 50 steps
ANNEAL_START = 0.01  # beta_0 of the annealing schedule (Rezende & Mohamed 2015)
_ADAM_BETA1, _ADAM_BETA2, _ADAM_EPSILON = 0.9, 0.999, 1e-8


@dataclasses.dataclass
class FitResult:
    """What ``fit`` returns.

    Attributes:
      loss: ``[num_steps, *batch_shape]`` Monte-Carlo estimates of ``-ELBO``,
        one per step, evaluated at the parameters before that step's update.
      best_step: step (per batch member) whose parameters were restored: the
        minimum of ``smoothed_loss(loss)``.
      best_loss: the smoothed loss at ``best_step``.
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


def _is_positive_int(x):
    return isinstance(x, numbers.Integral) and not isinstance(x, bool) and x > 0


def _validate(log_prob, q, num_steps, sample_size, learning_rate, seed, anneal_steps):
    if not callable(log_prob):
        raise ValueError(f"log_prob must be callable, got {type(log_prob).__name__}")
    if not isinstance(q, tfp.distributions.Distribution):
        raise ValueError(f"q must be a tfp distribution, got {type(q).__name__}")
    if not q.trainable_variables:
        raise ValueError("q has no trainable variables; build it with vinf.surrogates")
    if not _is_positive_int(num_steps):
        raise ValueError(f"num_steps must be a positive integer, got {num_steps!r}")
    if not _is_positive_int(sample_size):
        raise ValueError(f"sample_size must be a positive integer, got {sample_size!r}")
    if (
        isinstance(learning_rate, bool)
        or not isinstance(learning_rate, numbers.Real)
        or not math.isfinite(learning_rate)
        or learning_rate <= 0
    ):
        raise ValueError(f"learning_rate must be a positive finite number, got {learning_rate!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < 2**31:
        raise ValueError(f"seed must be an integer in [0, 2**31), got {seed!r}")
    if isinstance(anneal_steps, bool) or not isinstance(anneal_steps, numbers.Integral) or anneal_steps < 0:
        raise ValueError(f"anneal_steps must be a non-negative integer, got {anneal_steps!r}")


def _probe(log_prob, q):
    """Evaluate ``log_prob`` on two draws of ``q`` eagerly, to fail early and clearly."""
    z, _ = q.experimental_sample_and_log_prob(2, seed=(0, 0))
    try:
        lp = tf.convert_to_tensor(log_prob(z))
    except Exception as err:  # the user's function: say which call failed
        raise ValueError(
            f"log_prob failed on draws of q of shape {z.shape.as_list()}: {err}"
        ) from err
    if lp.shape != z.shape[:-1]:
        raise ValueError(
            f"log_prob must map [..., dim] to [...]: draws of shape {z.shape.as_list()} "
            f"gave {lp.shape.as_list()}, expected {z.shape[:-1].as_list()}"
        )
    return z.shape[1:-1]


class _Trainer:
    """Adam state, best-parameter checkpoint and compiled chunks for one surrogate."""

    def __init__(self, q):
        self.q = q
        self.variables = list({v.ref(): v for v in q.trainable_variables}.values())
        zeros = [tf.Variable(tf.zeros_like(v), trainable=False) for v in self.variables]
        self.m = zeros
        self.v = [tf.Variable(tf.zeros_like(v), trainable=False) for v in self.variables]
        self.best = [tf.Variable(v, trainable=False) for v in self.variables]
        self.t = tf.Variable(0.0, trainable=False)
        self.ema = None
        self.learning_rate = tf.Variable(1e-2, trainable=False)
        self.best_loss = None
        self.best_step = None
        self.batch_shape = None
        self.compiled = {}

    def reset(self, learning_rate, batch_shape):
        if self.batch_shape is None:
            self._check_batch(batch_shape)
            self.batch_shape = batch_shape
            self.best_loss = tf.Variable(tf.fill(batch_shape, np.inf), trainable=False)
            self.best_step = tf.Variable(tf.fill(batch_shape, -1), trainable=False)
            self.ema = tf.Variable(tf.zeros(batch_shape), trainable=False)
        for slot in self.m + self.v:
            slot.assign(tf.zeros_like(slot))
        for best, var in zip(self.best, self.variables):
            best.assign(var)
        self.t.assign(0.0)
        self.learning_rate.assign(learning_rate)
        self.best_loss.assign(tf.fill(self.batch_shape, np.inf))
        self.best_step.assign(tf.fill(self.batch_shape, -1))
        self.ema.assign(tf.zeros(self.batch_shape))

    def _check_batch(self, batch_shape):
        for var in self.variables:
            if var.shape[: len(batch_shape)] != batch_shape:
                raise ValueError(
                    f"variable {var.name} of shape {var.shape} does not start with the "
                    f"surrogate's batch shape {batch_shape}"
                )

    def _mask(self, improved, var):
        extra = var.shape.rank - len(self.batch_shape)
        return tf.reshape(improved, self.batch_shape.as_list() + [1] * extra)

    def chunk(self, log_prob, sample_size, jit_compile):
        key = (log_prob, sample_size, jit_compile)
        if key not in self.compiled:
            self.compiled[key] = tf.function(
                self._make_chunk(log_prob, sample_size), jit_compile=jit_compile, autograph=False
            )
        return self.compiled[key]

    def _make_chunk(self, log_prob, sample_size):
        q, variables = self.q, self.variables

        def step(seed, index, anneal_steps):
            step_seed = tf.random.experimental.stateless_fold_in(seed, index)
            beta = tf.minimum(1.0, ANNEAL_START + tf.cast(index, tf.float32) / tf.maximum(anneal_steps, 1.0))
            beta = tf.where(anneal_steps > 0.0, beta, 1.0)
            with tf.GradientTape() as tape:
                z, log_q = q.experimental_sample_and_log_prob(sample_size, seed=step_seed)
                log_p = log_prob(z)
                loss = tf.reduce_mean(log_q - log_p, axis=0)  # -ELBO per batch member
                objective = tf.reduce_sum(tf.reduce_mean(log_q - tf.cast(beta, log_p.dtype) * log_p, axis=0))
            grads = tape.gradient(objective, variables)
            finite = tf.reduce_all(tf.math.is_finite(loss))
            for g in grads:
                finite = tf.logical_and(finite, tf.reduce_all(tf.math.is_finite(g)))
            return loss, grads, finite

        def apply(index, loss, grads):
            t = self.t.assign_add(1.0)
            ema = self.ema.assign(CHECKPOINT_DECAY * self.ema + (1.0 - CHECKPOINT_DECAY) * loss)
            smoothed = ema / (1.0 - CHECKPOINT_DECAY**t)
            improved = smoothed < self.best_loss
            for best, var in zip(self.best, variables):
                best.assign(tf.where(self._mask(improved, var), var, best))
            self.best_loss.assign(tf.where(improved, smoothed, self.best_loss))
            self.best_step.assign(tf.where(improved, index, self.best_step))
            lr = self.learning_rate * tf.sqrt(1.0 - _ADAM_BETA2**t) / (1.0 - _ADAM_BETA1**t)
            for var, g, m, v in zip(variables, grads, self.m, self.v):
                m.assign(_ADAM_BETA1 * m + (1.0 - _ADAM_BETA1) * g)
                v.assign(_ADAM_BETA2 * v + (1.0 - _ADAM_BETA2) * tf.square(g))
                var.assign_sub(lr * m / (tf.sqrt(v) + _ADAM_EPSILON))

        def run(seed, start, num, anneal_steps):
            losses = tf.fill([CHUNK_STEPS] + self.batch_shape.as_list(), np.nan)

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
        for best, var in zip(self.best, self.variables):
            var.assign(best)


_TRAINERS = weakref.WeakKeyDictionary()


def fit(
    log_prob,
    q,
    num_steps,
    sample_size=500,
    learning_rate=1e-2,
    seed=0,
    progress=None,
    jit_compile=True,
    anneal_steps=0,
):
    """Fit ``q`` to the unnormalised density ``exp(log_prob)`` by maximising the ELBO.

    Args:
      log_prob: callable mapping ``z`` of shape ``[..., dim]`` to ``log p(z, x)``
        of shape ``[...]``, written in TensorFlow ops.
      q: a surrogate from ``vinf.surrogates`` (or any reparameterised
        ``tfd.Distribution`` with ``tf.Variable`` s); updated in place.
      num_steps: number of Adam steps (the thesis's "epochs").
      sample_size: Monte-Carlo draws ``S`` per step (eq. 51); the thesis uses 500.
      learning_rate: Adam's step size; the thesis uses 1e-2.
      seed: integer seed of the draws; the same seed and surrogate state give the
        same fit.
      progress: show a tqdm bar; ``None`` shows one when stderr is a terminal.
      jit_compile: compile each chunk of steps with XLA.
      anneal_steps: when positive, train on the annealed objective (module
        docstring) whose inverse temperature reaches 1 after this many steps.

    Returns:
      ``FitResult`` with the loss trace and the best step, whose parameters are
      now in ``q``.

    Raises:
      ValueError: on invalid arguments, before any work.
      FloatingPointError: when a loss or gradient turns non-finite; ``q`` keeps
        the parameters of the last finite step and the error's ``result``
        attribute holds the trace so far.
    """
    _validate(log_prob, q, num_steps, sample_size, learning_rate, seed, anneal_steps)
    batch_shape = _probe(log_prob, q)
    if q not in _TRAINERS:
        _TRAINERS[q] = _Trainer(q)
    trainer = _TRAINERS[q]
    trainer.reset(learning_rate, batch_shape)
    run = trainer.chunk(log_prob, sample_size, jit_compile)

    seed_tensor = tf.constant([seed, 0], dtype=tf.int32)
    losses = np.full((num_steps,) + tuple(batch_shape), np.nan, dtype=np.float32)
    show = sys.stderr.isatty() if progress is None else bool(progress)
    started = time.perf_counter()
    with tqdm(total=num_steps, disable=not show, unit="step", leave=False) as bar:
        for start in range(0, num_steps, CHUNK_STEPS):
            num = min(CHUNK_STEPS, num_steps - start)
            chunk, done, ok = run(seed_tensor, tf.constant(start), tf.constant(num), tf.constant(float(anneal_steps)))
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
