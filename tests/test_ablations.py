"""The ablations at reduced scale: every departure of ours switched back to the study's, on eight schools."""
import dataclasses
import json

import pytest

from experiments.ablations import experiment as ablations
from experiments.ablations import jobs as ablation_jobs
from experiments.common import paths, schools

# Fewer steps and depths than --quick: the same code path, within the test suite's time
SMALL = dataclasses.replace(schools.QUICK, num_steps=100, depths=(2,))


def test_ablations_rerun_each_departure_with_variant_rows(quick_repo, eight_schools_quick):
    defaults = eight_schools_quick[2]
    out = quick_repo / "runs" / "quick" / "ablations"
    dataclasses.replace(ablations.EXPERIMENT, quick=SMALL).main(["--quick", "--jobs", "2", "--out", str(out)])
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert {r["variant"] for r in rows} == {v.name for v in ablation_jobs.ABLATED}
    by_key = {r["key"]: r for r in defaults}
    for r in rows:
        default = by_key[r["key"].removesuffix("-" + r["variant"])]  # every ablated row has its default row
        assert r["thesis_compat"] and r["centered"] and r["table"] in ("II", "III", "IV")
        assert r["elbo_mean"] <= r["log_evidence"] + 3 * max(r["elbo_std"], 0.01), r["key"]
        assert r["seed"] == default["seed"], "a variant trains from our row's seed: the two are paired"
    assert {r["variant"] for r in rows if r["method"] == "mean_field"} == {"thesis_checkpoint", "thesis_final_checkpoint"}
    init = next(r for r in rows if r["variant"] == "thesis_init")
    default = by_key[init["key"].removesuffix("-thesis_init")]
    assert init["khat_runs"] != default["khat_runs"], "the variant changed the training"
    text = (out / "report.md").read_text()
    assert text.startswith("**Quick run") and "thesis_final_checkpoint" in text and "(z " not in text


def test_ablations_refuse_to_run_without_the_eight_schools_results(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "REPO", tmp_path)
    with pytest.raises(SystemExit, match="python -m experiments.eight_schools --quick --seed 0"):
        ablations.main(["--quick", "--out", str(tmp_path / "out")])


# ------------------------------------------------------------------ the toy targets' mode study under each variant

import numpy as np  # noqa: E402

from experiments.ablations import modes, modes_report  # noqa: E402
from experiments.common import agreement, toys  # noqa: E402
from experiments.common.variants import THESIS_CHECKPOINT  # noqa: E402


@pytest.fixture(autouse=True)
def _toy_defaults(request):
    """The toy-targets defaults the ablations' mode study builds on, where it looks for them in the scratch repo."""
    if "quick_repo" in request.fixturenames:
        root, toy = request.getfixturevalue("quick_repo"), request.getfixturevalue("toy_targets_quick")
        link = root / "runs" / "quick" / "toy_targets"
        if not link.exists():
            link.symlink_to(toy[1], target_is_directory=True)


@pytest.fixture()
def ablations_quick(quick_repo, toy_targets_quick):
    """The ablations' quick output (the first test's, or made here when it ran alone)."""
    out = quick_repo / "runs" / "quick" / "ablations"
    path = out / "results.json"
    if not path.exists() or "mode_study" not in json.loads(path.read_text())["extra"]:
        dataclasses.replace(ablations.EXPERIMENT, quick=SMALL).main(["--quick", "--jobs", "2", "--out", str(out)])
    return out, json.loads(path.read_text()), toy_targets_quick


def test_the_toy_mode_study_runs_every_variant_from_the_defaults_seeds(ablations_quick):
    out, results, (_, toy_out, scale, toy) = ablations_quick
    study = results["extra"]["mode_study"]
    variants = {(r["target"], r["variant"]) for r in study["variants"]}
    assert variants == {(t, v.name) for t in toys.MODE_TARGETS for v in toys.MODE_VARIANTS}
    assert not any(r.get("target") in toys.MODE_TARGETS for r in results["rows"]), "toy rows stay out of the rows"
    defaults = {r["key"]: r for r in toy["rows"]}
    for name, row in study["defaults"].items():
        assert row == defaults[row["key"]]
    rows = {(r["target"], r["variant"]): r for r in study["variants"]}
    assert rows[("energy1", "thesis_init")]["surrogate_options"] == {"w_scale": 1e-2}
    assert rows[("energy1", "thesis_checkpoint")]["fit_options"]["checkpoint"] == "lowest_post_update"
    assert rows[("energy1", "longer")]["num_steps"] == toys.LONGER * study["defaults"]["energy1"]["num_steps"]
    assert rows[("energy1", "annealed")]["anneal_steps"] > 0
    # the same seeds: the study's checkpoint follows our training step for step, the longer one repeats it first
    for name in toys.MODE_TARGETS:
        default = toys.load_loss(toys.mode_group(name, toys.DEFAULT, scale), toy_out / "draws")
        loss = {v: toys.load_loss(toys.mode_group(name, variant, scale), out / "draws")
                for v, variant in (("thesis_checkpoint", THESIS_CHECKPOINT), ("longer", toys.LONGER_TRAINING))}
        np.testing.assert_array_equal(loss["thesis_checkpoint"], default)
        np.testing.assert_allclose(loss["longer"][:len(default)], default, rtol=1e-5)
    text = (out / "report.md").read_text()
    assert "### The toy targets' mode study under the study's choices" in text
    assert (out / "mode_study_variants.png").exists()


def _mode_row(both, runs=10, variant="default", kl=0.3):
    return dict(target="energy1", variant=variant, num_runs=runs, both_modes=both, one_mode=runs - both, spread=0,
                kl=[kl] * runs)


def test_the_toy_count_sentence_flips_with_the_counts():
    same = {"thesis_init": _mode_row(0, variant="thesis_init")}
    assert "No variant changes that number." in modes_report.count_sentence("energy1", _mode_row(0), same)
    raised = {"annealed": _mode_row(7, variant="annealed", kl=0.1)}
    text = modes_report.count_sentence("energy1", _mode_row(0), raised)
    p = agreement.counts_p(7, 0, 10)
    assert f"Annealed raises it to 7 (Fisher's exact p = {p:.2f}: beyond chance)" in text and "-0.200" in text
    lowered = modes_report.count_sentence("energy1", _mode_row(10), {"longer": _mode_row(8, variant="longer")})
    assert "3x the steps lowers it to 8" in lowered and "within chance" in lowered
    assert "no default row" in modes_report.count_sentence("energy1", None, raised)
    assert modes_report.count_sentence("energy1", _mode_row(3), {}).endswith("; no variant was run.")


def test_the_toy_part_refuses_to_run_without_the_toy_targets_results(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "REPO", tmp_path)
    run = ablations.EXPERIMENT.open(["--quick", "--out", str(tmp_path / "out")])
    with pytest.raises(SystemExit, match="python -m experiments.toy_targets --quick --seed 0"):
        modes.reference(run)
