"""The ablations at reduced scale: every departure of ours switched back to the study's, on eight schools."""
import dataclasses
import json

import pytest

from experiments import ablations
from experiments.common import paths, schools

# Fewer steps and depths than --quick: the same code path, within the test suite's time
SMALL = dataclasses.replace(schools.QUICK, num_steps=100, depths=(2,))


def test_ablations_rerun_each_departure_with_variant_rows(quick_repo, eight_schools_quick):
    defaults = eight_schools_quick[2]
    out = quick_repo / "runs" / "quick" / "ablations"
    dataclasses.replace(ablations.EXPERIMENT, quick=SMALL).main(["--quick", "--jobs", "2", "--out", str(out)])
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert {r["variant"] for r in rows} == set(ablations.report.ABLATED)
    keys = {r["key"] for r in defaults}
    for r in rows:
        assert r["key"].removesuffix("-" + r["variant"]) in keys, "every ablated row has its default row"
        assert r["thesis_compat"] and r["method"] == "planar"
        assert r["elbo_mean"] <= r["log_evidence"] + 3 * max(r["elbo_std"], 0.01), r["key"]
    init = next(r for r in rows if r["variant"] == "thesis_init")
    default = next(r for r in defaults if r["key"] == init["key"].removesuffix("-thesis_init"))
    assert init["khat_runs"] != default["khat_runs"], "the variant changed the training"
    text = (out / "report.md").read_text()
    assert text.startswith("**Quick run") and "thesis_checkpoint" in text and "(z " not in text
    assert "had no rows yet" not in text, "every default row was there"


def test_ablations_refuse_to_run_without_the_eight_schools_results(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "REPO", tmp_path)
    with pytest.raises(SystemExit, match="python -m experiments.eight_schools --quick --seed 0"):
        ablations.main(["--quick", "--out", str(tmp_path / "out")])
