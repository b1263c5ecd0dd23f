"""Run every experiment: ``python -m experiments [--quick | --full] [--only NAME ...] [--seed N] [--force] [--jobs N | --dask N | --scheduler ADDRESS]``.

The experiments run one after the other, in the thesis's order, their jobs on
one executor shared by all (``--jobs N`` local processes, ``--dask N`` a Dask
LocalCluster, ``--scheduler ADDRESS`` an existing Dask cluster). Every command
line and every saved result is checked before the first starts. Each
experiment saves its jobs as they finish, so an interrupted run resumes where
it stopped; ``--force`` recomputes. A full run writes ``figures/timings.json``
(its total, only when it ran every experiment) and the report ``figures/README.md``.
"""
import argparse
import sys
import time

from experiments import registry, report
from experiments.common import paths, runner
from experiments.common.files import update_json
from experiments.common.run import (add_executor_flags, add_scale_flags, check_executor, executor_options,
                                    machine_description)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m experiments", description=__doc__.splitlines()[0])
    add_scale_flags(parser)
    parser.add_argument("--only", nargs="+", choices=registry.REPRODUCTION, metavar="NAME",
                        help=f"run a subset of: {', '.join(registry.REPRODUCTION)}")
    add_executor_flags(parser)
    args = parser.parse_args(argv)
    check_executor(parser, args)
    return args


def record_total(seconds):
    """The total of a full run of every experiment; no experiment is timed apart from it any more."""

    def update(timings):
        timings.update(total_seconds=round(seconds, 1), partial=[], machine=machine_description())
        return timings

    update_json(paths.TIMINGS, update)


def main(argv=None):
    args = parse_args(argv)
    names = [n for n in registry.REPRODUCTION if args.only is None or n in args.only]
    runner.quiet_tensorflow()  # the experiments import it; the arguments were read first
    flags = ["--quick" if args.quick else "--full", "--seed", str(args.seed)] + (["--force"] if args.force else [])
    experiments = [registry.load(name) for name in names]
    runs = [experiment.open(flags) for experiment in experiments]
    started = time.perf_counter()
    with runner.executor(**executor_options(args)) as pool:
        for i, (experiment, run) in enumerate(zip(experiments, runs), 1):
            print(f"[{i}/{len(runs)}] python -m experiments.{experiment.name} {' '.join(flags)}", flush=True)
            run.pool = pool
            experiment.execute(run)
    total = time.perf_counter() - started
    if not args.quick:
        if args.only is None and not any(run.resumed for run in runs):
            record_total(total)  # a complete run; one that resumed or only redrew keeps the last complete total
        report.write()
        print(f"all done in {total:.0f} s; report: {paths.FIGURES / 'README.md'}")


if __name__ == "__main__":
    runner.interruptible(main)(sys.argv[1:])
