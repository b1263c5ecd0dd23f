"""How good is a fitted q? ELBO, PSIS k-hat, the repeated-run protocol, per-layer gradients, and ArviZ out.

``log_weights`` are ``log p(z) - log q(z)`` for ``z ~ q``; their mean is the
ELBO estimate (eq. 7) and the Pareto tail fitted to them gives k-hat
(eqs. 98-99; Vehtari et al., "Pareto smoothed importance sampling"), computed
with arviz's PSIS. Every function takes the target as a ``vinf.targets.Target``
or a callable log density. ``to_inference_data`` turns a fitted surrogate into
``arviz.InferenceData`` and ``compare`` sets it beside a reference (NUTS).
``layer_gradient_norms`` says how much each layer of a planar or radial flow
is being trained (do the first layers' gradients vanish in a deep flow?).
"""
import dataclasses
import warnings

import numpy as np
import tensorflow as tf

from vinf import _checks
from vinf import khat as khat_estimators
from vinf.bijectors import PlanarStack, RadialStack
from vinf.fit import negative_elbo_sums
from vinf.targets import Target, log_density

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)  # arviz announces its refactor on import
    import arviz as az

__all__ = [
    "log_weights",
    "to_inference_data",
    "compare",
    "elbo",
    "psis_khat",
    "khat_from_log_weights",
    "RepeatedRuns",
    "evaluate_runs",
    "layer_gradient_norms",
    "KHAT_GOOD",
    "KHAT_OK",
]

KHAT_GOOD = 0.5  # below: PSIS converges fast, q is close to p (section VI.B)
KHAT_OK = 0.7  # above: importance sampling with q is not to be trusted
MIN_KHAT_DRAWS = 25  # fewer leave arviz's Pareto tail under 5 weights, and k-hat undefined

_SAMPLER_ATTRIBUTE = "_vinf_samplers"  # compiled draws, kept on the surrogate and released with it


def _sampler(log_prob, q, num_samples, jit_compile=True):
    per_q = q.__dict__.get(_SAMPLER_ATTRIBUTE)
    if per_q is None:
        per_q = _Samplers()
        setattr(q, _SAMPLER_ATTRIBUTE, per_q)
    key = (log_prob, num_samples, jit_compile)
    if key not in per_q.compiled:

        @tf.function(jit_compile=jit_compile, autograph=False)
        def draw(seed):
            z, log_q = q.experimental_sample_and_log_prob(num_samples, seed=seed)
            return z, log_prob(z), log_q

        per_q.compiled[key] = draw
    return per_q.compiled[key]


class _Samplers:
    """A plain holder (``tf.Module`` does not look inside it) of one surrogate's compiled draws."""

    def __init__(self):
        self.compiled = {}


def _draw(target, q, num_samples, seed, stream, jit_compile=True):
    """Draws of ``q`` with ``log p`` and ``log q``, as float64 NumPy arrays (``[N, *batch, dim]``, ``[N, *batch]``),
    in one compiled function (``jit_compile``: with XLA; it slows a few Cholesky-based densities on a CPU, and its
    compile time outweighs a few small draws)."""
    draw = _sampler(log_density(target, q), q, num_samples, jit_compile)
    return tuple(x.numpy().astype(np.float64) for x in draw(tf.constant([seed, stream], dtype=tf.int32)))


def _draw_log_weights(target, q, num_samples, seed, stream, jit_compile=True):
    _, log_p, log_q = _draw(target, q, num_samples, seed, stream, jit_compile)
    return log_p - log_q


def log_weights(target, q, num_samples=5000, seed=0):
    """``log p(z_s) - log q(z_s)`` for ``num_samples`` draws: ``[num_samples, *batch_shape]``."""
    num_samples = _checks.integer(num_samples, "num_samples")
    return _draw_log_weights(target, q, num_samples, _checks.seed(seed), stream=1)


def _scalar_or_array(x):
    x = np.asarray(x)
    return float(x) if x.ndim == 0 else x


def elbo(target, q, num_samples=5000, seed=0):
    """Monte-Carlo ELBO (eq. 7) with ``num_samples`` draws; one value per batch member."""
    return _scalar_or_array(np.mean(log_weights(target, q, num_samples, seed), axis=0))


