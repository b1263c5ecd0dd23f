"""``python -m experiments``: its command line, and one quick experiment run through it end to end."""
import json
import subprocess
import sys

import pytest

from experiments.__main__ import parse_args
from experiments._common import REPO


@pytest.mark.parametrize("argv", [["--jobs", "0"], ["--only", "no_such_experiment"], ["--quick", "--full"]])
def test_bad_arguments_stop_before_any_work(argv, capsys):
    with pytest.raises(SystemExit) as stop:
        parse_args(argv)
    assert stop.value.code == 2
    assert "error" in capsys.readouterr().err


def test_quick_subset_runs_through_the_runner():
    done = subprocess.run([sys.executable, "-m", "experiments", "--quick", "--only", "flow_geometry", "--force"],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "[1/1] flow_geometry done" in done.stdout
    results = json.loads((REPO / "runs" / "quick" / "flow_geometry" / "results.json").read_text())
    assert results["quick"] is True
