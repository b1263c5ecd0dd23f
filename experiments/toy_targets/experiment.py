"""Section VI.A: the demonstrative targets, Figures 17-35.

``python -m experiments.toy_targets [--quick | --full] [--out DIR] [--seed N] [--force] [--jobs N | --dask N | --scheduler ADDRESS]``

Every target is fitted by the protocol of ``experiments.common.toys`` (S = 500
draws per step, Adam 1e-2, the K and epochs of each caption; the targets as
the study's code defines them) by planar flows, radial flows and, as a
baseline, mean-field Gaussians from several starts spread over each target's
box (``experiments.common.baselines``), beside the best diagonal Gaussian found
by quadrature. Beyond the study: each fit's ELBO against the exact ``log Z``
by quadrature (so ``KL(q||p) = log Z - ELBO``), and, for the targets with two
mirrored modes (two hills, also with the caption's narrower sigma, and energy
1), how many of R seeds cover both modes under our choices; ``python -m
experiments.ablations`` trains the same seeds under the study's choices,
annealed and longer. Each group, the quadrature optimum and NUTS on the banana
are jobs of the shared runner, saved as they finish (trained parameters under
``draws/``, numbers in ``results.json``); a rerun skips the jobs already saved.
Then the driver rebuilds the fits, measures on them what the report states
(saved in ``results.json``), and draws the figures.
"""
from experiments.common.run import COMPLETE, Experiment
from experiments.toy_targets import claims, figures, fits, measure, report
from experiments.toy_targets.config import FULL, NAME, OPTIMUM_STARTS, QUICK
from experiments.toy_targets.jobs import GaussianOptimum, Nuts, mode_groups, plan_jobs, table_groups, trace_groups
from vinf.targets import THESIS_MIXTURE


def work(run):
    """Train what is not saved yet; then the KL table, the numbers measured on the fits, Figures 17-35, the
    report and the claims."""
    scale = run.scale
    mixture = THESIS_MIXTURE  # Figures 19-21: the mixture the study fitted, its demo_gmm
    run.set_extra("mixture", mixture)
    tables, traces, modes = table_groups(scale), trace_groups(scale), mode_groups(scale)
    nuts = Nuts(scale.nuts_draws, scale.nuts_tune)
    optimum = GaussianOptimum(OPTIMUM_STARTS * scale.starts)
    print(f"toy targets: {len(tables) + len(traces) + len(modes)} batched trainings, the best Gaussians by "
          "quadrature and NUTS on the banana")
    run.run_jobs(plan_jobs(scale, run.seed, tables, traces, modes, [nuts, optimum]), "trainings, quadrature and NUTS")
    rows = [run.cached_row(g.member_key(t)) for g in tables for t in g.targets]
    run.save_table(report.kl_table(rows, run.cached_extra("gaussian_optimum")), "kl_table.md", [])

    fitted = fits.load(run, tables, traces, modes, nuts, scale.draws)
    measured = measure.everything(fitted, mixture)
    for key, value in measured.items():
        run.set_extra(key, value)
    figures.make_all(run, fitted, measured)
    facts = report.write_report(run, rows, measured, mixture)
    run.set_extra("claims", claims.checked(facts))
    run.set_extra(COMPLETE, True)  # what the ablations' mode study checks for


EXPERIMENT = Experiment(NAME, __doc__, FULL, QUICK, work)
main = EXPERIMENT.main
