"""The experiments built on eight schools, at reduced scale: the ablations and beyond the study."""
import json

import pytest

from experiments import _common, ablations, beyond


@pytest.fixture()
def scratch_repo(eight_schools_quick, monkeypatch):
    root, _, rows = eight_schools_quick
    monkeypatch.setattr(_common, "REPO", root)
    return root, rows


def test_ablations_rerun_each_departure_with_variant_rows(scratch_repo):
    root, defaults = scratch_repo
    out = root / "runs" / "quick" / "ablations"
    ablations.main(["--quick", "--jobs", "2", "--out", str(out)])
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert {r["variant"] for r in rows} == set(ablations.ABLATED)
    keys = {r["key"] for r in defaults}
    for r in rows:
        assert r["key"].removesuffix("-" + r["variant"]) in keys, "every ablated row has its default row"
        assert r["thesis_compat"] and r["method"] == "planar"
        assert r["elbo_mean"] <= r["log_evidence"] + 3 * max(r["elbo_std"], 0.01), r["key"]
    init = next(r for r in rows if r["variant"] == "thesis_init")
    default = next(r for r in defaults if r["key"] == init["key"].removesuffix("-thesis_init"))
    assert init["khat_runs"] != default["khat_runs"], "the variant changed the training"
    text = (out / "report.md").read_text()
    assert text.startswith("**Quick run") and "thesis_checkpoint" in text


def test_ablations_refuse_to_run_without_the_eight_schools_results(tmp_path, monkeypatch):
    monkeypatch.setattr(_common, "REPO", tmp_path)
    with pytest.raises(SystemExit, match="python -m experiments.eight_schools --quick --seed 0"):
        ablations.main(["--quick", "--out", str(tmp_path / "out")])


def test_beyond_trains_every_family_with_elbos_below_log_z(scratch_repo):
    root, _ = scratch_repo
    out = root / "runs" / "quick" / "beyond"
    beyond.main(["--quick", "--jobs", "2", "--out", str(out)])
    rows = json.loads((out / "results.json").read_text())["rows"]
    methods = {r["method"] for r in rows}
    assert {"full_rank", "iaf", "realnvp", "spline", "planar"} <= methods
    for r in rows:  # an ELBO above log Z is a bug, never a result
        assert r["elbo_mean"] <= r["log_evidence"] + 3 * max(r["elbo_std"], 0.01), r["key"]
    normed = [r for r in rows if r.get("gradient_norms")]
    assert normed and all(len(r["gradient_norms"]["after"]) == r["num_flows"] for r in normed)
    assert {r["variant"] for r in rows} >= {"stl", "leaky_relu", "lr_3e-3", "net32"}
    text = (out / "report.md").read_text()
    assert "The moonshot" in text and ("**Reached**" in text or "**Not reached.**" in text)
    assert (out / "tableVI.md").read_text().count("| IAF |") == 2
