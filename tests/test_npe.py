"""Neural posterior estimation: the conditional flow's density is exact and normalised, the simulator
matches the targets' coordinates, a trained flow recovers a conjugate posterior (mean, sd, SBC, ELBO
below the exact log evidence), and bad arguments fail before any work."""
import math

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import vinf
from vinf import npe

tfd = tfp.distributions

NOISE = 0.5  # the conjugate toy: z ~ N(0, I), y | z ~ N(z, NOISE^2 I)
TOY_DIM = 2


def _perturb(q, scale, seed=0):
    """Move every weight away from the near-identity start, so the flow is not trivial."""
    rng = np.random.default_rng(seed)
    for v in q.trainable_variables:
        v.assign(v + scale * rng.standard_normal(v.shape).astype(v.dtype.as_numpy_dtype))
    return q


def _toy_model(dtype=tf.float32):
    one = tf.constant(1.0, dtype)
    return tfd.JointDistributionNamed(dict(
        z=tfd.Sample(tfd.Normal(0 * one, one), TOY_DIM),
        y=lambda z: tfd.Independent(tfd.Normal(z, NOISE * one), 1),
    ))


def _toy_posterior(y):
    """Exact ``p(z | y)`` mean and sd and ``log p(y)`` of the conjugate toy."""
    y = np.asarray(y, dtype=np.float64)
    precision = 1.0 + NOISE**-2
    var_y = 1.0 + NOISE**2
    log_evidence = np.sum(-0.5 * math.log(2 * math.pi * var_y) - 0.5 * y**2 / var_y)
    return y * NOISE**-2 / precision, np.full_like(y, precision**-0.5), float(log_evidence)


@pytest.fixture(scope="module")
def toy():
    sampler = npe.prior_predictive_sampler(_toy_model(), "y")
    q = npe.conditional_maf(sampler, num_flows=2, hidden_units=(32,), seed=0)
    # Without XLA: compiling costs more than these few steps save (the library's default is jit_compile=True).
    result = npe.train(q, sampler, num_steps=600, batch_size=256, learning_rate=5e-3, seed=0, jit_compile=False)
    return sampler, q, result


@pytest.mark.parametrize("squash_context", [True, False])
def test_log_prob_is_the_change_of_variables(squash_context):
    """``log q(z | y) = log N(eps) - log|det dz/deps|`` with the Jacobian by autodiff, at a batch of contexts."""
    q = _perturb(npe.ConditionalMAF(3, 2, num_flows=2, hidden_units=(8, 8), dtype=tf.float64,
                                    context_shift=[1.0, -1.0], context_scale=[2.0, 0.5], latent_scale=1.5,
                                    squash_context=squash_context), 0.3)
    y = tf.constant(np.random.default_rng(1).normal(size=(6, 2)))
    eps = tf.constant(np.random.default_rng(2).normal(size=(6, 3)))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(eps)
        z = q.bijector(y).forward(eps)
        rows = [z[:, i] for i in range(3)]
    jacobian = tf.stack([tape.gradient(row, eps) for row in rows], axis=1)  # dz_i/deps_j per draw (no pfor: faster)
    expected = tfd.MultivariateNormalDiag(tf.zeros(3, tf.float64)).log_prob(eps) - tf.math.log(
        tf.abs(tf.linalg.det(jacobian)))
    # A fresh tensor, so the bijector's cache cannot hand back eps: log q inverts the flow itself.
    log_q = q.log_prob(z.numpy(), y)
    np.testing.assert_allclose(log_q.numpy(), expected.numpy(), rtol=1e-10, atol=1e-10)
    # One context, many draws; and draws at each of several contexts.
    assert q.sample(5, y[0], seed=(0, 1)).shape == (5, 3)
    assert q.sample(5, y, seed=(0, 1)).shape == (5, 6, 3)
    assert q.log_prob(q.sample(5, y, seed=(0, 1)), y).shape == (5, 6)


def test_density_integrates_to_one():
    q = _perturb(npe.ConditionalMAF(2, 1, num_flows=2, hidden_units=(8,), dtype=tf.float64), 0.3, seed=3)
    axis = np.linspace(-9.0, 9.0, 361)
    points = np.stack([g.ravel() for g in np.meshgrid(axis, axis, indexing="ij")], axis=-1)
    density = np.exp(q.log_prob(points, [0.7]).numpy())
    mass = density.sum() * (axis[1] - axis[0]) ** 2
    assert abs(mass - 1.0) < 1e-3


