"""ELBO and PSIS k-hat: bounds that must hold and diagnoses that must come out right."""
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import vinf

tfd = tfp.distributions


def standard_normal_log_prob(z):
    return -0.5 * tf.reduce_sum(tf.square(z), axis=-1)  # log Z = (d/2) log(2 pi)


def test_exact_proposal_gives_exact_elbo_and_small_khat():
    q = tfd.MultivariateNormalDiag(loc=tf.zeros(3))
    lw = vinf.diagnostics.log_weights(standard_normal_log_prob, q, num_samples=4000, seed=1)
    np.testing.assert_allclose(lw, 1.5 * np.log(2 * np.pi), atol=1e-5)
    assert vinf.diagnostics.psis_khat(standard_normal_log_prob, q, 4000) < vinf.diagnostics.KHAT_GOOD


def test_too_narrow_proposal_is_flagged():
    q = tfd.MultivariateNormalDiag(loc=tf.zeros(3), scale_diag=0.4 * tf.ones(3))
    assert vinf.diagnostics.psis_khat(standard_normal_log_prob, q, 5000) > vinf.diagnostics.KHAT_OK
    assert vinf.diagnostics.elbo(standard_normal_log_prob, q, 5000) < 1.5 * np.log(2 * np.pi)


def test_evaluate_runs_scores_each_batch_member():
    scales = tf.constant([[1.0], [0.9], [0.4]]) * tf.ones([3, 2])
    q = tfd.MultivariateNormalDiag(loc=tf.zeros([3, 2]), scale_diag=scales)
    runs = vinf.diagnostics.evaluate_runs(standard_normal_log_prob, q, num_sets=4, num_draws=2000, seed=0)
    assert runs.khat.shape == runs.elbo.shape == (3,)
    assert runs.khat[0] < runs.khat[2] and runs.elbo[0] > runs.elbo[2]
    summary = runs.summary()
    assert summary["elbo_mean"] == pytest.approx(runs.elbo.mean())
    assert summary["khat_std"] == pytest.approx(np.std(runs.khat, ddof=1))


@pytest.mark.parametrize("bad", [0, -5, 2.5])
def test_bad_sample_counts_are_rejected(bad):
    q = tfd.MultivariateNormalDiag(loc=tf.zeros(2))
    with pytest.raises(ValueError, match="num_samples"):
        vinf.diagnostics.elbo(standard_normal_log_prob, q, num_samples=bad)
    with pytest.raises(ValueError, match="num_sets"):
        vinf.diagnostics.evaluate_runs(standard_normal_log_prob, q, num_sets=bad)


@pytest.mark.parametrize(
    "centered, thesis_compat", [(False, False), (False, True), (True, True)], ids=["nc-true", "nc-thesis", "c-thesis"]
)
def test_trained_mean_field_elbo_is_a_tight_lower_bound_on_eight_schools(centered, thesis_compat):
    """Below log Z, and within two nats of it (Table II: the thesis's ELBOs sit 0.8-1.3 nats below)."""
    target = vinf.targets.eight_schools(centered=centered, thesis_compat=thesis_compat)
    log_z = target.log_evidence()  # quadrature; checked independently in test_targets.py
    q = vinf.surrogates.mean_field(target.dim, seed=0)
    vinf.fit(target.log_prob, q, num_steps=4000, sample_size=500, seed=0, progress=False)
    lw = vinf.diagnostics.log_weights(target.log_prob, q, num_samples=40000, seed=3)
    elbo, mc_error = lw.mean(), 3 * lw.std() / np.sqrt(lw.size)
    assert elbo <= log_z + mc_error, "an ELBO above log Z is a bug"
    assert elbo > log_z - 2.0


@pytest.mark.parametrize("bad", [-1, 2**31, 1.5])
def test_bad_seeds_are_rejected(bad):
    q = tfd.MultivariateNormalDiag(loc=tf.zeros(2))
    with pytest.raises(ValueError, match="seed"):
        vinf.diagnostics.log_weights(standard_normal_log_prob, q, seed=bad)
    with pytest.raises(ValueError, match="seed"):
        vinf.diagnostics.evaluate_runs(standard_normal_log_prob, q, num_sets=2, seed=bad)


