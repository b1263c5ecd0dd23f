"""Section IV: what a normalizing flow does to space and to a density, Figures 8-16.

``python -m experiments.flow_geometry [--quick | --full] [--out DIR] [--seed N] [--force] [--jobs N | --dask N | --scheduler ADDRESS]``

Nothing is trained: every flow has fixed parameters and every density is exact.
The exponential flow (Figure 8) is ``tfd.TransformedDistribution(N(0, 1), Exp)``.
Planar flows have no inverse, so their densities are pushed forward: a fine
grid of ``z_0`` goes through ``forward`` and each image point ``z_K`` carries
``log q_K(z_K) = log q_0(z_0) - sum_k log|det df_k/dz|`` (eq. 59, 63). Radial
flows are scored on a regular grid through their analytic inverse (eq. 77) by
``TransformedDistribution.log_prob``.

The thesis drew Figures 10-16 with the raw parameters; ``vinf``'s bijectors
always apply the invertibility corrections (eqs. 64, 75). So each layer is
specified by the effective ``u_hat`` (``beta_hat``) it must have, and the raw
``u`` (``beta``) handed to the bijector is obtained by inverting the correction.

The run takes seconds, so it always redraws every figure in the driver: it
has no jobs for the runner (``--seed`` and the executor flags are accepted for
the shared command line: nothing here is random or worth a worker process).
``--quick`` uses coarser grids. The statements of section IV that the numbers test are checked (``claims``).
"""
from experiments.common.run import Experiment
from experiments.flow_geometry import claims, figures, jobs, report
from experiments.flow_geometry.config import FULL, NAME, QUICK
from experiments.flow_geometry.layers import parameters


def work(run):
    """Every density and what the report states of it, saved in ``results.json``; then the figures and the report."""
    data = jobs.densities(run.scale.grid)
    summaries = {fid: jobs.summary(*density) for fid, density in data.items()}
    measured = jobs.measure(run.scale, data)
    run.set_extra("parameters", parameters())
    run.set_extra("densities", summaries)
    run.set_extra("measured", measured)
    figures.make_all(run, run.scale, data, measured)
    report.write_report(run, summaries, measured)
    run.set_extra("claims", claims.checked(measured))


EXPERIMENT = Experiment(NAME, __doc__, FULL, QUICK, work)
main = EXPERIMENT.main
