import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import json  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def eight_schools_quick(tmp_path_factory):
    """``python -m experiments.eight_schools --quick`` once per session, where the experiments built on it
    (ablations, beyond) look for it: ``<repo>/runs/quick/eight_schools`` of a scratch repo root."""
    from experiments import eight_schools

    root = tmp_path_factory.mktemp("repo")
    out = root / "runs" / "quick" / "eight_schools"
    eight_schools.main(["--quick", "--jobs", "2", "--out", str(out)])
    return root, out, json.loads((out / "results.json").read_text())["rows"]