def test_khat_refuses_too_few_draws_and_undefined_weights():
    with pytest.raises(ValueError, match="at least 25 draws, got 5"):
        vinf.diagnostics.khat_from_log_weights(np.zeros(5))
    lw = np.random.default_rng(0).normal(size=100)
    lw[3] = np.nan
    with pytest.raises(ValueError, match="1 of 100 log weights are NaN or \\+inf"):
        vinf.diagnostics.khat_from_log_weights(lw)
    lw[3] = -np.inf  # a draw outside the target's support: weight 0, not an error
    assert np.isfinite(vinf.diagnostics.khat_from_log_weights(lw))


def test_numpy_integer_seeds_and_counts_are_accepted():
    q = tfd.MultivariateNormalDiag(loc=tf.zeros(2))
    assert np.isfinite(vinf.diagnostics.elbo(standard_normal_log_prob, q, num_samples=np.int64(100), seed=np.int64(1)))


# ------------------------------------------------------------------ ArviZ out

import arviz as az  # noqa: E402


@pytest.fixture(scope="module")
def eight_schools_fit():
    target = vinf.targets.eight_schools(centered=False)
    q = vinf.surrogates.get("mean_field", target.dim, seed=0, batch_shape=[3])
    vinf.fit(target, q, num_steps=2000, sample_size=200, seed=0, progress=False)
    return target, q


def test_to_inference_data_holds_the_model_variables_with_members_as_chains(eight_schools_fit):
    target, q = eight_schools_fit
    idata = vinf.diagnostics.to_inference_data(q, target, num_draws=400, seed=1)
    post = idata.posterior
    assert set(post.data_vars) == {"mu", "tau", "theta", "theta_tilde"}
    assert post["theta"].shape == (3, 400, 8) and post["tau"].shape == (3, 400)
    assert np.all(post["tau"].values > 0)
    np.testing.assert_allclose(post["theta"].values,
                               post["mu"].values[..., None] + post["tau"].values[..., None] * post["theta_tilde"].values)
    stats = idata.sample_stats
    np.testing.assert_allclose(stats["log_weight"].values, stats["log_p"].values - stats["log_q"].values)
    attrs = post.attrs
    assert attrs["elbo"] == pytest.approx(stats["log_weight"].values.mean())
    assert attrs["elbo"] <= target.log_evidence() + 0.1
    assert len(attrs["khat_per_chain"]) == len(attrs["elbo_per_chain"]) == 3
    summary = az.summary(idata, var_names=["mu", "tau"])
    assert list(summary.index) == ["mu", "tau"] and summary["r_hat"].max() < 1.05  # three trainings agree


def test_psis_resampling_moves_draws_towards_the_target(eight_schools_fit):
    target, q = eight_schools_fit
    plain = vinf.diagnostics.to_inference_data(q, target, num_draws=2000, seed=2)
    resampled = vinf.diagnostics.to_inference_data(q, target, num_draws=2000, seed=2, psis_resample=True)
    assert resampled.posterior.attrs["psis_resampled"] == 1
    # Resampling favours the draws with high log p - log q: their mean log weight rises.
    assert resampled.sample_stats["log_weight"].values.mean() > plain.sample_stats["log_weight"].values.mean()


def _reference(loc, scale, draws=4000, seed=0):
    rng = np.random.default_rng(seed)
    return az.from_dict(posterior={"z": loc + scale * rng.standard_normal((2, draws, 2))})


