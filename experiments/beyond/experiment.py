"""Beyond the study: the flows its discussion asked for (section VII), on eight schools, by its own protocol.

``python -m experiments.beyond [--quick | --full] [--out DIR] [--seed N] [--force] [--jobs N | --dask N | --scheduler ADDRESS]``

Table VI sets every family of ``vinf.surrogates`` beside the study's: mean field
and full rank (baselines), planar K = 64 (the study's), radial, IAF, RealNVP,
a rational-quadratic spline flow, and planar flows with a leaky-ReLU
non-linearity, on eight schools (J = 8), centered and not, on the true model and
the study's target; each row is R = 5 trainings of 15000 steps (S = 500),
scored by k-hat and the ELBO over 50 sets of 5000 draws, as Tables II-V.
Mean-field and planar rows are those of ``python -m
experiments.eight_schools`` (which must have run first, and whose NUTS draws
are the reference); the radial row (the study trained radial flows and
reported none) is trained here, keyed as the reproduction's Table III radial
rows were. The depth question: Table V's sweep extended to K = 256,
with tanh and leaky ReLU, at the study's learning rate and at 3e-3, with each
layer's gradient norm before training and at the checkpoint. The gradient
question: "sticking the landing" beside the plain reparameterisation gradient.
"""
from experiments.beyond import figures, npe_figures, npe_jobs, npe_report, report
from experiments.beyond.config import FULL, NAME, QUICK, VARIANTS
from experiments.beyond.jobs import depth_specs, make_jobs, parameter_count, radial_specs, table6_specs
from experiments.common.run import Experiment
from experiments.common.schools import reference_results


def work(run):
    scale = run.scale
    baseline, draws = reference_results(run, with_draws=True)  # NUTS's and the reproduction's rows' draws
    nuts = report.nuts_reference(draws)
    print(f"beyond: {len(table6_specs(scale)) + len(radial_specs(scale)) + len(depth_specs(scale))} rows")
    run.run_jobs(make_jobs(scale, run.seed) + npe_jobs.make_jobs(scale, run.seed), "Table VI, depth, STL and NPE trainings")
    own = {r["key"]: r for r in run.rows if not r.get("diverged")}
    diverged = [r for r in run.rows if r.get("diverged")]  # every attempt diverged: named in the report
    rows6 = report.table6_rows(scale, own, baseline)
    npe_rows = npe_jobs.npe_rows(own.values())
    params = {(r["method"], r["num_flows"], r["variant"]):
              parameter_count(r["method"], r["num_flows"], VARIANTS[r["variant"]]) for r in rows6}
    params.update({(r["method"], r["num_flows"], r["variant"]): r["parameters"] for r in npe_rows})
    table = report.table6_markdown(rows6 + npe_rows, nuts, params)
    run.save_table("**Table VI: every family on eight schools (J = 8)**\n\n" + table, "tableVI.md", ["tableVI"])
    figures.make_all(run, rows6, own, baseline, draws, diverged)
    npe_figures.npe_figure(run, npe_rows, rows6, own, draws)
    report.write_report(run, rows6, own, baseline, draws, table,
                        sections=npe_report.section(run, npe_rows, rows6, nuts, npe_report.nuts_mcse(draws)),
                        headlines=[npe_report.headline(npe_rows)], diverged=diverged)


EXPERIMENT = Experiment(NAME, __doc__, FULL, QUICK, work)
main = EXPERIMENT.main
