"""The committed full-scale results: every thesis figure and table is there, made by a named command, and reported."""
import json
import re

import pytest

from experiments import report
from experiments.common.paths import FIGURES, REPO
from experiments.registry import FURTHER, REPRODUCTION as EXPERIMENTS

MANIFEST = json.loads((FIGURES / "manifest.json").read_text())


def test_manifest_covers_every_thesis_figure_and_table():
    missing = [fid for fid in report.EXPECTED if fid not in MANIFEST and fid not in report.OPTIONAL]
    assert not missing, f"not reproduced: {missing}"


@pytest.mark.parametrize("fid", sorted(MANIFEST))
def test_each_entry_names_existing_files_and_the_command_that_made_them(fid):
    entry = MANIFEST[fid]
    assert entry["files"], fid
    for path in entry["files"]:
        assert (REPO / path).is_file(), path
    assert re.fullmatch(r"python -m experiments\.(\w+)", entry["command"]).group(1) in EXPERIMENTS + FURTHER
    name = entry["command"].rsplit(".", 1)[1]
    assert all(path.startswith(f"figures/{name}/") for path in entry["files"]), "a command writes into its own folder"


def test_full_scale_results_are_committed_beside_the_figures():
    for name in EXPERIMENTS + tuple(n for n in FURTHER if (FIGURES / n).exists()):
        results = json.loads((FIGURES / name / "results.json").read_text())
        assert results["quick"] is False, f"{name}: the committed results must come from a full run"


@pytest.mark.parametrize("name", FURTHER)
def test_a_further_experiment_without_a_full_run_is_reported_as_not_run(name):
    if (FIGURES / name / "results.json").exists():
        pytest.skip(f"{name} has committed results")
    assert report.not_run(name) in (FIGURES / "README.md").read_text()
    assert not [fid for fid, entry in MANIFEST.items() if entry["command"] == f"python -m experiments.{name}"]


def test_the_report_shows_every_figure_file_and_readme_carries_the_headline():
    text = (FIGURES / "README.md").read_text()
    for entry in MANIFEST.values():
        for path in entry["files"]:
            if path.endswith(".png"):
                assert path.removeprefix("figures/") in text, path
    readme = (REPO / "README.md").read_text()
    block = readme.split(report.HEADLINE_START)[1].split(report.HEADLINE_END)[0]
    assert block.count("|") > 50, "README's results table is missing: run python -m experiments.report"


def test_timings_cover_every_experiment_and_name_any_resumed_run():
    timings = json.loads((FIGURES / "timings.json").read_text())
    assert set(EXPERIMENTS) <= set(timings["experiments"]) <= set(EXPERIMENTS + FURTHER)
    table = report.timings_table(timings)
    for name in timings.get("resumed", []):  # a run resumed after an interruption: its time covers what was left
        assert f"`{name}` (resumed: only what was left)" in table
    assert "Inside `eight_schools`, by table and family" in (FIGURES / "README.md").read_text()
