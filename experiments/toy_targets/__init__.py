"""Section VI.A: the demonstrative targets, Figures 17-35.

``python -m experiments.toy_targets [--quick | --full] [--out DIR] [--seed N] [--force] [--jobs N | --dask N | --scheduler ADDRESS]``

Every target is fitted with ``vinf.fit`` at the study's settings (S = 500 draws
per step, Adam 1e-2, the K and epochs of each caption) by planar flows, radial
flows and, as a baseline, mean-field Gaussians from several starts spread over
each target's box (``experiments.common.baselines``), beside the best diagonal
Gaussian found by quadrature. Trainings that share a family, K, number of steps
and S run as ONE batched surrogate whose member ``t`` fits target ``t``
(``vinf.targets.side_by_side``; each member has its own loss and checkpoint),
so the costly XLA compilation happens once per group. Beyond the study: each
fit's ELBO against the exact ``log Z`` by quadrature (so ``KL(q||p) = log Z -
ELBO``), and, for the two-mode targets (two hills, energy 1), how many of R
seeds cover both modes under our choices and under each departure switched
back to the study's (``config.VARIANTS``: its planar initialisation, its
checkpoint, both), annealed, and trained three times longer. Each group, the
quadrature optimum and NUTS on the banana are jobs of the shared runner, saved
as they finish (trained parameters under ``draws/``, numbers in
``results.json``); a rerun skips the jobs already saved. Then the driver
rebuilds the fits, measures on them what the report states (saved in
``results.json``), and draws the figures.
"""
from experiments.common.run import Experiment
from experiments.toy_targets import figures, fits, measure, report
from experiments.toy_targets.config import FULL, NAME, OPTIMUM_STARTS, QUICK
from experiments.toy_targets.jobs import (GaussianOptimum, Nuts, mixture_parameters, mode_groups, table_groups,
                                          trace_groups)


def work(run):
    """Train what is not saved yet; then the KL table, the numbers measured on the fits, Figures 17-35 and
    the report."""
    scale = run.scale
    mixture = run.cached_extra("mixture") or mixture_parameters(run.seed)
    run.set_extra("mixture", mixture)
    target_kwargs = {"gaussian_mixture": mixture}
    tables = table_groups(scale, target_kwargs)
    traces, modes = trace_groups(scale), mode_groups(scale)
    nuts = Nuts(scale.nuts_draws, scale.nuts_tune)
    optimum = GaussianOptimum(OPTIMUM_STARTS * scale.starts, target_kwargs)
    print(f"toy targets: {len(tables) + len(traces) + len(modes)} batched trainings, the best Gaussians by "
          "quadrature and NUTS on the banana")
    run.run_jobs([item.job(scale, run.seed) for item in tables + traces + modes + [nuts, optimum]],
                 "trainings, quadrature and NUTS")
    rows = [run.cached_row(g.member_key(t)) for g in tables for t in g.targets]
    run.save_table(report.kl_table(rows, run.cached_extra("gaussian_optimum")), "kl_table.md", [])

    fitted = fits.load(run, target_kwargs, tables, traces, modes, nuts, scale.draws)
    measured = measure.everything(fitted, mixture, scale.eval_draws, run.seed)
    for key, value in measured.items():
        run.set_extra(key, value)
    figures.make_all(run, fitted, measured)
    report.write_report(run, rows, measured["mode_study"],
                        dict(traces=measured["fig17_traces"], arms=measured["banana_arms"], **measured["measured"]),
                        mixture)


EXPERIMENT = Experiment(NAME, __doc__, FULL, QUICK, work)
main = EXPERIMENT.main