def khat_from_log_weights(lw, method="arviz"):
    """PSIS shape estimate k-hat of log weights ``[..., num_samples]`` (samples last).

    ``method``: ``"arviz"`` (the default, ArviZ's PSIS) or ``"thesis"`` (the 2015
    PSIS of the study's code); ``vinf.khat`` describes both. Raises
    ``ValueError`` for fewer than ``MIN_KHAT_DRAWS`` draws and for NaN or
    ``+inf`` log weights (a density evaluated where it is undefined: a bug, not
    a diagnosis). ``-inf`` is a draw outside the target's support, weight 0.
    """
    _checks.one_of(method, "method", tuple(khat_estimators.METHODS))
    lw = np.asarray(lw, dtype=np.float64)
    if lw.shape[-1] < MIN_KHAT_DRAWS:
        raise ValueError(f"k-hat needs at least {MIN_KHAT_DRAWS} draws, got {lw.shape[-1]}")
    bad = np.isnan(lw) | (lw == np.inf)
    if bad.any():
        raise ValueError(
            f"{int(bad.sum())} of {lw.size} log weights are NaN or +inf: log p or log q is undefined at draws "
            "of q; check the target's density"
        )
    return _scalar_or_array(khat_estimators.khat(lw, method))


def psis_khat(target, q, num_samples=5000, seed=0, method="arviz"):
    """PSIS k-hat of ``q`` as an importance proposal for ``p``; one per batch member."""
    lw = log_weights(target, q, num_samples, seed)
    return khat_from_log_weights(np.moveaxis(lw, 0, -1), method)


@dataclasses.dataclass
class RepeatedRuns:
    """The section VI.B protocol's numbers for ``R`` trainings.

    ``khat`` (ArviZ's estimator), ``khat_thesis`` (the study's 2015 estimator,
    from the same draws) and ``elbo`` hold each training's average over its
    ``M`` sets of draws (shape ``[R]``); the summary is their mean and standard
    deviation over trainings (``ddof=1``). The ``*_set_sd`` fields hold each
    training's standard deviation over its sets (``ddof=0``, as the study's code
    computed it: the "Std" its Tables II-IV print is their mean), or ``None``.
    """

    khat: np.ndarray
    elbo: np.ndarray
    khat_thesis: np.ndarray
    khat_set_sd: np.ndarray = None
    elbo_set_sd: np.ndarray = None
    khat_thesis_set_sd: np.ndarray = None

    def summary(self):
        """Mean and standard deviation (``ddof=1``) over trainings, as the thesis's tables report."""
        sd = lambda x: float(np.std(x, ddof=1)) if x.size > 1 else 0.0  # noqa: E731
        return dict(
            khat_mean=float(np.mean(self.khat)),
            khat_std=sd(self.khat),
            khat_thesis_mean=float(np.mean(self.khat_thesis)),
            khat_thesis_std=sd(self.khat_thesis),
            elbo_mean=float(np.mean(self.elbo)),
            elbo_std=sd(self.elbo),
        )

    def select(self, members):
        """The trainings ``members`` (an index or slice of the batch) as their own ``RepeatedRuns``."""
        return RepeatedRuns(**{field.name: None if getattr(self, field.name) is None else getattr(self, field.name)[members]
                               for field in dataclasses.fields(self)})


def evaluate_runs(target, q, num_sets=50, num_draws=5000, seed=0, jit_compile=True):
    """Score trained surrogates by the protocol of section VI.B.

    ``q`` holds the ``R`` trainings as its batch (``batch_shape [R]``, or a
    single unbatched training). For each, ``num_sets`` independent sets of
    ``num_draws`` draws each give a k-hat (both estimators) and an ELBO; each
    training's numbers are the averages over its sets, beside their sd over sets.
    ``jit_compile=False`` draws without XLA (a short run's compile time outweighs its draws).
    """
    num_sets = _checks.integer(num_sets, "num_sets")
    num_draws = _checks.integer(num_draws, "num_draws")
    seed = _checks.seed(seed)
    khats = {method: [] for method in ("arviz", "thesis")}
    elbos = []
    for s in range(num_sets):
        lw = _draw_log_weights(target, q, num_draws, seed, 2 + s, jit_compile)  # stream 1 is log_weights
        lw = lw.reshape(lw.shape[0], -1)  # [N, R]
        for method, values in khats.items():
            values.append(khat_from_log_weights(lw.T, method))
        elbos.append(lw.mean(axis=0))
    by_set = lambda values: np.reshape(values, (num_sets, -1))  # noqa: E731
    return RepeatedRuns(
        khat=np.mean(by_set(khats["arviz"]), axis=0), elbo=np.mean(by_set(elbos), axis=0),
        khat_thesis=np.mean(by_set(khats["thesis"]), axis=0), khat_set_sd=np.std(by_set(khats["arviz"]), axis=0),
        elbo_set_sd=np.std(by_set(elbos), axis=0), khat_thesis_set_sd=np.std(by_set(khats["thesis"]), axis=0))


# ------------------------------------------------------------------ per-layer gradients

_LAYER_STACKS = (PlanarStack, RadialStack)
_GRADIENT_STREAM = 0  # the draws of layer_gradient_norms, apart from log_weights' and evaluate_runs'


