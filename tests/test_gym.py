"""The Inference Gym experiment at a small scale: every family it runs is scored against the gym's ground truth,
no ELBO exceeds a known log Z, a job too large for its budget is refused before any work, and the report's
verdicts follow their numbers."""
import copy
import dataclasses
import json

import pytest

from experiments.gym import experiment as gym
from experiments.gym import config, jobs, report

# Two small targets, three families and a few steps: the same code path as the full run
SMALL = dataclasses.replace(config.QUICK, num_runs=2, eval_draws=200, step_factor=0.02,
                            targets=tuple(dataclasses.replace(t, jit_compile=False) for t in config.QUICK.targets),
                            families=("ADVI (mean field)", "planar K=16", "IAF"))


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gym")
    dataclasses.replace(gym.EXPERIMENT, quick=SMALL).main(["--quick", "--jobs", "2", "--out", str(out)])
    return out, json.loads((out / "results.json").read_text())


def test_every_family_is_scored_against_the_ground_truth(small_run):
    out, results = small_run
    rows = results["rows"]
    assert {(r["target"], r["family"]) for r in rows} == {(t.name, f) for t in SMALL.targets for f in SMALL.families}
    for r in rows:
        assert len(r["elbo_runs"]) == len(r["khat_runs"]) == len(r["median_error_runs"]) == SMALL.num_runs
        assert all(e >= 0 for e in r["max_error_runs"]) and all(s > 0 for s in r["median_sd_ratio_runs"])
        assert not report.above_log_z(r), r["key"]  # Banana is normalised: an ELBO above 0 would be a bug
    text = (out / "report.md").read_text()
    assert text.startswith("**Quick run") and "### The thesis's conclusions, target by target" in text
    assert (out / "gym_overview.png").exists() and "Inference Gym" in (out / "headline.md").read_text()


def test_a_job_too_large_for_its_budget_is_refused_before_any_work():
    scale = dataclasses.replace(config.FULL, max_job_work=1e9)
    planned, refused = jobs.plan(scale, 0, {t.name: jobs.TargetFacts(501 if t.name == "SyntheticItemResponseTheory"
                                                                     else 2, True) for t in scale.targets})
    refused_pairs = {(x.target, x.family) for x in refused}
    assert ("SyntheticItemResponseTheory", "planar K=64") in refused_pairs
    assert ("Banana", "ADVI (mean field)") not in refused_pairs
    assert "refused before any work" in refused[0].reason and "dimensions" in refused[0].reason
    assert len(planned) + len(refused) == len(scale.targets) * len(config.FAMILIES)


def test_the_model_informed_flow_is_refused_where_the_target_has_no_hierarchy():
    facts = {t.name: jobs.TargetFacts(10, t.name == "EightSchools") for t in config.FULL.targets}
    planned, refused = jobs.plan(config.FULL, 0, facts)
    refused_mif = {x.target for x in refused if x.family == config.MODEL_INFORMED}
    assert refused_mif == set(facts) - {"EightSchools"}
    assert "EightSchools/" + config.MODEL_INFORMED in {job.key for job in planned}
    assert all("hierarchy" in x.reason for x in refused if x.family == config.MODEL_INFORMED)


@pytest.mark.parametrize("mif_elbo, phrase, count", [(-0.5, "above IAF", 1), (-0.9, "level with", 0),
                                                     (-3.0, "below IAF", 0)])
def test_the_model_informed_sentence_follows_its_numbers(mif_elbo, phrase, count):
    rows = _rows(-2.0, -1.5) + [dict(_rows(0, 0)[0], family=config.MODEL_INFORMED,
                                     elbo_runs=[mif_elbo - 0.01, mif_elbo, mif_elbo + 0.01])]
    text = report.model_informed_text(rows, ["T"])
    assert phrase in text and f"above the best other family's on {count} of them" in text
    assert report.model_informed_text(_rows(-2.0, -1.5), ["T"]) == ""  # where it did not run, nothing is said


def _rows(advi_elbo, deep_elbo):
    base = dict(target="T", runs=3, dim=2, khat_runs=[0.5] * 3, median_error_runs=[0.3] * 3,
                median_sd_ratio_runs=[0.8] * 3)
    families = {"ADVI (mean field)": advi_elbo, "planar K=16": -1.0, "planar K=64": deep_elbo, "IAF": -0.9}
    return [dict(base, family=f, elbo_runs=[e - 0.01, e, e + 0.01]) for f, e in families.items()]


def test_the_conclusions_follow_the_numbers():
    found = report.conclusions(_rows(-2.0, -0.5), ["T"])["T"]
    assert found["planar beats ADVI"] == "holds" and found["depth helps"] == "holds"
    assert found["best flow"] == "planar K=64" and found["ADVI shrinks"] == "holds"
    flipped = report.conclusions(_rows(-0.4, -1.5), ["T"])["T"]
    assert flipped["planar beats ADVI"] == "fails" and flipped["depth helps"] == "fails"
    rows = _rows(-2.0, -0.5)
    for r, khat, err in zip(rows, (0.9, 0.7, 0.3, 0.5), (1.0, 0.5, 0.1, 0.3)):
        r["khat_runs"], r["median_error_runs"] = [khat] * 3, [err] * 3
    assert report.conclusions(rows, ["T"])["T"]["k̂ ranks as the errors"] == "holds"
    reversed_rows = copy.deepcopy(rows)
    for r in reversed_rows:
        r["khat_runs"] = [1.2 - r["khat_runs"][0]] * 3
    assert report.conclusions(reversed_rows, ["T"])["T"]["k̂ ranks as the errors"] == "fails"
    text = report.conclusions_text({"T": found, "U": flipped})
    assert "holds on 1 of 2 targets tested, fails on 1" in text
    line = report.headline({"T": found, "U": flipped})
    assert "mean-field ADVI on 1 of 2 targets (fails on 1)" in line


def test_an_infinite_khat_is_shown_as_infinite_not_averaged_away():
    row = dict(khat_runs=[float("inf"), 0.6, None])
    assert report.khat_cell(row, "khat_runs") == "∞ (2 of 3)"
    assert report.khat_cell(dict(khat_runs=[0.5, 0.7]), "khat_runs") == "0.60 ± 0.14"


def test_a_target_no_family_found_is_named():
    rows = _rows(-2.0, -0.5)
    assert report.unfound_text(rows, ["T"]).startswith("On every target some family comes within")
    for r in rows:
        r["median_error_runs"] = [30.0] * 3
    text = report.unfound_text(rows, ["T"])
    assert "On 1 of 1 targets no family comes within 1 sd" in text and "T (the smallest median error 30.0 sd)" in text