@pytest.mark.parametrize("centered", [True, False])
def test_eight_schools_sampler_follows_the_target(centered):
    sampler = npe.eight_schools_sampler(centered=centered)
    target = vinf.targets.eight_schools(centered=centered)
    assert sampler.names == target.names and (sampler.dim, sampler.context_dim) == (10, 8)
    points = np.random.default_rng(0).normal(size=(5, 10))
    at_table_i = sampler.target(vinf.targets.EIGHT_SCHOOLS_Y)
    np.testing.assert_allclose(at_table_i.log_prob_numpy(points), target.log_prob_numpy(points), rtol=1e-12)
    z, y = (x.numpy() for x in sampler(20000, (0, 1)))
    latent, mu, log_tau = z[:, :8], z[:, 8], z[:, 9]
    median, scale = npe.robust_moments(np.stack([mu, log_tau], axis=-1))
    np.testing.assert_allclose(median, [0.0, math.log(5.0)], atol=0.1)  # mu ~ N(0, 5^2); tau's median is 5
    np.testing.assert_allclose(scale[0], 5.0, rtol=0.05)
    theta = latent if centered else mu[:, None] + np.exp(log_tau)[:, None] * latent
    residual = (y - theta) / np.asarray(vinf.targets.EIGHT_SCHOOLS_SIGMA)
    np.testing.assert_allclose(residual.mean(axis=0), 0.0, atol=0.05)
    np.testing.assert_allclose(residual.std(axis=0), 1.0, rtol=0.05)


def test_trained_flow_recovers_the_conjugate_posterior(toy):
    sampler, q, result = toy
    assert np.all(np.isfinite(result.loss))
    y_obs = [1.0, -0.5]
    mean, sd, _ = _toy_posterior(y_obs)
    draws = q.sample(20000, y_obs, seed=(5, 6)).numpy()
    # Within a fifth of the posterior sd (0.447) in the mean, a tenth in the sd: seeds 0-2 err by at most
    # 0.045 and 0.023; Monte-Carlo error of 20000 draws is 0.003.
    np.testing.assert_allclose(draws.mean(axis=0), mean, atol=0.09)
    np.testing.assert_allclose(draws.std(axis=0), sd, atol=0.045)


def test_sbc_ranks_are_uniform_for_the_trained_flow(toy):
    sampler, q, _ = toy
    sbc = npe.sbc_ranks(q, sampler, num_datasets=200, num_draws=99, num_bins=10, seed=1, jit_compile=False)
    assert sbc.ranks.shape == (200, TOY_DIM) and sbc.ranks.min() >= 0 and sbc.ranks.max() <= 99
    assert sbc.histogram().sum(axis=0).tolist() == [200] * TOY_DIM
    assert np.all(sbc.p_value > 1e-3), sbc.p_value


def test_sbc_detects_an_overconfident_flow_but_not_the_prior(toy):
    """A fresh flow is the prior's robust Gaussian fit whatever ``y``: calibrated (SBC's blind spot, Talts et al.
    section 4). Narrowed to a third of that width it is overconfident: its ranks pile at both ends."""
    sampler, _, _ = toy
    prior = npe.conditional_maf(sampler, num_flows=1, hidden_units=(4,), seed=1)
    narrow = npe.ConditionalMAF(TOY_DIM, TOY_DIM, num_flows=1, hidden_units=(4,), seed=1,
                                latent_shift=prior.latent_shift, latent_scale=prior.latent_scale / 3.0)
    assert np.all(npe.sbc_ranks(prior, sampler, seed=1, jit_compile=False).p_value > 1e-3)
    result = npe.sbc_ranks(narrow, sampler, seed=1, jit_compile=False)
    assert np.all(result.p_value < 1e-6)
    counts = result.histogram()
    assert np.all(counts[0] + counts[-1] > 2 * counts[4:6].sum(axis=0))


