"""Sections II-III: the mean-field approximation, CAVI for the Gaussian mixture, and ADVI (Figures 2-7).

``python -m experiments.mean_field [--quick | --full] [--out DIR] [--seed N] [--force] [--jobs N | --dask N | --scheduler ADDRESS]``

Figures 2 and 3 fit Gaussians by ADVI (``vinf.fit``) to a bimodal 1-D density and to
a correlated 2-D Gaussian. Figure 4's data are drawn from a two-component
mixture, ``vinf.targets.THESIS_MIXTURE`` (the thesis prints no parameters for it; these
are its code's ``demo_gmm``); CAVI (``vinf.cavi``) fits the Bayesian Gaussian mixture
to them (Figure 6), checked against scikit-learn's ``BayesianGaussianMixture`` under
the same prior. Mean-field ADVI fits the generating mixture in Figure 7 from several
starts, as the study's code did (and the toy-targets experiment's Figures 19-21).
Each of these five parts is a job of the shared runner, saved as it finishes; a
rerun only redraws the figures unless ``--force``. The claims of sections II-III
that the numbers test are checked (``claims``).
"""
from experiments.common.data import figure4_data
from experiments.common.run import Experiment
from experiments.mean_field import claims, figures, report
from experiments.mean_field.config import FULL, NAME, QUICK
from experiments.mean_field.jobs import parts


def work(run):
    """Run the parts not saved yet, then draw every figure and write the report."""
    jobs = parts(run.scale, run.seed)
    run.run_jobs(jobs, "ADVI, CAVI and scikit-learn")
    results = {job.key: run.cached_extra(job.key) for job in jobs}
    figures.make_all(run, results, figure4_data(run.seed)[0])
    report.write_report(run, results)
    run.set_extra("claims", claims.checked(results))


EXPERIMENT = Experiment(NAME, __doc__, FULL, QUICK, work)
main = EXPERIMENT.main
