"""The experiments' runner and command lines: checked before work, seeds respected, files whole, Ctrl-C clean,
and the same numbers on a Dask cluster as on local processes."""
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from experiments import __main__ as driver
from experiments import registry, report
from experiments.flow_geometry import experiment as flow_geometry
from experiments.mean_field import experiment as mean_field
from experiments.mean_field import jobs as mean_field_jobs
from experiments.toy_targets import experiment as toy_targets
from experiments.common import paths, runner
from experiments.common import run as run_module
from experiments.common.paths import FIGURES, REPO

ENTRY_POINTS = ["experiments", "experiments.mean_field", "experiments.flow_geometry", "experiments.toy_targets",
                "experiments.eight_schools", "experiments.ablations", "experiments.beyond", "experiments.report"]
TF_NOISE = ("oneDNN", "cuInit", "absl::InitializeLog", "cuda", "DT_BOOL")


def _python(*argv, **kwargs):
    return subprocess.run([sys.executable, *argv], cwd=REPO, capture_output=True, text=True, timeout=600, **kwargs)


def _snapshot(folder):
    """Every file under ``folder`` with its modification time and size."""
    return {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in folder.rglob("*") if p.is_file()}


# ------------------------------------------------------------------ command lines


@pytest.mark.parametrize("argv", [["--jobs", "0"], ["--only", "no_such_experiment"], ["--quick", "--full"],
                                  ["--seed", "-1"], ["--seed", "x"], ["--seed", str(2**31)], ["--dask", "0"],
                                  ["--jobs", "2", "--dask", "2"]])
def test_bad_arguments_stop_before_any_work(argv, capsys):
    with pytest.raises(SystemExit) as stop:
        driver.parse_args(argv)
    assert stop.value.code == 2
    assert "error" in capsys.readouterr().err


@pytest.mark.parametrize("case", ["a file", "under a file", "quick into figures", "seed"])
def test_bad_out_or_seed_exits_2_with_a_usage_line_and_writes_nothing(tmp_path, case):
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    argv = {"a file": ["--out", str(afile)], "under a file": ["--out", str(afile / "sub")],
            "quick into figures": ["--out", str(FIGURES / "mean_field")], "seed": ["--seed", "-3"]}[case]
    before = _snapshot(FIGURES), _snapshot(tmp_path)
    done = _python("-m", "experiments.mean_field", "--quick", *argv)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("usage: python -m experiments.mean_field")
    assert "Traceback" not in done.stderr
    assert {"a file": "not a folder", "under a file": "cannot write", "quick into figures": "never go into",
            "seed": "--seed"}[case] in done.stderr
    assert (_snapshot(FIGURES), _snapshot(tmp_path)) == before


@pytest.mark.parametrize("module", ENTRY_POINTS)
def test_help_answers_without_tensorflow_and_writes_nothing(module):
    before = _snapshot(FIGURES), (REPO / "README.md").stat().st_mtime_ns
    done = _python("-X", "importtime", "-m", module, "--help")
    assert done.returncode == 0 and done.stdout.startswith(f"usage: python -m {module}"), done.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time")}
    assert not {name for name in imported if name.split(".")[0] in ("tensorflow", "vinf")}
    assert (_snapshot(FIGURES), (REPO / "README.md").stat().st_mtime_ns) == before


# ------------------------------------------------------------------ results know what made them


@pytest.fixture(scope="module")
def local_run(mean_field_quick):
    """A quick mean-field run on local processes (the default executor)."""
    return mean_field_quick[0]


@pytest.mark.parametrize("argv, named", [(["--quick", "--seed", "1"], "seed 0 there, 1 now"),
                                         (["--full"], "scale 'quick' there, 'full' now")])
def test_results_made_otherwise_are_not_reused(local_run, argv, named, capsys):
    with pytest.raises(SystemExit) as stop:
        mean_field.EXPERIMENT.open([*argv, "--out", str(local_run)])
    assert stop.value.code == 2
    assert named in capsys.readouterr().err
    forced = mean_field.EXPERIMENT.open([*argv, "--force", "--out", str(local_run)])
    assert not forced.resumed and not forced.cached_extra("fig2"), "--force starts afresh"
    reused = mean_field.EXPERIMENT.open(["--quick", "--out", str(local_run)])
    assert all(reused.done(job) for job in mean_field_jobs.parts(reused.scale, reused.seed))