def test_elbo_at_an_observation_stays_below_the_log_evidence(toy):
    sampler, q, _ = toy
    y_obs = [1.0, -0.5]
    _, _, log_evidence = _toy_posterior(y_obs)
    target = sampler.target(y_obs)
    q_at_y = npe.at_observation(q, y_obs)
    lw = vinf.diagnostics.log_weights(target, q_at_y, num_samples=5000, seed=0)
    elbo = vinf.diagnostics.elbo(target, q_at_y, num_samples=5000, seed=0)
    assert elbo == pytest.approx(lw.mean())
    assert elbo <= log_evidence + 3 * lw.std() / math.sqrt(lw.size)
    assert elbo > log_evidence - 0.05  # and close: the posterior is in the family
    assert vinf.diagnostics.psis_khat(target, q_at_y, num_samples=5000, seed=0) < 0.5


def test_same_seed_same_training():
    """From the same parameters, the same seed gives the same trace (Adam's state starts afresh per call)."""
    sampler = npe.prior_predictive_sampler(_toy_model(), "y")
    q = npe.conditional_maf(sampler, num_flows=1, hidden_units=(4,), seed=2)
    start = [v.numpy() for v in q.trainable_variables]
    first = npe.train(q, sampler, num_steps=5, batch_size=16, seed=3, jit_compile=False).loss
    for v, value in zip(q.trainable_variables, start):
        v.assign(value)
    np.testing.assert_array_equal(npe.train(q, sampler, num_steps=5, batch_size=16, seed=3, jit_compile=False).loss,
                                  first)
    assert not np.array_equal(npe.train(q, sampler, num_steps=5, batch_size=16, seed=4, jit_compile=False).loss,
                              first)


def test_a_non_finite_loss_names_its_step():
    good = npe.prior_predictive_sampler(_toy_model(), "y")
    broken = npe.PriorPredictive(lambda n, seed: (tf.fill([n, TOY_DIM], np.nan), tf.zeros([n, TOY_DIM])),
                                 good.names, TOY_DIM)
    q = npe.conditional_maf(good, num_flows=1, hidden_units=(4,))
    before = [v.numpy() for v in q.trainable_variables]
    with pytest.raises(FloatingPointError, match="step 0"):
        npe.train(q, broken, num_steps=3, batch_size=4, jit_compile=False)
    for v, b in zip(q.trainable_variables, before):
        np.testing.assert_array_equal(v.numpy(), b)


def test_bad_arguments_raise_before_any_work():
    sampler = npe.prior_predictive_sampler(_toy_model(), "y")
    q = npe.conditional_maf(sampler, num_flows=1, hidden_units=(4,))
    wrong_size = npe.ConditionalMAF(TOY_DIM, TOY_DIM + 1, num_flows=1, hidden_units=(4,))
    for call in (
        lambda: npe.train(q, sampler, num_steps=0),
        lambda: npe.train(q, sampler, num_steps=10, batch_size=0),
        lambda: npe.train(q, sampler, num_steps=10, learning_rate=-1e-3),
        lambda: npe.train(q, sampler, num_steps=10, clip_norm=0.0),
        lambda: npe.train(wrong_size, sampler, num_steps=10),
        lambda: npe.train(sampler, q, num_steps=10),
        lambda: npe.sbc_ranks(q, sampler, num_draws=100, num_bins=10),
    ):
        with pytest.raises(ValueError):
            call()
    assert "_vinf_npe" not in q.__dict__, "nothing was compiled"
    for call in (
        lambda: q.log_prob(tf.zeros([4, TOY_DIM]), tf.zeros([4, TOY_DIM + 1])),
        lambda: q.sample(3, [1.0, 2.0, 3.0], seed=(0, 0)),
        lambda: npe.at_observation(q, [1.0]),
        lambda: npe.at_observation(q, tf.zeros([2, TOY_DIM])),
        lambda: npe.prior_predictive_sampler(_toy_model(), "x"),
        lambda: npe.prior_predictive_sampler(_toy_model(), "y", order=["z[1]", "z[1]"]),
        lambda: npe.prior_predictive_sampler(tfd.Normal(0.0, 1.0)),
        lambda: npe.ConditionalMAF(2, 2, context_scale=[1.0, 0.0]),
    ):
        with pytest.raises(ValueError):
            call()
