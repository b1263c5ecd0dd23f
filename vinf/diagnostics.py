"""How good is a fitted q? ELBO, PSIS k-hat and the repeated-run protocol.

``log_weights`` are ``log p(z) - log q(z)`` for ``z ~ q``; their mean is the
ELBO estimate (eq. 7) and the Pareto tail fitted to them gives k-hat
(eqs. 98-99; Vehtari et al., "Pareto smoothed importance sampling"), computed
with arviz's PSIS.
"""
import dataclasses
import warnings
import weakref

import numpy as np
import tensorflow as tf

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)  # arviz announces its refactor on import
    import arviz as az

__all__ = [
    "log_weights",
    "elbo",
    "psis_khat",
    "khat_from_log_weights",
    "RepeatedRuns",
    "evaluate_runs",
    "KHAT_GOOD",
    "KHAT_OK",
]

KHAT_GOOD = 0.5  # below: PSIS converges fast, q is close to p (section VI.B)
KHAT_OK = 0.7  # above: importance sampling with q is not to be trusted

_SAMPLERS = weakref.WeakKeyDictionary()


def _sampler(log_prob, q, num_samples):
    per_q = _SAMPLERS.setdefault(q, {})
    key = (log_prob, num_samples)
    if key not in per_q:

        @tf.function(jit_compile=True, autograph=False)
        def draw(seed):
            z, log_q = q.experimental_sample_and_log_prob(num_samples, seed=seed)
            return log_prob(z) - log_q

        per_q[key] = draw
    return per_q[key]


def _check_count(value, name):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _check_seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31:
        raise ValueError(f"seed must be an integer in [0, 2**31), got {seed!r}")


def _draw_log_weights(log_prob, q, num_samples, seed, stream):
    draw = _sampler(log_prob, q, num_samples)
    return draw(tf.constant([seed, stream], dtype=tf.int32)).numpy().astype(np.float64)


def log_weights(log_prob, q, num_samples=5000, seed=0):
    """``log p(z_s) - log q(z_s)`` for ``num_samples`` draws: ``[num_samples, *batch_shape]``."""
    _check_count(num_samples, "num_samples")
    _check_seed(seed)
    return _draw_log_weights(log_prob, q, num_samples, seed, stream=1)


def _scalar_or_array(x):
    x = np.asarray(x)
    return float(x) if x.ndim == 0 else x


def elbo(log_prob, q, num_samples=5000, seed=0):
    """Monte-Carlo ELBO (eq. 7) with ``num_samples`` draws; one value per batch member."""
    return _scalar_or_array(np.mean(log_weights(log_prob, q, num_samples, seed), axis=0))


def khat_from_log_weights(lw):
    """PSIS shape estimate k-hat of log weights ``[..., num_samples]`` (samples last)."""
    lw = np.asarray(lw, dtype=np.float64)
    with warnings.catch_warnings():
        # arviz warns when k-hat is large; reporting k-hat is the point here.
        warnings.simplefilter("ignore")
        _, khat = az.psislw(lw)
    return _scalar_or_array(khat)


def psis_khat(log_prob, q, num_samples=5000, seed=0):
    """PSIS k-hat of ``q`` as an importance proposal for ``p``; one per batch member."""
    lw = log_weights(log_prob, q, num_samples, seed)
    return khat_from_log_weights(np.moveaxis(lw, 0, -1))


@dataclasses.dataclass
class RepeatedRuns:
    """The section VI.B protocol's numbers for ``R`` trainings.

    ``khat`` and ``elbo`` hold each training's average over its ``M`` sets of
    draws (shape ``[R]``); the summary is their mean and standard deviation over
    trainings (``ddof=1``).
    """

    khat: np.ndarray
    elbo: np.ndarray

    def summary(self):
        """Mean and standard deviation (``ddof=1``) over trainings, as the thesis's tables report."""
        sd = lambda x: float(np.std(x, ddof=1)) if x.size > 1 else 0.0  # noqa: E731
        return dict(
            khat_mean=float(np.mean(self.khat)),
            khat_std=sd(self.khat),
            elbo_mean=float(np.mean(self.elbo)),
            elbo_std=sd(self.elbo),
        )


def evaluate_runs(log_prob, q, num_sets=50, num_draws=5000, seed=0):
    """Score trained surrogates by the protocol of section VI.B.

    ``q`` holds the ``R`` trainings as its batch (``batch_shape [R]``, or a
    single unbatched training). For each, ``num_sets`` independent sets of
    ``num_draws`` draws each give a k-hat and an ELBO; each training's numbers
    are the averages over its sets.
    """
    _check_count(num_sets, "num_sets")
    _check_count(num_draws, "num_draws")
    _check_seed(seed)
    khats, elbos = [], []
    for s in range(num_sets):
        lw = _draw_log_weights(log_prob, q, num_draws, seed, stream=2 + s)  # stream 1 is log_weights
        lw = lw.reshape(lw.shape[0], -1)  # [N, R]
        khats.append(khat_from_log_weights(lw.T))
        elbos.append(lw.mean(axis=0))
    return RepeatedRuns(
        khat=np.mean(np.reshape(khats, (num_sets, -1)), axis=0),
        elbo=np.mean(np.reshape(elbos, (num_sets, -1)), axis=0),
    )
