"""Beyond the study at reduced scale: every family of vinf.surrogates on eight schools, the depth question, STL."""
import dataclasses
import json

import pytest

from experiments.beyond import experiment as beyond
from experiments.beyond import report
from experiments.beyond.config import NpeScale, Scale
from experiments.common import schools

# One layer of each neural flow, one depth of each sweep and fewer steps than --quick: the same code path
SMALL = Scale(dataclasses.replace(schools.QUICK, num_steps=100, depths=(2,)), 1, 1, (4,), (4,), (4,), (4,),
              NpeScale(num_flows=1, hidden_units=(8,), noncentered=(50, 64), centered=(50, 64), sbc_datasets=20,
                       sbc_draws=19, sbc_bins=4))


def test_beyond_trains_every_family_with_elbos_below_log_z(quick_repo):
    out = quick_repo / "runs" / "quick" / "beyond"
    dataclasses.replace(beyond.EXPERIMENT, quick=SMALL).main(["--quick", "--jobs", "2", "--out", str(out)])
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert {"full_rank", "iaf", "realnvp", "spline", "planar", "radial", "mif"} <= {r["method"] for r in rows}
    assert {r["table"] for r in rows if r["method"] == "radial"} == {"III"}, "Table VI's radial row, trained here"
    for r in rows:  # an ELBO above log Z is a bug, never a result
        assert r["elbo_mean"] <= r["log_evidence"] + 3 * max(r["elbo_std"], 0.01), r["key"]
    normed = [r for r in rows if r.get("gradient_norms")]
    assert normed and all(len(r["gradient_norms"]["after"]) == r["num_flows"] for r in normed)
    assert {r["variant"] for r in rows} >= {"stl", "net32_stl", "leaky_relu", "lr_3e-3", "net32"}
    text = (out / "report.md").read_text()
    assert "The moonshot" in text and ("**Reached**" in text or "**Not reached.**" in text)
    assert "**Conclusion:**" in text and "STL gives the higher ELBO in" in text
    assert "**Better-suited mappings (section VII), centered funnel:**" in text and "Holm-corrected" in text
    assert "Into the neck (log τ < -1)" in text and "putting the hyperparameters first makes the IAF" in text
    table = (out / "tableVI.md").read_text()
    assert table.count("| IAF |") == 2 and table.count("| model-informed (MIF) |") == 4
    assert "Table VI" in (out / "headline.md").read_text()
    npe = [r for r in rows if r["method"] == "npe"]  # amortised inference: one row per parameterisation
    assert sorted(r["centered"] for r in npe) == [False, True] and all(not r["above_log_z_runs"] for r in npe)
    assert all(len(r["sbc_p_values"]) == len(r["elbo_runs"]) and len(r["sbc_p_values"][0]) == 10 for r in npe)
    assert table.count("| NPE (conditional MAF) |") == 2 and (out / "npe.png").exists()
    assert "### Amortised inference (NPE)" in text and "Uniform ranks do not prove q right" in text
    assert "rank histograms" in text and "per NPE training" in text
    assert "**Amortised inference (NPE)**" in (out / "headline.md").read_text()


def test_beyond_refuses_before_any_work_when_the_eight_schools_draws_are_missing(eight_schools_quick, tmp_path,
                                                                                 monkeypatch):
    """A fresh clone has the eight-schools results.json but not its draws (they are not committed)."""
    from experiments.common import paths

    folder = tmp_path / "runs" / "quick" / "eight_schools"
    folder.mkdir(parents=True)
    (folder / "results.json").write_bytes((eight_schools_quick[1] / "results.json").read_bytes())
    monkeypatch.setattr(paths, "REPO", tmp_path)
    out = tmp_path / "runs" / "quick" / "beyond"
    with pytest.raises(SystemExit, match=r"not committed: \d+ are missing.*python -m experiments.eight_schools --quick"):
        beyond.main(["--quick", "--out", str(out)])
    assert not (out / "results.json").exists(), "refused before any work"


def test_a_group_that_diverges_in_every_attempt_is_a_result_beyond_the_study_and_an_error_in_it(monkeypatch):
    calls = []

    def diverging_fit(*args, **kwargs):
        calls.append(kwargs["seed"])
        raise FloatingPointError(f"non-finite loss or gradient at step {len(calls)}; the surrogate keeps ...")

    monkeypatch.setattr(schools.vinf, "fit", diverging_fit)
    spec = schools.Spec("V", "planar", True, 2, 2, True)
    group = schools.groups([spec])[0]
    outcome = schools.train_group(group, schools.QUICK, 0, divergence_is_a_result=True)
    assert len(set(calls)) == schools.ATTEMPTS  # a new seed each attempt
    (row,) = outcome.rows
    assert row["key"] == spec.key and row["attempts"] == schools.ATTEMPTS and "step 3" in row["diverged"]
    assert "elbo_mean" not in row and not outcome.arrays  # nothing scored, nothing to draw
    assert report.diverged_text([row]).startswith(f"Diverged in each of its {schools.ATTEMPTS} attempts")
    with pytest.raises(FloatingPointError):  # the reproduction's protocol stops on a group that always diverges
        schools.train_group(group, schools.QUICK, 0)
    assert report.diverged_text([]) == ""
