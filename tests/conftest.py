import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import contextlib  # noqa: E402
import json  # noqa: E402

import pytest  # noqa: E402
from filelock import FileLock  # noqa: E402


@contextlib.contextmanager
def _once(tmp_path_factory, name):
    """A folder made once per test session, shared by pytest-xdist's workers: the first to arrive makes it
    while the others wait on its lock. Yields ``(folder, done)``; the caller fills the folder unless ``done``."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the base folder all workers share
    folder = root / f"shared-{name}"
    with FileLock(str(folder) + ".lock"):
        marker = root / f"shared-{name}.done"  # beside the folder, not in it: the folder is an experiment's output
        yield folder, marker.exists()
        marker.touch()


@pytest.fixture(scope="session")
def eight_schools_quick(tmp_path_factory):
    """``python -m experiments.eight_schools --quick`` once per session, where the experiments built on it
    (ablations, beyond) look for it: ``<repo>/runs/quick/eight_schools`` of a scratch repo root."""
    with _once(tmp_path_factory, "repo") as (root, done):
        out = root / "runs" / "quick" / "eight_schools"
        if not done:
            from experiments.eight_schools import experiment as eight_schools

            eight_schools.main(["--quick", "--jobs", "2", "--out", str(out)])
    return root, out, json.loads((out / "results.json").read_text())["rows"]


@pytest.fixture(scope="session")
def mean_field_quick(tmp_path_factory):
    """``python -m experiments.mean_field --quick`` once per session: its folder and results."""
    with _once(tmp_path_factory, "mean_field") as (out, done):
        if not done:
            from experiments.mean_field import experiment as mean_field

            mean_field.main(["--quick", "--out", str(out)])
    return out, json.loads((out / "results.json").read_text())


@pytest.fixture(scope="session")
def toy_targets_quick(tmp_path_factory):
    """``python -m experiments.toy_targets --quick`` once per session, at a smaller scale than ``--quick`` (fewer
    steps and draws: the same code path), where the ablations' mode study looks for it:
    ``<root>/runs/quick/toy_targets``. Returns the root, the folder, the scale and the results."""
    import dataclasses

    from experiments.toy_targets import experiment as toy_targets
    from experiments.toy_targets import config

    scale = dataclasses.replace(config.QUICK, max_steps=60, draws=1000, eval_draws=5000, nuts_draws=200,
                                nuts_tune=200, starts=3, mode_runs=2)
    with _once(tmp_path_factory, "toy_repo") as (root, done):
        out = root / "runs" / "quick" / "toy_targets"
        if not done:
            dataclasses.replace(toy_targets.EXPERIMENT, quick=scale).main(["--quick", "--jobs", "2", "--out", str(out)])
    return root, out, scale, json.loads((out / "results.json").read_text())


@pytest.fixture()
def quick_repo(eight_schools_quick, monkeypatch):
    """The scratch repo root of ``eight_schools_quick``, made the experiments' repo for the test."""
    from experiments.common import paths

    root = eight_schools_quick[0]
    monkeypatch.setattr(paths, "REPO", root)
    return root