def test_results_without_a_record_of_what_made_them_are_not_reused(tmp_path, capsys):
    (tmp_path / "results.json").write_text(json.dumps(dict(quick=True, seed=0, rows=[], extra={"fig2": {}})))
    with pytest.raises(SystemExit):
        mean_field.EXPERIMENT.open(["--quick", "--out", str(tmp_path)])
    assert "no record of what made them" in capsys.readouterr().err


def test_every_output_is_readable_by_all(local_run):
    modes = {p.name: p.stat().st_mode & 0o777 for p in local_run.iterdir()}
    assert modes and set(modes.values()) == {0o644}, modes
    assert not [p for p in local_run.iterdir() if p.name.startswith(".")], "temporary files left behind"


def test_draws_are_written_whole_or_not_at_all(tmp_path, monkeypatch):
    run = toy_targets.EXPERIMENT.open(["--quick", "--out", str(tmp_path)])
    job = runner.Job("job", print)
    run.store(job, runner.Outcome(arrays={"a.npz": {"x": np.arange(3)}}))
    path = run.draws / "a.npz"
    assert run.done(job) and path.stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "results.json").stat().st_mode & 0o777 == 0o644

    def killed_mid_write(handle, **arrays):
        handle.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez_compressed", killed_mid_write)
    with pytest.raises(KeyboardInterrupt):
        run.store(job, runner.Outcome(arrays={"a.npz": {"x": np.arange(5)}}))
    np.testing.assert_array_equal(np.load(path)["x"], np.arange(3))
    assert sorted(p.name for p in run.draws.iterdir()) == ["a.npz"]
    path.unlink()
    assert not run.done(job), "a job whose files are gone runs again"


def test_a_partial_rerun_keeps_the_last_full_runs_total(tmp_path, monkeypatch):
    figures = tmp_path / "figures"
    figures.mkdir()
    committed = json.loads((FIGURES / "timings.json").read_text()) | {"partial": [], "resumed": []}
    (figures / "timings.json").write_text(json.dumps(committed))
    for name in ("FIGURES", "MANIFEST", "TIMINGS"):
        monkeypatch.setattr(paths, name, figures / getattr(paths, name).relative_to(FIGURES))

    run = flow_geometry.EXPERIMENT.open(["--out", str(figures / "flow_geometry")])
    assert run.registers
    with run:
        run.finish()
    timings = json.loads((figures / "timings.json").read_text())
    assert timings["total_seconds"] == committed["total_seconds"]
    assert timings["partial"] == ["flow_geometry"]
    assert {k: v for k, v in timings["experiments"].items() if k != "flow_geometry"} == {
        k: v for k, v in committed["experiments"].items() if k != "flow_geometry"}
    table = report.timings_table(timings)
    assert "total of the last full run" in table and "`flow_geometry` (rerun after the full run" in table
    everything_retimed = timings | {"partial": list(registry.REPRODUCTION)}
    assert "total of an earlier full run, older than every time above" in report.timings_table(everything_retimed)
    driver.record_total(123.4)
    timings = json.loads((figures / "timings.json").read_text())
    assert timings["total_seconds"] == 123.4 and timings["partial"] == []


def test_a_run_is_timed_from_its_work_not_from_when_it_was_opened(tmp_path, monkeypatch):
    now = [0.0]
    monkeypatch.setattr(run_module.time, "perf_counter", lambda: now[0])
    run = flow_geometry.EXPERIMENT.open(["--out", str(tmp_path / "flow_geometry")])
    now[0] = 100.0  # python -m experiments opens every run first; the earlier ones work meanwhile
    with run:
        now[0] = 103.0
        assert run.finish() == 3.0


def test_a_rerun_that_only_redraws_keeps_the_time_of_the_run_that_computed(tmp_path, monkeypatch):
    figures = tmp_path / "figures"
    figures.mkdir()
    (figures / "timings.json").write_text(json.dumps({"experiments": {"flow_geometry": 5.0}, "partial": []}))
    for name in ("FIGURES", "MANIFEST", "TIMINGS"):
        monkeypatch.setattr(paths, name, figures / getattr(paths, name).relative_to(FIGURES))
    out = figures / "flow_geometry"
    first = flow_geometry.EXPERIMENT.open(["--out", str(out)])
    with first:
        first.set_extra("done", 1)
    redraw = flow_geometry.EXPERIMENT.open(["--out", str(out)])
    assert redraw.resumed and not redraw.computed
    with redraw:
        redraw.finish()
        assert json.loads((figures / "timings.json").read_text())["experiments"]["flow_geometry"] == 5.0
        redraw.computed = True  # had a job run, its time would count
        redraw.finish()
    assert json.loads((figures / "timings.json").read_text())["experiments"]["flow_geometry"] != 5.0


