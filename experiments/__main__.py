"""Run every experiment: ``python -m experiments [--quick | --full] [--only NAME ...] [--jobs N] [--force] [--seed N]``.

Each experiment runs in its own process (``python -m experiments.NAME``), in
the thesis's order. Each one writes its results as they finish, so an
interrupted run resumes where it stopped; ``--force`` recomputes. A full run
(the default) ends by writing ``figures/timings.json`` and the report
``figures/README.md``.
"""
import argparse
import subprocess
import sys
import time

from experiments import report
from experiments._common import FIGURES, TIMINGS, machine_description, read_json, write_json

EXPERIMENTS = ("mean_field", "flow_geometry", "toy_targets", "eight_schools")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m experiments", description=__doc__.splitlines()[0])
    scale = parser.add_mutually_exclusive_group()
    scale.add_argument("--quick", action="store_true", help="every experiment at reduced scale")
    scale.add_argument("--full", action="store_true", help="the thesis's settings (default)")
    parser.add_argument("--only", nargs="+", choices=EXPERIMENTS, metavar="NAME",
                        help=f"run a subset of: {', '.join(EXPERIMENTS)}")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes for independent trainings")
    parser.add_argument("--force", action="store_true", help="recompute results already written")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    names = [n for n in EXPERIMENTS if args.only is None or n in args.only]
    flags = ["--quick"] if args.quick else ["--full"]
    flags += ["--seed", str(args.seed), "--jobs", str(args.jobs)] + (["--force"] if args.force else [])
    started = time.perf_counter()
    for i, name in enumerate(names, 1):
        print(f"[{i}/{len(names)}] python -m experiments.{name} {' '.join(flags)}", flush=True)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", f"experiments.{name}", *flags], check=True)
        print(f"[{i}/{len(names)}] {name} done in {time.perf_counter() - t0:.0f} s", flush=True)
    total = time.perf_counter() - started
    if not args.quick:
        if args.only is None:
            timings = read_json(TIMINGS, {})
            timings.update(total_seconds=round(total, 1), machine=machine_description())
            write_json(TIMINGS, timings)
        report.main()
        print(f"all done in {total:.0f} s; report: {FIGURES / 'README.md'}")


if __name__ == "__main__":
    main()
