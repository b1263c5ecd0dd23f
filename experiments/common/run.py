"""What every experiment shares: its command line, its output folder, its results, the manifest and timings.

``python -m experiments.NAME [--quick | --full] [--out DIR] [--seed N] [--force] [--jobs N | --dask N | --scheduler ADDRESS]``

Full runs write into ``figures/NAME/`` and register their figures and tables in
``figures/manifest.json``; quick runs default to ``runs/quick/NAME/`` and never
write into ``figures/``. ``results.json`` records what made it (seed, scale and
every setting of the scale): a rerun reuses it only if they all match, and
otherwise stops and names the difference (``--force`` recomputes). Everything
the command line can get wrong is checked before any work starts.
"""
import argparse
import ast
import contextlib
import dataclasses
import importlib.util
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Callable

from experiments.common import paths, runner
from experiments.common.files import atomic_write, read_json, update_json, write_arrays, write_json, write_text

MAX_SEED = 2**31 - 1  # every seed also seeds NumPy, TensorFlow and scikit-learn

__all__ = ["Experiment", "Run", "add_scale_flags", "add_executor_flags", "check_executor", "executor_options",
           "COMPLETE", "finished_results",
           "machine_description"]


# ------------------------------------------------------------------ command line


def _integer(low, high=None):
    """An argparse type: an integer of at least ``low`` (and at most ``high``)."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < low or (high is not None and value > high):
            bounds = f"at least {low}" if high is None else f"in {low}..{high}"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {value}")
        return value

    return parse


def add_scale_flags(parser):
    """``--quick | --full``, ``--seed``, ``--force``."""
    scale = parser.add_mutually_exclusive_group()
    scale.add_argument("--quick", action="store_true", help="the same code path at reduced scale (minutes)")
    scale.add_argument("--full", action="store_true", help="the thesis's settings (default)")
    parser.add_argument("--seed", type=_integer(0, MAX_SEED), default=0, help="base seed of every training and draw (default 0)")
    parser.add_argument("--force", action="store_true", help="recompute results already in the output folder")


def add_executor_flags(parser):
    """Where the jobs run: ``--jobs N`` local processes (default 1), or a Dask cluster."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--jobs", type=_integer(1), default=1, metavar="N", help="N local worker processes (default 1)")
    where.add_argument("--dask", type=_integer(1), metavar="N",
                       help="start a Dask LocalCluster of N worker processes (needs the [dask] extra)")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="an existing Dask cluster, e.g. tcp://host:8786 (its workers need vinf installed)")


def check_executor(parser, args):
    """Refuse Dask flags when Dask is not installed."""
    if (args.dask or args.scheduler) and importlib.util.find_spec("distributed") is None:
        parser.error('--dask and --scheduler need Dask: pip install -e ".[dask]"')


def executor_options(args):
    """The keyword arguments of ``runner.executor`` that the command line gave."""
    return dict(jobs=args.jobs, dask=args.dask, scheduler=args.scheduler)