def test_compare_measures_errors_in_reference_sd_units():
    target = vinf.targets.Target("gaussian", standard_normal_log_prob, ["z[0]", "z[1]"])
    exact = tfd.MultivariateNormalDiag(loc=tf.zeros(2))
    shifted = tfd.MultivariateNormalDiag(loc=[0.5, 0.0], scale_diag=[1.0, 2.0])
    reference = _reference(0.0, 1.0)
    good = vinf.diagnostics.compare(vinf.diagnostics.to_inference_data(exact, target, 4000), reference)
    assert list(good.index) == ["z[0]", "z[1]"]
    assert np.all(np.abs(good["mean_error"]) < 5 * good["mean_mcse"] + 0.05)
    bad = vinf.diagnostics.compare(vinf.diagnostics.to_inference_data(shifted, target, 4000), reference)
    assert bad.loc["z[0]", "mean_error"] == pytest.approx(0.5, abs=0.1)
    assert bad.loc["z[1]", "sd_error"] == pytest.approx(1.0, abs=0.1)
    # PSIS weights pull the shifted proposal's mean back towards the target's.
    weighted = vinf.diagnostics.compare(vinf.diagnostics.to_inference_data(shifted, target, 4000), reference,
                                        weighted=True)
    assert abs(weighted.loc["z[0]", "mean_error"]) < abs(bad.loc["z[0]", "mean_error"]) / 2


def test_compare_names_what_is_missing():
    target = vinf.targets.Target("gaussian", standard_normal_log_prob, ["z[0]", "z[1]"])
    idata = vinf.diagnostics.to_inference_data(tfd.MultivariateNormalDiag(loc=tf.zeros(2)), target, 100)
    with pytest.raises(ValueError, match="not in both posteriors"):
        vinf.diagnostics.compare(idata, _reference(0.0, 1.0), var_names=["mu"])
    with pytest.raises(ValueError, match="InferenceData"):
        vinf.diagnostics.compare(idata, {"z": 1})


@pytest.mark.parametrize("k", [0.1, 0.4, 0.8])
def test_zhang_stephens_recovers_a_generalized_pareto_shape(k):
    from scipy import stats

    x = stats.genpareto(c=k, scale=2.0).rvs(20000, random_state=np.random.default_rng(1))
    k_hat, sigma_hat = vinf.khat.gpd_fit_zhang_stephens(x)
    assert k_hat == pytest.approx(k, abs=0.05) and sigma_hat == pytest.approx(2.0, rel=0.05)


def test_both_khat_estimators_see_the_same_tails():
    """A normal proposal for a normal target: slightly or much wider than the target, the weights
    are bounded (k-hat small); three times narrower, their tail index is 1 - 1/9 (k-hat large)."""
    from scipy import stats

    z = np.random.default_rng(2).standard_normal((4, 5000))
    light = stats.norm(scale=0.9).logpdf(z) - stats.norm.logpdf(z)
    wide = stats.norm.logpdf(3 * z) - stats.norm(scale=3).logpdf(3 * z)
    narrow = stats.norm(scale=3).logpdf(z) - stats.norm.logpdf(z)
    for method in ("arviz", "thesis"):
        assert np.all(vinf.diagnostics.khat_from_log_weights(light, method) < 0.5)
        assert np.all(vinf.diagnostics.khat_from_log_weights(wide, method) < 0.5)
        assert np.all(vinf.diagnostics.khat_from_log_weights(narrow, method) > 0.7)
    with pytest.raises(ValueError, match="unknown method 'psis2'"):
        vinf.diagnostics.khat_from_log_weights(light, "psis2")


def test_log_weights_spread_over_hundreds_of_nats_never_score_as_a_good_proposal():
    """Log weights spread over hundreds of nats (a diverged fit's): the 2015 estimator's tail underflows to
    zeros, which once gave k-hat 0, the best score, to the worst proposals; one weight is the whole tail: inf."""
    rng = np.random.default_rng(3)
    for scale in (200.0, 250.0, 300.0):  # tails whose first quartile is subnormal or 0 (both once gave 0)
        lw = rng.normal(scale=scale, size=(8, 5000))
        assert np.all(vinf.diagnostics.khat_from_log_weights(lw, "thesis") > 0.7)
        assert np.all(vinf.diagnostics.khat_from_log_weights(lw, "arviz") > 0.7)
    assert vinf.diagnostics.khat_from_log_weights(rng.normal(scale=1000.0, size=5000), "thesis") == np.inf


def test_evaluate_runs_reports_both_estimators_from_the_same_draws():
    q = tfd.MultivariateNormalDiag(loc=tf.zeros([2, 2]), scale_diag=tf.constant([[1.0], [0.5]]) * tf.ones([2, 2]))
    runs = vinf.diagnostics.evaluate_runs(standard_normal_log_prob, q, num_sets=3, num_draws=2000, seed=0)
    summary = runs.summary()
    assert runs.khat_thesis.shape == (2,) and summary["khat_thesis_mean"] == pytest.approx(runs.khat_thesis.mean())
    assert runs.khat_thesis[1] > runs.khat_thesis[0]


