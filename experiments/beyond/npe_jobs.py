"""Amortised inference (NPE, issue 17 item 4): one job per parameterisation trains the protocol's R conditional
flows q(z | y) on the eight-schools prior predictive, scores each at Table I's y by the section VI.B protocol
and checks it by simulation-based calibration; its row sits in Table VI beside the per-y fits.

A row has the protocol's fields (``experiments.common.schools.row``: k-hat on both estimators, the ELBO, their
per-training values, ``log_evidence``, ``posterior``, ``best_run``, ``group*``, ``seed``) and NPE's own:
``sbc_p_values`` ``[R][dim]`` (Pearson's chi-square of each training's ranks per coordinate), ``sbc_names``,
``sbc_datasets``/``sbc_draws``/``sbc_bins``, ``above_log_z_runs`` (trainings whose ELBO exceeds log p(y) beyond
three standard errors of its draw sets: a bug, never a result), ``train_seconds_runs``, the simulation budget
(``simulations_per_training``, ``steps``, ``batch_size``, ``simulations``: training and SBC over every training)
and ``parameters``. Its arrays: ``<key>.npz`` (the best training's draws at y, as ``load_draws`` reads them) and
``npe_<key>.npz`` (every training's SBC ranks ``[R, datasets, dim]``, rank histograms ``[R, bins, dim]`` and loss
trace ``[R, steps]``).
"""
import time

import numpy as np

import vinf
from experiments.common.runner import Job, Outcome
from experiments.common.schools import ATTEMPTS, Spec, posterior_summary
from experiments.common.seeds import Stream, job_seed

METHOD = "npe"
FAMILY = "NPE (conditional MAF)"  # its label in Table VI
# Seconds of one training per (step x simulation x layer), measured on one core at the recommended settings
# (non-centered: 20000 x 256 x 4 in ~40 s; centered: 30000 x 512 x 4 in ~2-2.5 min): the jobs' relative cost,
# in the seconds the protocol's groups' costs are close to, so that the runner starts the longest first.
SECONDS_PER_SIMULATED_LAYER = 2.2e-6
BUG_SE = 3.0  # an ELBO this many standard errors above log Z is a bug


def spec(centered, npe):
    """The row's key and protocol fields: Table VI, eight schools, the true model, K = the MAF's layers."""
    return Spec("VI", METHOD, centered, 8, npe.num_flows, False)


def steps_and_batch(centered, npe):
    return npe.centered if centered else npe.noncentered


def npe_file(key):
    return f"npe_{key}.npz"


def above_log_z(elbo_runs, elbo_set_sd_runs, num_sets, log_z):
    """Indices of the trainings whose ELBO (a mean over ``num_sets`` draw sets) lies above ``log_z`` by more
    than ``BUG_SE`` standard errors of that mean."""
    return [i for i, (e, sd) in enumerate(zip(elbo_runs, elbo_set_sd_runs))
            if e - log_z > BUG_SE * sd / np.sqrt(num_sets)]


def _train(sampler, npe, centered, protocol, seed):
    """One conditional MAF trained on the prior predictive; a fresh seed after a divergence (``ATTEMPTS``)."""
    steps, batch = steps_and_batch(centered, npe)
    for attempt in range(ATTEMPTS):
        q = vinf.npe.conditional_maf(sampler, num_flows=npe.num_flows, hidden_units=npe.hidden_units,
                                     seed=seed + attempt)
        try:
            result = vinf.npe.train(q, sampler, num_steps=steps, batch_size=batch, learning_rate=npe.learning_rate,
                                    seed=seed + attempt, progress=False, jit_compile=protocol.jit_compile)
            return q, result, attempt > 0
        except FloatingPointError:
            if attempt == ATTEMPTS - 1:
                raise