def _check_out(parser, out, quick):
    """``out`` must be a folder we may create or write in, and quick runs stay out of ``figures/``."""
    if quick and (out == paths.FIGURES or paths.FIGURES in out.parents):
        parser.error(f"--out {out}: --quick results never go into {paths.FIGURES} (the committed full-scale "
                     "results); choose a folder outside it")
    if out.exists() and not out.is_dir():
        parser.error(f"--out {out}: not a folder")
    existing = next(p for p in (out, *out.parents) if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        parser.error(f"--out {out}: cannot write in {existing}")


# ------------------------------------------------------------------ one run


def _made_by(seed, quick, scale):
    """Everything that decides an experiment's numbers, as ``results.json`` records it (JSON's types)."""
    return json.loads(json.dumps(dict(seed=seed, scale="quick" if quick else "full", **dataclasses.asdict(scale))))


def _differences(saved, wanted):
    """What differs between the saved record of what made the results and this run's, one phrase each."""
    if saved is None:
        return ["no record of what made them (written before results recorded it)"]
    keys = dict.fromkeys([*wanted, *saved])
    return [f"{key} {saved.get(key)!r} there, {wanted.get(key)!r} now" for key in keys if saved.get(key) != wanted.get(key)]


class Run:
    """One run of one experiment: where it writes, what it has already done, where its jobs run.

    Attributes:
      name, quick, seed, force, scale: from the command line.
      out: the output folder.
      registers: whether figures and tables go into ``figures/manifest.json``
        (true when ``out`` is ``figures/NAME``, the full-scale default).
    """

    def __init__(self, name, args, scale, out):
        self.name = name
        self.quick = bool(args.quick)
        self.seed = args.seed
        self.force = args.force
        self.scale = scale
        self.out = out
        self.registers = out == (paths.FIGURES / name).resolve()
        self.command = f"python -m experiments.{name}" + (" --quick" if self.quick else "")
        self.results_path = out / "results.json"
        self._executor = executor_options(args)
        self.pool = None  # an executor shared by several runs (set by the caller), else one opened when jobs need it
        self._stack = contextlib.ExitStack()
        made_by = _made_by(self.seed, self.quick, scale)
        saved = None if self.force else read_json(self.results_path)
        self.mismatch = [] if saved is None else _differences(saved.get("made_by"), made_by)
        if saved is None or self.mismatch:
            saved = dict(experiment=name, quick=self.quick, seed=self.seed, made_by=made_by, rows=[], extra={},
                         jobs={})
        self._results = saved
        # A run that starts from saved results times only what was left to do.
        self.resumed = bool(saved["rows"] or saved["extra"])
        self.computed = False  # whether any job ran: a rerun that only redraws keeps the recorded time
        self._started = None

    def __enter__(self):
        # Timed from here: `python -m experiments` opens every run before the first starts its work.
        self._started = time.perf_counter()
        self.out.mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(self, *exc):
        return self._stack.__exit__(*exc)

    # ---------------------------------------------------------------- results
    @property
    def rows(self):
        return self._results["rows"]

    def cached_row(self, key):
        """The stored row with this ``key``, or ``None``."""
        return next((row for row in self.rows if row.get("key") == key), None)

    def cached_extra(self, key):
        return self._results["extra"].get(key)

    def set_extra(self, key, value):
        self._results["extra"][key] = value
        write_json(self.results_path, self._results)

    def done(self, job):
        """Whether ``job``'s outcome is saved: in ``results.json``, with every file it wrote."""
        files = self._results["jobs"].get(job.key)
        return files is not None and all((self.out / f).exists() for f in files)

    def store(self, job, outcome):
        """Save a finished job: its arrays (first, so a recorded job has its files), then its rows and entries."""
        files = []
        for filename, arrays in outcome.arrays.items():
            write_arrays(self.draws / filename, arrays)
            files.append(f"draws/{filename}")
        keys = {row["key"] for row in outcome.rows}
        self._results["rows"] = [r for r in self.rows if r.get("key") not in keys] + list(outcome.rows)
        self._results["extra"].update(outcome.extra)
        self._results["jobs"][job.key] = files
        write_json(self.results_path, self._results)

    @property
    def draws(self):
        """The folder of the jobs' arrays (not committed)."""
        return self.out / "draws"

    def run_jobs(self, jobs, desc):
        """Run the ``jobs`` not saved yet (see ``experiments._runner``), saving each as it finishes."""
        todo = [job for job in jobs if not self.done(job)]
        if not todo:
            return
        self.computed = True
        if self.pool is None:
            self.pool = self._stack.enter_context(runner.executor(**self._executor))
        runner.run_jobs(todo, self.pool, self.store, f"{self.name}: {desc}")

    # ---------------------------------------------------------------- outputs
    def path(self, filename):
        return self.out / filename

    def write_text(self, filename, text):
        path = self.path(filename)
        write_text(path, text)
        return path

    def save_figure(self, fig, filename, figure_ids, dpi=130):
        """Save ``fig`` as a PNG and register it under each thesis figure id (e.g. ``"fig18"``)."""
        import matplotlib.pyplot as plt

        path = self.path(filename)
        with atomic_write(path, "wb") as handle:
            fig.savefig(handle, format="png", dpi=dpi, bbox_inches="tight")
        plt.close(fig)
        self.register(figure_ids, path)
        return path

    def save_table(self, markdown, filename, table_ids):
        """Write a markdown table and register it under each thesis table id (e.g. ``"tableII"``)."""
        path = self.write_text(filename, markdown.rstrip() + "\n")
        self.register(table_ids, path)
        return path

    def register(self, ids, path):
        """Add ``path`` to the manifest entries ``ids`` (full-scale runs into figures/ only)."""
        if not self.registers:
            return
        ids = [ids] if isinstance(ids, str) else list(ids)
        rel = str(Path(path).resolve().relative_to(paths.REPO))

        def update(manifest):
            for fid in ids:
                entry = manifest.get(fid)
                if entry is None or entry.get("command") != self.command:
                    entry = {"files": [], "command": self.command}
                if rel not in entry["files"]:
                    entry["files"].append(rel)
                manifest[fid] = entry
            return dict(sorted(manifest.items(), key=lambda kv: _manifest_order(kv[0])))

        update_json(paths.MANIFEST, update)

    def finish(self):
        """Record this experiment's wall time in ``figures/timings.json`` (full runs into figures/ only).

        A rerun that computed nothing (every job saved: it only redrew the
        figures and report) keeps the time of the run that computed them.

        The time goes under ``experiments``, and the experiment under ``partial``:
        timed after the ``total_seconds`` of the last full ``python -m
        experiments``, which only that command writes (and then clears ``partial``).
        """
        seconds = time.perf_counter() - self._started
        if self.registers and (self.computed or not self.resumed):

            def update(timings):
                timings.setdefault("experiments", {})[self.name] = round(seconds, 1)
                timings["resumed"] = sorted(set(timings.get("resumed", [])) - {self.name}
                                            | ({self.name} if self.resumed else set()))
                timings["partial"] = sorted(set(timings.get("partial", [])) | {self.name})
                timings["machine"] = machine_description()
                return timings

            update_json(paths.TIMINGS, update)
        return seconds


def _manifest_order(fid):
    kind = 0 if fid.startswith("fig") else 1
    roman = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5}
    tail = fid[3:] if kind == 0 else fid[5:]
    number = int(tail) if tail.isdigit() else roman.get(tail, 99)
    return (kind, number, fid)