def test_evaluate_runs_keeps_each_trainings_spread_over_its_sets():
    """The study's Tables II-IV print the mean over trainings of each training's sd over its sets (ddof 0)."""
    q = tfd.MultivariateNormalDiag(loc=tf.zeros([2, 2]), scale_diag=tf.constant([[1.0], [0.5]]) * tf.ones([2, 2]))
    runs = vinf.diagnostics.evaluate_runs(standard_normal_log_prob, q, num_sets=4, num_draws=500, seed=0)
    sets = [vinf.diagnostics.evaluate_runs(standard_normal_log_prob, q, num_sets=1, num_draws=500, seed=0)]
    assert runs.elbo_set_sd.shape == runs.khat_set_sd.shape == runs.khat_thesis_set_sd.shape == (2,)
    assert runs.elbo_set_sd[0] < 1e-6 < runs.elbo_set_sd[1], "q = p: every set's ELBO is log Z (float32)"
    assert sets[0].elbo_set_sd.tolist() == [0.0, 0.0], "one set has no spread"
    second = runs.select(1)
    assert second.elbo == runs.elbo[1] and second.khat_set_sd == runs.khat_set_sd[1]


# ------------------------------------------------------------------ per-layer gradients


def _stacked_variables(q):
    """The flow's stacked variables by name, raw (a TransformedVariable's pre-transform variable)."""
    stack = q.bijector
    return {key: getattr(stack.parameters[key], "pretransformed_input", stack.parameters[key])
            for key in stack.parameter_properties()}


@pytest.mark.parametrize("family", ["planar", "radial"])
def test_layer_gradient_norms_match_finite_differences(family):
    """Each member's per-layer norms equal those of its -ELBO's gradient by central differences, one
    parameter entry at a time (the same draws), on two members of a K = 3 flow; another member's
    parameters leave a member's -ELBO exactly unchanged."""
    q = vinf.surrogates.get(family, 2, num_flows=3, seed=0, batch_shape=[2], dtype=tf.float64)
    rng = np.random.default_rng(1)
    for v in q.trainable_variables:
        v.assign(v + 0.5 * rng.standard_normal(v.shape))
    size, seed, step = 100, 4, 1e-6
    norms = vinf.diagnostics.layer_gradient_norms(standard_normal_log_prob, q, sample_size=size, seed=seed)
    assert norms.shape == (2, 3)

    def loss():
        z, log_q = q.experimental_sample_and_log_prob(size, seed=(seed, 0))
        return np.mean(log_q.numpy() - standard_normal_log_prob(z).numpy(), axis=0)

    squares = np.zeros((2, 3))
    for variable in _stacked_variables(q).values():
        value = variable.numpy()
        for index in np.ndindex(*value.shape):  # index = (member, layer, ...)
            differences = []
            for sign in (1.0, -1.0):
                moved = value.copy()
                moved[index] += sign * step
                variable.assign(moved)
                differences.append(loss())
            variable.assign(value)
            change = differences[0] - differences[1]
            assert change[1 - index[0]] == 0.0
            squares[index[:2]] += (change[index[0]] / (2 * step)) ** 2
    np.testing.assert_allclose(norms, np.sqrt(squares), rtol=1e-6)


def test_layer_gradient_norms_refuse_other_families_and_bad_arguments():
    target = vinf.targets.get("banana")
    with pytest.raises(ValueError, match="needs a planar or radial surrogate"):
        vinf.diagnostics.layer_gradient_norms(target, vinf.surrogates.mean_field(2))
    with pytest.raises(ValueError, match="sample_size"):
        vinf.diagnostics.layer_gradient_norms(target, vinf.surrogates.radial(2, num_flows=2), sample_size=0)
    with pytest.raises(ValueError, match="does not match target 'banana'"):
        vinf.diagnostics.layer_gradient_norms(target, vinf.surrogates.planar(3, num_flows=2))