def layer_gradient_norms(target, q, sample_size=500, seed=0):
    """The norm of each layer's share of the ``-ELBO`` gradient, for planar and radial surrogates.

    The gradient that ``fit`` follows (the reparameterized one, eqs. 50-51) of
    the ``-ELBO`` estimate ``mean(log q(z) - log p(z))`` over ``sample_size``
    draws, with respect to the flow's stacked variables (planar ``u, w`` of shape
    ``[*batch_shape, K, dim]`` and ``b`` ``[*batch_shape, K]``; radial ``z0``,
    ``alpha`` through its raw pre-softplus variable, and ``beta``), and for each
    layer the Euclidean norm over all its parameters. Layer 0 acts first on the
    base draws: a profile that falls towards layer 0 as ``K`` grows is the
    vanishing gradient the thesis's section VII suspects of deep planar flows.

    The draws are those of ``q.experimental_sample_and_log_prob(sample_size,
    seed=(seed, 0))``, computed eagerly (no compilation, which at K = 256 would
    cost more than the evaluation).

    Returns:
      NumPy array ``[*batch_shape, K]``; each batch member's norms are those of its own ``-ELBO``.
    """
    stack = getattr(q, "bijector", None)
    if not isinstance(stack, _LAYER_STACKS):
        raise ValueError(
            "layer_gradient_norms needs a planar or radial surrogate (vinf.surrogates.planar or radial), whose "
            f"layers are stacked in one bijector; got {type(q).__name__} {getattr(q, 'name', '')!r}"
        )
    sample_size = _checks.integer(sample_size, "sample_size")
    seed = _checks.seed(seed)
    log_prob = log_density(target, q)
    keys = list(stack.parameter_properties())
    variables = [getattr(stack.parameters[key], "pretransformed_input", stack.parameters[key]) for key in keys]
    untrainable = [key for key, v in zip(keys, variables) if not (isinstance(v, tf.Variable) and v.trainable)]
    if untrainable:
        raise ValueError(
            f"the flow's parameters {untrainable} are not trainable variables; build q with vinf.surrogates"
        )
    _, grads = negative_elbo_sums(log_prob, q, variables, (seed, _GRADIENT_STREAM), sample_size)
    return stack.layer_norms({key: g / sample_size for key, g in zip(keys, grads)}).numpy()


# ------------------------------------------------------------------ ArviZ out

_IDATA_STREAM = 1_000_003  # the draws of to_inference_data, apart from log_weights' and evaluate_runs'


def _as_target(target, q):
    if isinstance(target, Target):
        return target
    size = q.event_shape[-1] if q.event_shape.rank == 1 else None
    if size is None or not callable(target):
        raise ValueError("target must be a vinf.targets.Target, or a callable log density with a vector-valued q")
    return Target("target", target, [f"z[{i}]" for i in range(size)])


