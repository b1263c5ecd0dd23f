"""The model-informed family: a JointDistribution's hierarchy (order, conditional priors), the flow on a real
model's priors, where a fresh flow starts, IAF ordered hyperparameters first, and ELBO <= log Z on centred
eight schools, with how close it gets."""
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import vinf

from autodiff import jacobian_and_log_abs_det

tfd = tfp.distributions
Y8 = np.array(vinf.targets.EIGHT_SCHOOLS_Y)
SIGMA8 = np.array(vinf.targets.EIGHT_SCHOOLS_SIGMA)


def _schools(centered=True, num_schools=8, **pins):
    model = vinf.targets.eight_schools_model(centered=centered, num_schools=num_schools)
    return vinf.targets.from_joint_distribution(model, **{"y": Y8[:num_schools], **pins})


def _sequential_and_coroutine_schools():
    """The centred eight-schools model written as the other two kinds of JointDistribution."""
    sequential = tfd.JointDistributionSequential([
        tfd.Normal(np.float64(0), 5.0, name="mu"),
        tfd.HalfCauchy(np.float64(0), 5.0, name="tau"),
        lambda tau, mu: tfd.Sample(tfd.Normal(mu, tau), 8, name="theta"),
        lambda theta: tfd.Independent(tfd.Normal(theta, SIGMA8), 1, name="y"),
    ])

    def model():
        mu = yield tfd.JointDistributionCoroutine.Root(tfd.Normal(np.float64(0), 5.0, name="mu"))
        tau = yield tfd.JointDistributionCoroutine.Root(tfd.HalfCauchy(np.float64(0), 5.0, name="tau"))
        theta = yield tfd.Sample(tfd.Normal(mu, tau), 8, name="theta")
        yield tfd.Independent(tfd.Normal(theta, SIGMA8), 1, name="y")

    return sequential, tfd.JointDistributionCoroutine(model)


def test_hierarchy_lists_the_models_own_order_and_each_conditional_prior():
    t = _schools()
    h = t.hierarchy
    # Target coordinates follow tf.nest (sorted names); the hierarchy the model's own (the JD's) order.
    assert t.names[:2] == ("mu", "tau") and h.variables == ("tau", "mu", "theta") and h.sizes == (1, 1, 8)
    np.testing.assert_array_equal(h.order, [1, 0, *range(2, 10)])
    z = np.random.default_rng(0).normal(size=(4, 3, 10))
    loc, log_scale = (x.numpy() for x in h.prior(z))
    assert loc.shape == log_scale.shape == (4, 3, 10)
    np.testing.assert_allclose(loc[..., 2:], np.broadcast_to(z[..., :1], (4, 3, 8)), atol=1e-12)  # theta ~ N(mu, tau)
    np.testing.assert_allclose(log_scale[..., 2:], np.broadcast_to(z[..., 1:2], (4, 3, 8)), atol=1e-12)  # log tau
    np.testing.assert_allclose(loc[..., 0], 0.0)
    np.testing.assert_allclose(log_scale[..., 0], np.log(5.0), atol=1e-12)  # mu ~ N(0, 5)
    np.testing.assert_array_equal(loc[..., 1], 0.0)  # tau ~ HalfCauchy: no prior inputs
    np.testing.assert_array_equal(log_scale[..., 1], 0.0)
    sequential, coroutine = _sequential_and_coroutine_schools()
    for model in (sequential, coroutine):
        other = vinf.targets.from_joint_distribution(model, y=Y8).hierarchy
        assert other.sizes == (1, 1, 8)
        np.testing.assert_array_equal(other.order, np.arange(10))  # mu, tau, theta: the order written
        np.testing.assert_allclose(other.prior(z)[0].numpy(), loc, atol=1e-12)
        np.testing.assert_allclose(other.prior(z)[1].numpy(), log_scale, atol=1e-12)


