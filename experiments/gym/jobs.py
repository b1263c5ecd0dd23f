"""The Inference Gym experiment's work: every family on every target, R trainings each, scored against the
gym's ground truth; a job too large for its budget is refused before any work."""
import dataclasses
import time

import numpy as np

import vinf
from experiments.common.runner import Job, Outcome
from experiments.common.seeds import Stream, job_seed
from experiments.gym.config import FAMILIES


EVAL_CHUNK = 250  # draws per evaluation of the target: the item-response model holds every answer per point


@dataclasses.dataclass(frozen=True)
class Refusal:
    target: str
    family: str
    reason: str


def job_key(target, family):
    return f"{target.name}/{family.label}"


def job_work(target, family, dim, scale):
    """The work of a job in ``Family.work``'s units: per draw and step, times steps, S and R."""
    return family.work(dim) * scale.steps(target) * target.sample_size * scale.num_runs


@dataclasses.dataclass(frozen=True)
class TargetFacts:
    """What the driver knows of a target before any work: its unconstrained coordinates, and whether its model
    has a hierarchy (``target.hierarchy``) for the families that read one."""

    dim: int
    hierarchical: bool


def reads_model(family):
    """Families that take the target itself (the model-informed flow reads its hierarchy)."""
    return "target" in vinf.surrogates.options(family.name)


def describe(scale):
    """Each target's ``TargetFacts`` (builds each model once, in the driver)."""
    targets = {t.name: vinf.targets.from_inference_gym(t.name) for t in scale.targets}
    return {name: TargetFacts(t.dim, t.hierarchy is not None) for name, t in targets.items()}


def plan(scale, seed, facts):
    """The jobs and the refusals: a (target, family) pair whose work exceeds ``scale.max_job_work`` is refused
    with its reason (a planar flow of 64 layers on 501 dimensions, say), never left to run for hours; so is a
    family that reads the model's hierarchy on a target without one."""
    jobs, refused = [], []
    for target in scale.targets:
        dim = facts[target.name].dim
        for family in (f for f in FAMILIES if f.label in scale.families):
            work = job_work(target, family, dim, scale)
            if reads_model(family) and not facts[target.name].hierarchical:
                refused.append(Refusal(target.name, family.label, (
                    f"{family.label} on {target.name}: reads the model's hierarchy, and this target has none (its "
                    "gym model gives no prior as a JointDistribution): refused before any work")))
                continue
            if work > scale.max_job_work:
                refused.append(Refusal(target.name, family.label, (
                    f"{family.label} on {target.name} ({dim} dimensions): {work:.1e} units of work "
                    f"({scale.steps(target)} steps × S = {target.sample_size} × R = {scale.num_runs}), above this run's "
                    f"{scale.max_job_work:.0e}: refused before any work")))
                continue
            jobs.append(Job(job_key(target, family), train_family, (target, family, scale, seed), cost=work))
    return jobs, refused


def moments(target, z):
    """Each training's posterior mean and sd of the ground truth's quantities from its draws ``z [N, R, dim]``,
    in units of the ground truth's sd: ``|mean - truth| / sd_truth`` and ``sd / sd_truth`` ([R, M] each; the
    second ``None`` where the gym gives no sd)."""
    truth = target.ground_truth
    x = truth.transform(z).astype(np.float64)  # [N, R, M]
    mean, sd = x.mean(axis=0), x.std(axis=0)
    scale = truth.sd if truth.sd is not None else np.ones_like(truth.mean)
    error = np.abs(mean - truth.mean) / scale
    return error, None if truth.sd is None else sd / truth.sd


def train_family(target_spec, family, scale, base_seed):
    """A job: R trainings of ``family`` on ``target_spec`` by its budget, each scored by its ELBO, both k-hat
    estimators and its moments against the ground truth (one set of ``scale.eval_draws`` draws each)."""
    target = vinf.targets.from_inference_gym(target_spec.name)
    key = job_key(target_spec, family)
    seed = job_seed(base_seed, key)
    steps, runs = scale.steps(target_spec), scale.num_runs
    model = dict(target=target) if reads_model(family) else {}
    q = vinf.surrogates.get(family.name, target.dim, seed=seed, batch_shape=[runs], **family.surrogate_options,
                            **model)
    started = time.perf_counter()
    diverged = None
    try:
        fit = vinf.fit(target, q, num_steps=steps, sample_size=target_spec.sample_size,
                       learning_rate=target_spec.learning_rate, seed=seed, progress=False,
                       jit_compile=target_spec.jit_compile)
        seconds = fit.seconds
    except FloatingPointError as err:  # a result, not a crash: q keeps its last finite state
        diverged, seconds = str(err), time.perf_counter() - started
    z, log_q = q.experimental_sample_and_log_prob(scale.eval_draws, seed=(seed, Stream.GYM_DRAWS))
    log_p = np.concatenate([target.log_prob_as(q.dtype)(z[i:i + EVAL_CHUNK]).numpy()
                            for i in range(0, scale.eval_draws, EVAL_CHUNK)])
    lw = (log_p - log_q.numpy()).astype(np.float64)  # [N, R]
    finite = np.isfinite(lw).all(axis=0)
    khat = {m: [float(vinf.diagnostics.khat_from_log_weights(lw[:, r], m)) if finite[r] else float("inf")
                for r in range(runs)] for m in ("arviz", "thesis")}
    error, sd_ratio = moments(target, z.numpy())
    row = dict(
        key=key, target=target_spec.name, family=family.label, method=family.name,
        surrogate_options=family.surrogate_options, dim=target.dim, steps=steps,
        sample_size=target_spec.sample_size, learning_rate=target_spec.learning_rate, runs=runs, seed=seed,
        elbo_runs=[float(v) if np.isfinite(v) else None for v in lw.mean(axis=0)],
        khat_runs=khat["arviz"], khat_thesis_runs=khat["thesis"],
        max_error_runs=error.max(axis=1).tolist(), median_error_runs=np.median(error, axis=1).tolist(),
        min_sd_ratio_runs=None if sd_ratio is None else sd_ratio.min(axis=1).tolist(),
        median_sd_ratio_runs=None if sd_ratio is None else np.median(sd_ratio, axis=1).tolist(),
        log_evidence=target.log_evidence(), diverged=diverged,
        seconds=seconds, seconds_per_1000_steps=1000 * seconds / steps,
    )
    return Outcome(rows=(row,))
