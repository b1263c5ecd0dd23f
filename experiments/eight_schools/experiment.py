"""Section VI.B: the eight-schools model, Tables I-V and Figures 37-48.

``python -m experiments.eight_schools [--quick | --full] [--out DIR] [--seed N] [--force] [--jobs N | --dask N | --scheduler ADDRESS]``

Every table row follows the thesis's protocol: R = 5 trainings of 15000 Adam
steps (S = 500, learning rate 1e-2); after training, 50 sets of 5000 draws each
give k-hat and the ELBO, averaged per training; the row reports their mean and
sd over trainings. Each row is run on the study's target (``thesis_compat=True``,
which its numbers belong to) and on the true model, beside the exact log
evidence by quadrature. (Radial flows, which the study trained but did not
report, are ``python -m experiments.beyond``'s.)
Rows that differ only in their target train together as one batched surrogate
(``Group``). Each group, and each NUTS baseline, is a job of the shared
runner (``--jobs N``, ``--dask N``, ``--scheduler ADDRESS``), saved as it
finishes; a rerun skips the jobs already saved.
"""
from experiments.common import thesis
from experiments.common.run import COMPLETE, Experiment
from experiments.common.schools import NUTS_SCHOOLS, load_nuts
from experiments.eight_schools import claims, figures, report
from experiments.eight_schools.config import FULL, NAME, QUICK, TABLE_TITLES
from experiments.eight_schools.jobs import make_jobs, table_specs
from experiments.eight_schools.tables import data_table, headline_markdown, table_markdown


def work(run):
    """Train what is not saved yet, then write Tables I-V, Figures 37-48 and the report."""
    scale = run.scale
    specs = table_specs(scale)
    print(f"eight schools: {len(specs)} table rows, {scale.num_runs} trainings x {scale.num_steps} steps each")
    run.save_table(data_table(), "tableI.md", ["tableI"])
    run.run_jobs(make_jobs(scale, specs, run.seed), "trainings and NUTS")
    run.set_extra(COMPLETE, True)  # what the experiments built on this one check for
    rows = [thesis.attach(run.cached_row(s.key)) for s in specs]
    for table, title in TABLE_TITLES.items():
        run.save_table(f"**{title}**\n\n" + table_markdown(rows, table, judge=not run.quick), f"table{table}.md",
                       [f"table{table}"])
    posteriors = load_nuts(run.draws)
    diagnostics = {j: run.cached_extra(f"nuts_diagnostics_J{j}") for j in NUTS_SCHOOLS}
    figures.make_all(run, scale, specs, rows, posteriors)
    if not run.quick:  # the study's conclusions, for the report's table of the whole study
        run.set_extra("claims", claims.checked(rows, scale.deep, tuple(scale.depths)))
    report.write_report(run, rows, posteriors, {j: d for j, d in diagnostics.items() if d is not None})
    run.write_text("headline.md", headline_markdown(rows) + "\n")


EXPERIMENT = Experiment(NAME, __doc__, FULL, QUICK, work)
main = EXPERIMENT.main
