"""Beyond eight schools: the study's conclusions tested on TensorFlow Probability's Inference Gym.

``python -m experiments.gym [--quick | --full] [--out DIR] [--seed N] [--force] [--jobs N | --dask N | --scheduler ADDRESS]``

Every family of ``vinf.surrogates`` (mean field, full rank, planar at two
depths, radial, IAF, RealNVP, spline, and the model-informed flow where the
target's model has a hierarchy) on every offline Inference Gym target
with ground truth (``vinf.targets.from_inference_gym``), R trainings each under
one budget per target (steps, S, learning rate: the same for every family).
Each training is scored by its ELBO, both k-hat estimators and its posterior
means and sds against the gym's. A job whose estimated work exceeds the
scale's budget is refused, with its reason, before any work starts. The
report says, computed from the numbers, on how many targets each of the
thesis's conclusions holds. Needs the ``gym`` extra.
"""
from experiments.common.run import Experiment
from experiments.gym import report
from experiments.gym.config import FULL, NAME, QUICK
from experiments.gym.jobs import describe, plan


def work(run):
    facts = describe(run.scale)
    jobs, refused = plan(run.scale, run.seed, facts)
    print(f"gym: {len(jobs)} jobs on {len(run.scale.targets)} targets; {len(refused)} refused before any work")
    for refusal in refused:
        print(f"  refused: {refusal.reason}")
    run.run_jobs(jobs, "families on Inference Gym targets")
    rows = [run.cached_row(job.key) for job in jobs]
    report.write_report(run, [r for r in rows if r is not None], refused, {n: f.dim for n, f in facts.items()})


EXPERIMENT = Experiment(NAME, __doc__, FULL, QUICK, work)
main = EXPERIMENT.main