COMPLETE = "complete"  # the entry of an experiment's results.json that says every job of it finished


def finished_results(run, name, with_draws=False):
    """The ``results.json`` (and its folder) of experiment ``name`` at ``run``'s scale and seed, which ``run``
    builds on; exits naming the command to run first if there is none, it is of another scale or seed, or that run
    has not finished (its ``extra`` lacks ``COMPLETE``). ``with_draws``: ``run`` reads that run's arrays too, which
    are not committed (a fresh clone has the results without them): exits before any work if one is missing."""
    folder = paths.quick_folder(name) if run.quick else (paths.FIGURES / name)
    saved = read_json(folder / "results.json")
    command = f"python -m experiments.{name}{' --quick' if run.quick else ''} --seed {run.seed}"
    what = name.replace("_", "-")
    if saved is None or saved.get("seed") != run.seed or saved.get("quick") != run.quick:
        raise SystemExit(f"{run.name} builds on the {what} results of the same scale and seed: run "
                         f"`{command}` first ({folder / 'results.json'} has {'none' if saved is None else 'others'})")
    if not saved["extra"].get(COMPLETE):
        raise SystemExit(f"{run.name} builds on a finished {what} run; {folder / 'results.json'} is from one "
                         f"still going or interrupted: let `{command}` finish (rerun it to resume), then rerun this")
    missing = sorted(f for files in saved["jobs"].values() for f in files if not (folder / f).exists())
    if with_draws and missing:
        raise SystemExit(f"{run.name} reads the {what} run's arrays, which are not committed: {len(missing)} are "
                         f"missing from {folder} (e.g. {missing[0]}). Run `{command}` first: it recomputes the jobs "
                         "whose arrays are missing, with the same seeds, and keeps the rest")
    return saved, folder


def machine_description():
    cores = os.cpu_count()
    return f"{platform.machine()}, {cores} cores, Python {platform.python_version()}, {platform.system()}"


# ------------------------------------------------------------------ an experiment


def command_line(name, description):
    """The parser of ``python -m experiments.NAME`` (``description``: the package's docstring)."""
    parser = argparse.ArgumentParser(prog=f"python -m experiments.{name}", description=description.splitlines()[0])
    add_scale_flags(parser)
    parser.add_argument("--out", type=Path, default=None,
                        help=f"output folder (default figures/{name}, or runs/quick/{name} with --quick)")
    add_executor_flags(parser)
    return parser


def command(name):
    """``python -m experiments.NAME`` from the package's ``__main__``: the command line is read first (its
    description from ``experiments.NAME.experiment``'s docstring, read as text), so that ``--help`` and a bad
    argument answer at once, without TensorFlow; then TensorFlow is imported quietly and the experiment (whose
    modules import it) runs."""
    entry = importlib.util.find_spec(f"experiments.{name}.experiment")
    description = ast.get_docstring(ast.parse(Path(entry.origin).read_text())) or name
    parser = command_line(name, description)
    check_executor(parser, parser.parse_args(sys.argv[1:]))
    runner.quiet_tensorflow()
    importlib.import_module(entry.name).EXPERIMENT.main(sys.argv[1:])


@dataclasses.dataclass(frozen=True)
class Experiment:
    """An experiment's command line and work: ``work(run)`` at scale ``full`` or ``quick``.

    ``description`` is the module's docstring (its first line is the ``--help`` summary).
    """

    name: str
    description: str
    full: object
    quick: object
    work: Callable

    def parser(self):
        return command_line(self.name, self.description)

    def open(self, argv=None):
        """Parse and check the command line and the saved results; the ``Run``, or exit 2 naming the problem."""
        parser = self.parser()
        args = parser.parse_args(argv)
        check_executor(parser, args)
        default = paths.quick_folder(self.name) if args.quick else (paths.FIGURES / self.name)
        out = (args.out or default).resolve()
        _check_out(parser, out, args.quick)
        run = Run(self.name, args, self.quick if args.quick else self.full, out)
        if run.mismatch:
            parser.error(f"{run.results_path} holds results made otherwise: {'; '.join(run.mismatch)}. "
                         "Rerun with --force to replace them, or choose another --out.")
        return run

    def execute(self, run):
        """Do the work of an opened run; return its wall time in seconds."""
        with run:
            self.work(run)
            seconds = run.finish()
        print(f"{self.name} done in {seconds:.0f} s -> {run.out}", flush=True)
        return seconds

    def main(self, argv=None):
        """``python -m experiments.NAME``."""
        runner.interruptible(lambda argv: self.execute(self.open(argv)))(argv)
