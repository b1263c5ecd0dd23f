"""What every experiment shares: its command line, its output folder, the manifest.

``python -m experiments.NAME [--quick | --full] [--out DIR] [--seed N] [--force] [--jobs N]``

Full runs write into ``figures/NAME/`` and register their figures and tables in
``figures/manifest.json``; quick runs default to ``runs/quick/NAME/`` so they
never overwrite the committed full-scale results. Results are written as they
finish, atomically, and a rerun skips what is already there unless ``--force``.
"""
import argparse
import contextlib
import fcntl
import json
import logging
import os
import platform
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIGURES = REPO / "figures"
MANIFEST = FIGURES / "manifest.json"
TIMINGS = FIGURES / "timings.json"

__all__ = ["Run", "parse_args", "write_json", "read_json", "update_json"]

# Experiments build many surrogates, each with its own compiled step by design;
# TensorFlow's "frequent retracing" advice does not apply and buries the progress bars.
logging.getLogger("tensorflow").setLevel(logging.ERROR)
logging.getLogger("pymc").setLevel(logging.WARNING)  # its sampler chatter interleaves with the progress bars


def parse_args(name, description, argv=None):
    """The experiments' shared command line."""
    parser = argparse.ArgumentParser(prog=f"python -m experiments.{name}", description=description)
    scale = parser.add_mutually_exclusive_group()
    scale.add_argument("--quick", action="store_true", help="same code path at reduced scale (minutes)")
    scale.add_argument("--full", action="store_true", help="the thesis's settings (default)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default figures/NAME, or runs/quick/NAME with --quick)")
    parser.add_argument("--seed", type=int, default=0, help="base seed of every training and draw (default 0)")
    parser.add_argument("--force", action="store_true", help="recompute results already in the output folder")
    parser.add_argument("--jobs", type=int, default=1, help="parallel worker processes for independent trainings")
    args = parser.parse_args(argv)
    if args.seed < 0:
        parser.error("--seed must be non-negative")
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    return args


def write_json(path, data):
    """Write ``data`` as JSON atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=1, sort_keys=False, default=_json_default)
        handle.write("\n")
    os.replace(tmp, path)


def _json_default(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def read_json(path, default=None):
    path = Path(path)
    if not path.exists():
        return default
    with open(path) as handle:
        return json.load(handle)


@contextlib.contextmanager
def _locked(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def update_json(path, update):
    """Read-modify-write a JSON file under a lock: ``update(data) -> data``."""
    path = Path(path)
    with _locked(path):
        write_json(path, update(read_json(path, {})))


class Run:
    """One run of one experiment: where it writes and what it has already done.

    Attributes:
      name, quick, seed, force, jobs: from the command line.
      out: the output folder.
      registers: whether figures and tables go into ``figures/manifest.json``
        (true when ``out`` is ``figures/NAME``, the full-scale default).
    """

    def __init__(self, name, args):
        self.name = name
        self.quick = bool(args.quick)
        self.seed = args.seed
        self.force = args.force
        self.jobs = args.jobs
        default = (REPO / "runs" / "quick" / name) if self.quick else (FIGURES / name)
        self.out = (args.out or default).resolve()
        self.out.mkdir(parents=True, exist_ok=True)
        self.registers = self.out == (FIGURES / name).resolve()
        self.command = f"python -m experiments.{name}" + (" --quick" if self.quick else "")
        self.results_path = self.out / "results.json"
        self._results = read_json(self.results_path, None)
        if self._results is None or self.force or self._results.get("quick") != self.quick:
            self._results = dict(experiment=name, quick=self.quick, seed=self.seed, rows=[], extra={})
        # A run that starts from saved results times only what was left to do.
        self.resumed = bool(self._results["rows"] or self._results["extra"])
        self._started = time.perf_counter()

    # ---------------------------------------------------------------- results
    @property
    def rows(self):
        return self._results["rows"]

    def cached_row(self, key):
        """The stored row with this ``key`` (resuming a run), or ``None``."""
        for row in self.rows:
            if row.get("key") == key:
                return row
        return None

    def add_row(self, row):
        """Store a finished result (replacing one with the same ``key``) and save at once."""
        self._results["rows"] = [r for r in self.rows if r.get("key") != row.get("key")] + [row]
        self._save()

    def cached_extra(self, key):
        return None if self.force else self._results["extra"].get(key)

    def set_extra(self, key, value):
        self._results["extra"][key] = value
        self._save()

    def _save(self):
        write_json(self.results_path, self._results)

    # ---------------------------------------------------------------- outputs
    def path(self, filename):
        return self.out / filename

    def save_figure(self, fig, filename, figure_ids, dpi=130):
        """Save ``fig`` as a PNG and register it under each thesis figure id (e.g. ``"fig18"``)."""
        import matplotlib.pyplot as plt

        path = self.path(filename)
        tmp = path.with_name(f".{path.name}.tmp.png")
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
        os.replace(tmp, path)
        plt.close(fig)
        self.register(figure_ids, path)
        return path

    def save_table(self, markdown, filename, table_ids):
        """Write a markdown table and register it under each thesis table id (e.g. ``"tableII"``)."""
        path = self.path(filename)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(markdown.rstrip() + "\n")
        os.replace(tmp, path)
        self.register(table_ids, path)
        return path

    def register(self, ids, path):
        """Add ``path`` to the manifest entries ``ids`` (full-scale runs into figures/ only)."""
        if not self.registers:
            return
        ids = [ids] if isinstance(ids, str) else list(ids)
        rel = str(Path(path).resolve().relative_to(REPO))

        def update(manifest):
            for fid in ids:
                entry = manifest.get(fid)
                if entry is None or entry.get("command") != self.command:
                    entry = {"files": [], "command": self.command}
                if rel not in entry["files"]:
                    entry["files"].append(rel)
                manifest[fid] = entry
            return dict(sorted(manifest.items(), key=lambda kv: _manifest_order(kv[0])))

        update_json(MANIFEST, update)

    def finish(self):
        """Record this experiment's wall time in ``figures/timings.json`` (full runs into figures/)."""
        seconds = time.perf_counter() - self._started
        if self.registers:

            def update(timings):
                experiments = dict(timings.get("experiments", {}))
                experiments[self.name] = round(seconds, 1)
                resumed = set(timings.get("resumed", [])) - {self.name}
                if self.resumed:
                    resumed.add(self.name)
                return dict(
                    total_seconds=round(sum(experiments.values()), 1),
                    experiments=experiments,
                    resumed=sorted(resumed),
                    machine=machine_description(),
                )

            update_json(TIMINGS, update)
        return seconds


def _manifest_order(fid):
    kind = 0 if fid.startswith("fig") else 1
    roman = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5}
    tail = fid[3:] if kind == 0 else fid[5:]
    number = int(tail) if tail.isdigit() else roman.get(tail, 99)
    return (kind, number, fid)


def machine_description():
    cores = os.cpu_count()
    return f"{platform.machine()}, {cores} cores, Python {platform.python_version()}, {platform.system()}"