# ------------------------------------------------------------------ executors


def test_a_dask_cluster_gives_the_same_numbers_as_local_processes():
    """The smallest job of the experiments (Figure 2's ADVI fits, a few steps) on a local process and on a Dask
    LocalCluster: the same seeds, the same numbers."""
    tiny = dataclasses.replace(mean_field.QUICK, num_steps=100, num_runs=2, elbo_draws=1000)
    (job,) = [j for j in mean_field_jobs.parts(tiny, 0) if j.key == "fig2"]
    outcomes = {}
    for where in (dict(jobs=1), dict(dask=1)):
        with runner.executor(**where) as pool:
            runner.run_jobs([job], pool, lambda job, outcome, name=tuple(where): outcomes.update({name: outcome}),
                            "fig2")
    local, dask = outcomes[("jobs",)], outcomes[("dask",)]
    strip = lambda extra: {k: {f: v for f, v in e.items() if "seconds" not in f} for k, e in extra.items()}  # noqa: E731
    assert strip(dask.extra) == strip(local.extra) and local.extra


def test_workers_keep_tensorflow_and_pymc_out_of_the_terminal(capfd):
    nuts = toy_targets.Nuts(draws=50, tune=50)
    stored = []
    with runner.executor(jobs=1) as pool:
        runner.run_jobs([nuts.job(None, 0)], pool, lambda job, outcome: stored.append(outcome), "banana")
    assert stored[0].arrays["nuts_banana.npz"]["z"].shape == (100, 2)
    err = capfd.readouterr().err
    for noise in TF_NOISE + ("NUTS", "Sequential sampling", "BLAS"):
        assert noise not in err, err


@pytest.fixture
def terminal_sigint():
    """SIGINT as a terminal's process has it, whatever the test process inherited (a full xdist run once left
    it ignored or blocked, and these tests then failed on the test's state, not the runner's)."""
    handler = signal.signal(signal.SIGINT, signal.default_int_handler)
    mask = signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    yield
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    signal.signal(signal.SIGINT, handler)


def _as_from_a_terminal():
    """Popen's preexec_fn: the child starts with SIGINT handled by default and not blocked."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def test_a_ctrl_c_while_workers_are_spawned_is_held_then_raised(terminal_sigint):
    with pytest.raises(KeyboardInterrupt):
        with runner._sigint_held():
            os.kill(os.getpid(), signal.SIGINT)  # as a Ctrl-C during ProcessPoolExecutor.submit
            time.sleep(0.2)  # not raised while held
        time.sleep(0.2)


def test_ctrl_c_stops_the_workers_with_one_line(tmp_path):
    command = [sys.executable, "-m", "experiments.mean_field", "--quick", "--jobs", "2", "--out", str(tmp_path)]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True, preexec_fn=_as_from_a_terminal)
    import psutil

    deadline = time.monotonic() + 300
    while len(psutil.Process(process.pid).children()) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(3)  # the workers are importing TensorFlow or training
    os.killpg(process.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole foreground group
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Traceback" not in err and err.rstrip().splitlines()[-1] == runner.INTERRUPTED
    assert not any(noise in err for noise in TF_NOISE), err
    time.sleep(2)
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)  # no worker is left running


def test_a_redraw_of_every_experiment_keeps_the_last_complete_total(tmp_path, monkeypatch):
    recorded = []
    monkeypatch.setattr(driver, "record_total", recorded.append)

    class Stub:
        def __init__(self, resumed):
            self.name, self.resumed, self.pool = "stub", resumed, None

    class Experiment:
        name = "stub"

        def __init__(self, resumed):
            self.resumed = resumed

        def open(self, flags):
            return Stub(self.resumed)

        def execute(self, run):
            pass

    monkeypatch.setattr(registry, "REPRODUCTION", ("a", "b"))
    monkeypatch.setattr(report, "write", lambda: None)
    for resumed, expected in ((False, 1), (True, 0)):
        recorded.clear()
        module = type("Module", (), {"EXPERIMENT": Experiment(resumed)})
        monkeypatch.setattr(registry, "load", lambda name, module=module: module.EXPERIMENT)
        driver.main(["--jobs", "1"])
        assert len(recorded) == expected
