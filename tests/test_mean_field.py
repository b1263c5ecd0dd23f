"""The mean-field experiment at reduced scale: ADVI's known Gaussian results, CAVI against
scikit-learn, the mixture handed to the toy-targets experiment, and the run end to end."""
import json

import numpy as np
import pytest

import vinf
from experiments import mean_field

FIGURES = ("fig2", "fig3", "fig4", "fig6", "fig7")


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("mean_field")
    mean_field.main(["--quick", "--out", str(out)])
    return out, json.loads((out / "results.json").read_text())["extra"]


def _standard_error(values):
    values = np.asarray(values)
    return values.std(axis=0, ddof=1) / np.sqrt(len(values))


def test_quick_run_writes_figures_results_and_report(quick):
    out, results = quick
    assert set(results) == {"fig2", "fig3", "cavi", "sklearn", "fig7"}
    report = (out / "report.md").read_text()
    for fid in FIGURES:
        (png,) = out.glob(f"{fid}_*.png")
        assert png.stat().st_size > 10_000
        assert f"({out.name}/{png.name})" in report
    assert report.count("Command: `python -m experiments.mean_field --quick`") == len(FIGURES)
    assert f"{100 * results['sklearn']['agreement']:.1f} %" in report
    assert report.startswith("**Quick run, reduced scale**")
    for judgement in ("As in the study", "Unlike the study", "agrees with the study", "As the study found"):
        assert judgement not in report, judgement
    assert "### Figure 5 — not reproduced" in report and "printed" not in report


def test_sentences_follow_their_numbers(quick):
    _, results = quick
    from experiments import mean_field_figures as mff

    fig3 = results["fig3"]
    assert "matches −KL" in mff._section_fig3(fig3).measured
    shifted = dict(fig3, mean_field_kl=fig3["mean_field_kl"] + 0.5)
    assert "does not match −KL" in mff._section_fig3(shifted).measured
    cavi = results["cavi"]
    assert mff._section_fig6(cavi).study.startswith("As in the study")
    flat = dict(cavi, predictive_between=max(cavi["predictive_at_means"]))
    assert mff._section_fig6(flat).study.startswith("Unlike the study")


def test_quadrature_optimum_beside_figure_7_is_no_worse_than_any_start(quick):
    _, results = quick
    fig7 = results["fig7"]
    # every ADVI start ends at or below the best diagonal Gaussian's ELBO (within its Monte-Carlo error)
    assert max(fig7["elbo"]) <= -fig7["optimum"]["kl"] + 0.02


def test_full_rank_advi_recovers_the_covariance(quick):
    _, results = quick
    fig3 = results["fig3"]
    covs, truth = np.asarray(fig3["full_rank"]["cov"]), np.asarray(fig3["cov"])
    # Within Monte-Carlo error: 4 standard errors over the independent trainings.
    assert np.all(np.abs(covs.mean(axis=0) - truth) <= 4 * _standard_error(covs))
    np.testing.assert_allclose(np.asarray(fig3["full_rank"]["mean"]), np.tile(fig3["loc"], (len(covs), 1)), atol=0.1)


def test_mean_field_variances_are_the_inverse_precision_diagonal(quick):
    _, results = quick
    fig3 = results["fig3"]
    covs, truth = np.asarray(fig3["mean_field"]["cov"]), np.asarray(fig3["cov"])
    variances = np.diagonal(covs, axis1=1, axis2=2)
    inverse_precision_diagonal = 1.0 / np.diag(np.linalg.inv(truth))
    np.testing.assert_allclose(fig3["mean_field_variance"], inverse_precision_diagonal)
    # Adam's stationary jitter at S = 500 biases the variances up by about 2 %; 5 % bounds it.
    np.testing.assert_allclose(variances.mean(axis=0), inverse_precision_diagonal, rtol=0.05)
    assert np.all(variances < 0.5 * np.diag(truth)), "mean field should be too compact"
    np.testing.assert_allclose(np.asarray(fig3["mean_field"]["cov"])[:, 0, 1], 0.0)


def test_advi_elbos_stay_below_the_log_evidence(quick):
    _, results = quick
    for key in ("fig2", "fig7"):
        assert max(results[key]["elbo"]) < 0.0 + 0.02, key  # log Z = 0; 0.02 covers the estimate's noise
    fig3 = results["fig3"]
    assert max(fig3["mean_field"]["elbo"]) < 0.02
    assert np.mean(fig3["mean_field"]["elbo"]) == pytest.approx(-fig3["mean_field_kl"], abs=0.02)


def test_cavi_matches_scikit_learn(quick):
    _, results = quick
    sk = results["sklearn"]
    assert sk["agreement"] >= 0.99
    assert sk["elbo_vinf"] == pytest.approx(sk["elbo_sklearn"], abs=1e-3)
    assert sk["mean_log_predictive_vinf"] == pytest.approx(sk["mean_log_predictive_sklearn"], abs=1e-4)
    assert sk["max_mean_difference"] < 1e-2


def test_cavi_on_the_mixture_data(quick):
    _, results = quick
    cavi = results["cavi"]
    assert cavi["converged"]
    assert cavi["min_elbo_step"] >= -1e-9 * abs(cavi["elbo"][-1])
    assert cavi["accuracy"] > 0.95
    assert cavi["seconds"] < 1.0


def test_fitted_mixture_is_the_study_like_target():
    mixture = mean_field.fitted_mixture(seed=0)
    assert set(mixture) == {"weights", "locs", "covs"}
    assert isinstance(mixture["weights"], tuple) and all(type(w) is float for w in mixture["weights"])
    assert sum(mixture["weights"]) == pytest.approx(1.0)
    assert mixture["locs"].shape == (2, 2) and mixture["covs"].shape == (2, 2, 2)
    assert np.all(np.linalg.eigvalsh(mixture["covs"]) > 0)
    assert mixture["locs"][0, 1] > mixture["locs"][1, 1], "upper component first"
    study = vinf.targets.THESIS_MIXTURE
    np.testing.assert_allclose(mixture["locs"], study["locs"], atol=0.75)
    assert np.sign(mixture["covs"][0, 0, 1]) == np.sign(study["covs"][0][0][1])
    assert np.sign(mixture["covs"][1, 0, 1]) == np.sign(study["covs"][1][0][1])
    target = vinf.targets.get("gaussian_mixture", **mixture)
    assert target.log_evidence() == pytest.approx(0.0, abs=1e-6)
    np.testing.assert_array_equal(mean_field.fitted_mixture(seed=0)["locs"], mixture["locs"])
