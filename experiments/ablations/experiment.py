"""Each of our departures from the study switched off, on the eight-schools rows that deviate from the thesis.

``python -m experiments.ablations [--quick | --full] [--out DIR] [--seed N] [--force] [--jobs N | --dask N | --scheduler ADDRESS]``

Our defaults depart from the study's code in two choices a number can depend
on: the planar ``w`` starts at sd 1/sqrt(D), not 1e-2, and the checkpoint is
the lowest moving average of the loss, where the study's code kept the
parameters after the update that followed its lowest single-step loss from
step 500 on (commit ee24ca6, when its tables were made; its final commit saved
only on a loss 2 % below the last saved one). Each is a variant of
``experiments.common.variants``: ``thesis_init``, ``thesis_checkpoint``, both
(``thesis_all``), and ``thesis_final_checkpoint``. They rerun, on the study's
target and by its protocol, every row of ours whose k-hat or ELBO deviates
from the thesis by the agreement rule, from the same seeds as ours; rows carry
``"variant"``. The default rows are those of ``python -m
experiments.eight_schools`` at the same scale and seed, which must have
finished first. The report says, for each deviation, which departure moves
it and by how much, which checkpoint rule the thesis's numbers follow, and
which choice the numbers support once corrected for the number of comparisons.
"""
from experiments.ablations import modes, modes_report, report
from experiments.ablations.config import FULL, NAME, QUICK
from experiments.ablations.jobs import ablated_rows, ablated_specs
from experiments.common import thesis
from experiments.common.run import Experiment
from experiments.common.schools import quick_banner, reference_results, training_jobs


def work(run):
    defaults, _ = reference_results(run)
    toy = modes.reference(run)  # the toy targets' mode study under our choices, which the variants sit beside
    specs = ablated_specs(ablated_rows(defaults, run.quick))
    print(f"ablations: {len(specs)} rows, {run.scale.num_runs} trainings x {run.scale.num_steps} steps each")
    run.run_jobs(training_jobs(run.scale, specs, run.seed), "ablated trainings")
    rows = [thesis.attach(run.cached_row(s.key)) for s in specs]
    lines = [quick_banner(run, run.scale)] if run.quick else []
    lines += report.write_report(run, defaults, rows, specs)
    run.run_jobs(modes.jobs(toy.scale, run.seed), "the toy mode study's variants")
    lines += modes_report.section(run, toy, modes.rows(run, toy.scale), modes.losses(run, toy.scale))
    run.write_text("report.md", "\n".join(lines))


EXPERIMENT = Experiment(NAME, __doc__, FULL, QUICK, work)
main = EXPERIMENT.main