def test_hierarchy_reads_location_scale_children_and_gives_the_rest_constant_inputs():
    model = tfd.JointDistributionNamed(dict(
        a=tfd.Normal(np.float64(1), 2.0),
        s=tfd.HalfNormal(np.float64(1)),
        b=lambda a, s: tfd.Independent(tfd.StudentT(3.0, a * np.ones(2), s), 1),
        c=lambda s: tfd.HalfNormal(s),  # a scale family on the positive axis: no location-scale prior inputs
        y=lambda b, c: tfd.Independent(tfd.Normal(b, c), 1),
    ))
    t = vinf.targets.from_joint_distribution(model, y=[0.3, -0.2])
    h = t.hierarchy
    assert t.names == ("a", "b[0]", "b[1]", "c", "s")
    z = np.array([0.5, 9.0, 9.0, 9.0, -0.7])
    log_s = np.log(t.constrain(z)["s"])
    loc, log_scale = (x.numpy() for x in h.prior(z))
    np.testing.assert_allclose(loc, [1.0, 0.5, 0.5, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(log_scale, [np.log(2.0), log_s, log_s, 0.0, 0.0], atol=1e-12)
    position = {name: k for k, name in enumerate(h.variables)}
    assert position["a"] < position["b"] and position["s"] < position["b"] and position["s"] < position["c"]


def test_mif_on_a_models_priors_has_the_autodiff_log_det_and_an_exact_inverse():
    t = _schools(num_schools=1)
    q = vinf.surrogates.get("mif", 3, target=t, num_flows=2, seed=3, dtype=tf.float64)
    rng = np.random.default_rng(1)
    for v in q.trainable_variables:
        v.assign(v + 0.4 * rng.standard_normal(v.shape))
    x = rng.normal(size=(32, 3))
    jac, _, expected = jacobian_and_log_abs_det(q.bijector, x)
    np.testing.assert_allclose(q.bijector.forward_log_det_jacobian(x, event_ndims=1).numpy(), expected, atol=1e-9)
    # Triangular in the hierarchical order (tau, mu, theta; the base noise is in that order): a variable
    # moves with its own and earlier noise only.
    assert np.all(np.triu(jac[:, t.hierarchy.order, :], 1) == 0)
    z = tf.constant(q.bijector.forward(x).numpy())
    np.testing.assert_allclose(q.bijector.inverse(z).numpy(), x, atol=1e-9)


def test_a_non_centered_mif_starts_at_the_priors_non_centred_form():
    t = _schools(num_schools=1)
    z = vinf.surrogates.get("mif", 3, target=t, init="non_centered", seed=0).sample(8000, seed=(5, 6)).numpy()
    mu, log_tau, theta = z[:, 0], z[:, 1], z[:, 2]
    assert abs(mu.std() / 5.0 - 1) < 0.05  # mu ~ N(0, 5^2), the prior
    standardised = (theta - mu) / np.exp(log_tau)  # theta | mu, tau ~ N(mu, tau^2)
    assert abs(standardised.mean()) < 0.05 and abs(standardised.std() - 1) < 0.05
    assert abs(log_tau.std() - 1) < 0.05  # tau has no prior inputs: N(0, 1) in log tau, as mean_field starts


def test_iaf_order_puts_the_hyperparameters_first():
    """With order=hierarchy.order the first layer is autoregressive in (tau, mu, theta): the Jacobian of the
    flow in that order is lower-triangular, tau moving with its own noise only."""
    t = _schools(num_schools=2)
    q = vinf.surrogates.get("iaf", 4, num_flows=1, hidden_units=(8,), order=t.hierarchy.order, seed=0,
                            dtype=tf.float64)
    q.sample(1, seed=(0, 0))
    rng = np.random.default_rng(0)
    for v in q.trainable_variables:
        v.assign(v + 0.5 * rng.standard_normal(v.shape))
    jac, _, _ = jacobian_and_log_abs_det(q.bijector, rng.normal(size=(16, 4)))
    order = t.hierarchy.order  # eps is in the flow's order, z in the target's
    in_order = jac[:, order, :]
    assert np.all(np.triu(in_order, 1) == 0)
    assert np.all(np.abs(in_order[:, 3, :3]).max(axis=0) > 0)  # theta[1], last, moves with every noise
    plain = vinf.surrogates.get("iaf", 4, num_flows=1, hidden_units=(8,), seed=0, dtype=tf.float64)
    assert type(plain.bijector.bijectors[-1]) is not tfp.bijectors.Permute  # no order, no permutation


def test_mif_fit_on_centred_eight_schools_stays_below_log_evidence_and_comes_close():
    """Centred eight schools defeats mean-field ADVI (ELBO -33.4 against log p(y) = -31.31); a short fit of a
    mif (1000 steps, S = 32) non-centres the schools and gets within a few tenths of a nat."""
    t = _schools()
    q = vinf.surrogates.get("mif", t.dim, target=t, seed=0)
    vinf.fit(t, q, num_steps=1000, sample_size=32, seed=0, progress=False)  # compiled (jit_compile=True)
    lw = vinf.diagnostics.log_weights(t, q, num_samples=20000, seed=1)
    elbo, se = lw.mean(), lw.std() / np.sqrt(len(lw))
    assert elbo == pytest.approx(vinf.diagnostics.elbo(t, q, num_samples=20000, seed=1))
    log_z = vinf.targets.eight_schools_log_evidence(8, num=1001)  # -31.3113; the default 4001^2 grid: 8 s more
    assert elbo <= log_z + 3 * se
    assert log_z - elbo < 0.5, f"ELBO {elbo:.3f} is {log_z - elbo:.3f} nats below log p(y) = {log_z:.3f}"