def _psis_weights(lw):
    """Normalised PSIS-smoothed importance weights of log weights ``[..., N]`` (samples last)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        smoothed, _ = az.psislw(np.asarray(lw, dtype=np.float64))
    weights = np.exp(smoothed - np.max(smoothed, axis=-1, keepdims=True))
    return weights / np.sum(weights, axis=-1, keepdims=True)


def to_inference_data(q, target, num_draws=1000, seed=0, psis_resample=False):
    """Draws of a fitted surrogate as ``arviz.InferenceData``, in the model's own terms.

    ``posterior`` holds ``target.constrain`` of the draws (for a
    ``from_joint_distribution`` target, the model's variables by name); the
    members of a batched surrogate (``batch_shape [R]``) are the chains, so
    ``az.rhat`` says whether independent trainings agree. ``sample_stats``
    holds ``log_p``, ``log_q`` and ``log_weight = log p - log q``; ``attrs``
    hold the ELBO and PSIS k-hat over all draws and per chain.

    ``psis_resample=True`` replaces each chain's draws by a resample (with
    replacement) under its PSIS-smoothed importance weights: draws from q
    corrected towards p, as far as k-hat says they can be.
    """
    target = _as_target(target, q)
    num_draws = _checks.integer(num_draws, "num_draws", minimum=MIN_KHAT_DRAWS)
    seed = _checks.seed(seed)
    psis_resample = _checks.boolean(psis_resample, "psis_resample")
    z, log_p, log_q = _draw(target, q, num_draws, seed, _IDATA_STREAM)
    chains = int(np.prod(z.shape[1:-1], dtype=int))
    # [N, *batch, ...] -> [chain, draw, ...]
    z = np.swapaxes(z.reshape(num_draws, chains, target.dim), 0, 1)
    log_p = log_p.reshape(num_draws, chains).T
    log_q = log_q.reshape(num_draws, chains).T
    log_weight = log_p - log_q
    khat_per_chain = np.atleast_1d(khat_from_log_weights(log_weight))
    attrs = dict(
        inference_library="vinf",
        target=target.name,
        elbo=float(log_weight.mean()),
        khat=float(khat_from_log_weights(log_weight.ravel())),
        elbo_per_chain=log_weight.mean(axis=1).tolist(),
        khat_per_chain=khat_per_chain.tolist(),
        psis_resampled=int(psis_resample),
    )
    if psis_resample:
        rng = np.random.default_rng(seed)
        weights = _psis_weights(log_weight)
        picks = np.stack([rng.choice(num_draws, size=num_draws, p=w) for w in weights])
        take = lambda x: np.take_along_axis(x, picks.reshape(picks.shape + (1,) * (x.ndim - 2)), axis=1)  # noqa: E731
        z, log_p, log_q, log_weight = take(z), take(log_p), take(log_q), take(log_weight)
    posterior = target.constrain(z)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "more chains than draws" and the like
        idata = az.from_dict(posterior=posterior, sample_stats=dict(log_p=log_p, log_q=log_q, log_weight=log_weight))
    for group in (idata.posterior, idata.sample_stats):
        group.attrs.update(attrs)
    return idata


def _flat_draws(idata, name):
    """A posterior variable as ``([draws, elements], element labels)``."""
    values = idata.posterior[name].values  # [chain, draw, *shape]
    shape = values.shape[2:]
    labels = [name] if not shape else [f"{name}[{','.join(map(str, i))}]" for i in np.ndindex(*shape)]
    return values.reshape(values.shape[0] * values.shape[1], -1), labels


def compare(vi, reference, var_names=None, weighted=False):
    """``vi``'s posterior beside a reference's (NUTS), per scalar element of each shared variable.

    Returns a ``pandas.DataFrame`` indexed by element (``"theta[0]"``) with the
    means and sds of both, ``mean_error = (mean - ref_mean) / ref_sd`` and
    ``sd_error = (sd - ref_sd) / ref_sd`` (errors in reference-sd units), and the
    reference's own Monte-Carlo standard errors in the same units
    (``mean_mcse``, ``sd_mcse``): an error within a few of those is noise.
    ``weighted=True`` weighs ``vi``'s draws by their PSIS-smoothed importance
    weights (from ``sample_stats.log_weight``, ``to_inference_data``).
    """
    import pandas as pd

    for label, idata in (("vi", vi), ("reference", reference)):
        if not hasattr(idata, "posterior"):
            raise ValueError(f"{label} must be arviz.InferenceData with a posterior group")
    shared = [v for v in vi.posterior.data_vars if v in reference.posterior.data_vars]
    var_names = shared if var_names is None else list(var_names)
    missing = [v for v in var_names if v not in shared]
    if missing or not var_names:
        raise ValueError(f"variables {missing or var_names} are not in both posteriors; shared: {shared}")
    if weighted:
        if "log_weight" not in getattr(vi, "sample_stats", {}):
            raise ValueError("weighted=True needs vi.sample_stats.log_weight (vinf.diagnostics.to_inference_data)")
        w = _psis_weights(vi.sample_stats["log_weight"].values.ravel())
    else:
        w = None
    ref_post = reference.posterior[var_names]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mcse_mean = az.mcse(ref_post, method="mean")
        # The sd's error by the delta method, from the error of the mean of squared deviations
        # (arviz's method="sd" fails on vector variables in arviz 0.23 with numba present).
        squared = (ref_post - ref_post.mean(dim=("chain", "draw"))) ** 2
        mcse_sd = az.mcse(squared, method="mean") / (2.0 * ref_post.std(dim=("chain", "draw")))
    rows = {}
    for name in var_names:
        draws, labels = _flat_draws(vi, name)
        ref, _ = _flat_draws(reference, name)
        if draws.shape[1] != ref.shape[1]:
            raise ValueError(f"{name} has {draws.shape[1]} elements in vi and {ref.shape[1]} in the reference")
        mean = np.average(draws, axis=0, weights=w)
        sd = np.sqrt(np.average((draws - mean) ** 2, axis=0, weights=w))
        ref_mean, ref_sd = ref.mean(axis=0), ref.std(axis=0, ddof=1)
        for i, label in enumerate(labels):
            rows[label] = dict(
                mean=mean[i], ref_mean=ref_mean[i], sd=sd[i], ref_sd=ref_sd[i],
                mean_error=(mean[i] - ref_mean[i]) / ref_sd[i], sd_error=(sd[i] - ref_sd[i]) / ref_sd[i],
                mean_mcse=np.ravel(mcse_mean[name].values)[i] / ref_sd[i],
                sd_mcse=np.ravel(mcse_sd[name].values)[i] / ref_sd[i],
            )
    return pd.DataFrame.from_dict(rows, orient="index")