def train_npe(centered, scale, base_seed):
    """A job: R conditional flows for one parameterisation, each trained on the prior predictive with its own
    seed, scored at Table I's y by the protocol (``vinf.diagnostics.evaluate_runs`` on ``at_observation``
    against the true model, whose log Z is log p(y)) and checked by SBC; one Table VI row."""
    protocol, npe = scale.protocol, scale.npe
    row_spec = spec(centered, npe)
    key = row_spec.key
    seed = job_seed(base_seed, key)
    sampler = vinf.npe.eight_schools_sampler(centered)
    target = vinf.targets.eight_schools(centered, 8, thesis_compat=False)
    y = vinf.targets.EIGHT_SCHOOLS_Y
    runs, z, log_q, sbc, losses, train_seconds, evaluate_seconds, retried = [], [], [], [], [], [], 0.0, False
    for r in range(protocol.num_runs):
        training_seed = job_seed(base_seed, f"{key}-training{r}")
        q, result, again = _train(sampler, npe, centered, protocol, training_seed)
        retried |= again
        train_seconds.append(result.seconds)
        losses.append(result.loss.astype(np.float32))
        started = time.perf_counter()
        at_y = vinf.npe.at_observation(q, y)
        runs.append(vinf.diagnostics.evaluate_runs(target.log_prob, at_y, protocol.num_sets, protocol.num_draws,
                                                   seed=training_seed, jit_compile=protocol.jit_compile))
        draws, log_density = at_y.experimental_sample_and_log_prob(protocol.num_draws,
                                                                   seed=(training_seed, Stream.SCHOOLS_DRAWS))
        z.append(draws.numpy())
        log_q.append(log_density.numpy())
        evaluate_seconds += time.perf_counter() - started
        sbc.append(vinf.npe.sbc_ranks(q, sampler, num_datasets=npe.sbc_datasets, num_draws=npe.sbc_draws,
                                      num_bins=npe.sbc_bins, seed=training_seed, jit_compile=protocol.jit_compile))
    joined = vinf.diagnostics.RepeatedRuns(**{
        name: np.concatenate([getattr(run, name) for run in runs]) for name in
        ("khat", "elbo", "khat_thesis", "khat_set_sd", "elbo_set_sd", "khat_thesis_set_sd")})
    z, log_q = np.stack(z, axis=1), np.stack(log_q, axis=1)  # [S, R, dim], [S, R]
    log_p = target.log_prob(z).numpy()
    log_z = target.log_evidence()
    best = int(np.argmin(joined.khat_thesis))
    steps, batch = steps_and_batch(centered, npe)
    fields = dict(
        key=key,
        **row_spec.fields(),
        **joined.summary(),
        log_evidence=log_z,
        khat_runs=joined.khat.tolist(),
        khat_thesis_runs=joined.khat_thesis.tolist(),
        elbo_runs=joined.elbo.tolist(),
        khat_set_sd_runs=joined.khat_set_sd.tolist(),
        khat_thesis_set_sd_runs=joined.khat_thesis_set_sd.tolist(),
        elbo_set_sd_runs=joined.elbo_set_sd.tolist(),
        above_log_z_runs=above_log_z(joined.elbo, joined.elbo_set_sd, protocol.num_sets, log_z),
        best_run=best,
        posterior=posterior_summary(target, z, log_p - log_q),
        sbc_p_values=[s.p_value.tolist() for s in sbc],
        sbc_names=list(sampler.names),
        sbc_datasets=npe.sbc_datasets,
        sbc_draws=npe.sbc_draws,
        sbc_bins=npe.sbc_bins,
        sbc_seconds=float(sum(s.seconds for s in sbc)),
        steps=steps,
        batch_size=batch,
        simulations_per_training=steps * batch,
        simulations=protocol.num_runs * (steps * batch + npe.sbc_datasets),
        parameters=sum(int(np.prod(v.shape)) for v in q.trainable_variables),
        train_seconds_runs=train_seconds,
        retried=retried,
        seed=seed,
        group=key,
        group_train_seconds=float(sum(train_seconds)),
        group_evaluate_seconds=evaluate_seconds,
    )
    arrays = {
        f"{key}.npz": dict(z=z[:, best], log_q=log_q[:, best]),
        npe_file(key): dict(ranks=np.stack([s.ranks for s in sbc]).astype(np.int16),
                            counts=np.stack([s.histogram() for s in sbc]),
                            loss=np.stack(losses)),
    }
    return Outcome(rows=(fields,), arrays=arrays)


def make_jobs(scale, seed):
    """One job per parameterisation (cost: its estimated seconds, to start the longest first)."""
    jobs = []
    for centered in (True, False):
        steps, batch = steps_and_batch(centered, scale.npe)
        cost = scale.protocol.num_runs * steps * batch * scale.npe.num_flows * SECONDS_PER_SIMULATED_LAYER
        jobs.append(Job(spec(centered, scale.npe).key, train_npe, (centered, scale, seed), cost=cost))
    return jobs


def npe_rows(rows):
    """The NPE rows among ``rows``, centered first, labelled with Table VI's ``family``."""
    return sorted((dict(r, family=FAMILY) for r in rows if r["method"] == METHOD), key=lambda r: not r["centered"])


def true_model_row(rows, family, centered):
    """The row of Table VI's ``family`` (its label) on the true model, one parameterisation, plain gradient."""
    return next((r for r in rows if r["family"] == family and not r["thesis_compat"] and r["centered"] == centered
                 and "stl" not in r["variant"]), None)
