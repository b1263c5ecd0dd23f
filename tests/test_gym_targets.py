"""Inference Gym models as targets: the density with its Jacobian, log Z, flattening, ground truth, the extra."""
import collections
import gc
import math
import runpy
import sys
import weakref

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from scipy import integrate, stats
from scipy.special import logsumexp

import vinf
from vinf.targets import gym as gym_targets
from vinf.targets._base import group_by_name

gym = pytest.importorskip("inference_gym.using_tensorflow")


@pytest.fixture(scope="module")
def lgcp():
    """Structured (a dict), float64, and with Exp bijectors: every part of the map is exercised."""
    model = gym.targets.SyntheticLogGaussianCoxProcess()
    return model, vinf.targets.from_inference_gym(model)


@pytest.fixture(scope="module")
def eight_schools():
    return vinf.targets.from_inference_gym("EightSchools")


def gym_log_density(model, target, z):
    """``unnormalized_log_prob(b(z)) + log|det db/dz|``, each variable through its own gym bijector."""
    unconstrained = group_by_name(z, target.names)
    bijectors = model.default_event_space_bijector
    x = {key: bijectors[key].forward(tf.constant(value)) for key, value in unconstrained.items()}
    fldj = sum(bijectors[key].forward_log_det_jacobian(tf.constant(value), event_ndims=value.ndim - 1)
               for key, value in unconstrained.items())
    return (model.unnormalized_log_prob(x) + fldj).numpy()


def test_log_prob_is_the_gym_density_plus_the_log_jacobian(lgcp):
    model, target = lgcp
    z = np.random.default_rng(0).normal(size=(4, target.dim)) * 0.3
    np.testing.assert_allclose(target.log_prob(z).numpy(), gym_log_density(model, target, z), rtol=1e-10)


Point = collections.namedtuple("Point", ["scale", "pair"])


class NestedModel(gym.targets.Model):
    """A gym model over ``Point(scale > 0, {"loc": R^2, "rate" > 0})``: a namedtuple holding a dict."""

    def __init__(self):
        tfb = tfp.bijectors
        super().__init__(
            default_event_space_bijector=Point(tfb.Softplus(), {"loc": tfb.Identity(), "rate": tfb.Exp()}),
            event_shape=Point([], {"loc": [2], "rate": []}),
            dtype=Point(tf.float32, {"loc": tf.float32, "rate": tf.float32}),
            name="nested", pretty_name="Nested",
            sample_transformations={"identity": gym.targets.Model.SampleTransformation(
                fn=lambda x: x, pretty_name="Identity",
                dtype=Point(tf.float32, {"loc": tf.float32, "rate": tf.float32}),
                ground_truth_mean=Point(1.0, {"loc": np.array([2.0, 3.0]), "rate": 4.0}))},
        )

    def _unnormalized_log_prob(self, x):
        return -x.scale - 0.5 * tf.reduce_sum(x.pair["loc"] ** 2, axis=-1) - 2.0 * x.pair["rate"]


def test_a_nested_model_of_ones_own_is_named_flattened_and_transformed():
    target = vinf.targets.from_inference_gym(NestedModel())
    assert target.names == ("scale", "pair.loc[0]", "pair.loc[1]", "pair.rate")
    z = np.random.default_rng(4).normal(size=(6, 4)).astype(np.float32)
    s, loc, r = z[:, 0], z[:, 1:3], z[:, 3]
    expected = -np.logaddexp(0, s) - 0.5 * (loc ** 2).sum(-1) - 2 * np.exp(r) - np.logaddexp(0, -s) + r
    np.testing.assert_allclose(target.log_prob(z).numpy(), expected, rtol=1e-5)
    values = target.constrain(z)
    np.testing.assert_allclose(values["pair.rate"], np.exp(r), rtol=1e-6)
    np.testing.assert_allclose(values["pair.loc"], loc)
    assert target.ground_truth.names == target.names and target.ground_truth.sd is None
    np.testing.assert_allclose(target.ground_truth.mean, [1, 2, 3, 4])


def test_a_structured_model_flattens_and_constrain_round_trips(lgcp, eight_schools):
    assert eight_schools.dim == 10 and eight_schools.dtype == tf.float32
    assert eight_schools.names[:3] == ("avg_effect", "log_stddev", "school_effects[0]")
    assert eight_schools.names[-1] == "school_effects[7]"
    model, target = lgcp
    assert target.dim == 102 and target.dtype == tf.float64
    z = np.random.default_rng(1).normal(size=(5, target.dim))
    values = target.constrain(z)
    shapes = {key: value.shape for key, value in values.items()}
    assert shapes == {"amplitude": (5,), "length_scale": (5,), "log_intensity": (5, 100)}
    assert np.all(values["amplitude"] > 0) and np.all(values["length_scale"] > 0)
    bijectors = model.default_event_space_bijector
    back = {key: bijectors[key].inverse(value).numpy() for key, value in values.items()}
    np.testing.assert_allclose(np.concatenate([back["amplitude"][:, None], back["length_scale"][:, None],
                                               back["log_intensity"]], axis=-1), z, atol=1e-10)
    scales = z[:, [target.names.index("amplitude"), target.names.index("length_scale")]]
    np.testing.assert_allclose(values["amplitude"], np.exp(scales[:, 0]))
    # the log-Jacobian of the two Exp maps is their sum of z
    np.testing.assert_allclose(target.log_prob(z).numpy() - model.unnormalized_log_prob(values).numpy(),
                               scales.sum(axis=-1), rtol=1e-9, atol=1e-9)


def test_ground_truth_is_flattened_in_the_order_of_the_constrained_values(lgcp, eight_schools):
    model, target = lgcp
    truth, identity = target.ground_truth, model.sample_transformations["identity"]
    assert truth.names == target.names  # an Exp per variable: one constrained value per coordinate
    for moment, gym_moment in [(truth.mean, identity.ground_truth_mean),
                               (truth.sd, identity.ground_truth_standard_deviation),
                               (truth.mean_se, identity.ground_truth_mean_standard_error)]:
        assert moment.shape == (target.dim,)
        for key, value in group_by_name(moment, truth.names).items():
            np.testing.assert_allclose(value, gym_moment[key])
    z = np.random.default_rng(2).normal(size=(3, target.dim))
    flat = np.concatenate([np.reshape(v, (3, -1)) for v in target.constrain(z).values()], axis=-1)
    np.testing.assert_allclose(truth.transform(z), flat)
    assert eight_schools.ground_truth.mean.shape == (10,)
    assert eight_schools.ground_truth.mean[eight_schools.names.index("avg_effect")] == pytest.approx(5.76, abs=0.01)
    funnel = vinf.targets.from_inference_gym("NealsFunnel", ndims=2).ground_truth
    assert funnel.mean_se is None and funnel.sd_se is None  # exact moments have no Monte-Carlo error
    np.testing.assert_allclose(funnel.sd, [3.0, math.exp(1.5**2)])


def test_log_evidence_is_kept_per_target_without_keeping_the_target_alive():
    target = vinf.targets.from_inference_gym("NealsFunnel", ndims=2)
    assert target.log_evidence() == 0.0 and target.log_evidence() == 0.0
    alive = weakref.ref(target)
    del target
    gc.collect()
    assert alive() is None


def test_a_model_without_ground_truth_has_none():
    assert vinf.targets.from_inference_gym("SyntheticPlasmaSpectroscopy").ground_truth is None


def test_log_evidence_of_the_banana_agrees_with_quadrature():
    target = vinf.targets.from_inference_gym("Banana")
    assert target.dim == 2 and target.names == ("x[0]", "x[1]")
    assert target.log_evidence() == 0.0
    x0, x1 = np.linspace(-60.0, 60.0, 1201), np.linspace(-12.0, 110.0, 1201)  # x1 = 0.03 (x0^2 - 100) + N(0, 1)
    points = np.stack(np.meshgrid(x0, x1, indexing="ij"), axis=-1).reshape(-1, 2)
    log_p = target.log_prob_numpy(points.astype(np.float32)).astype(np.float64)
    log_z = logsumexp(log_p) + math.log((x0[1] - x0[0]) * (x1[1] - x1[0]))
    assert log_z == pytest.approx(0.0, abs=2e-3)


def test_log_evidence_of_the_funnel_agrees_with_importance_sampling():
    target = vinf.targets.from_inference_gym("NealsFunnel", ndims=2)
    assert target.log_evidence() == 0.0
    rng = np.random.default_rng(3)
    x0 = rng.normal(0.0, 3.0, size=200_000)
    x1 = rng.normal(0.0, 2.0 * np.exp(x0 / 2))  # twice the funnel's width: bounded weights
    log_q = stats.norm.logpdf(x0, 0.0, 3.0) + stats.norm.logpdf(x1, 0.0, 2.0 * np.exp(x0 / 2))
    log_w = target.log_prob_numpy(np.stack([x0, x1], -1).astype(np.float32)) - log_q
    log_z = logsumexp(log_w) - math.log(len(log_w))
    assert log_z == pytest.approx(0.0, abs=0.01)


def test_a_fitted_elbo_stays_below_the_known_log_evidence():
    target = vinf.targets.from_inference_gym("Banana")
    q = vinf.surrogates.get("mean_field", target.dim)
    vinf.fit(target, q, num_steps=200, sample_size=64, learning_rate=1e-2, seed=0)
    elbo = vinf.diagnostics.elbo(target.log_prob, q, num_samples=2000)
    assert np.isfinite(elbo) and elbo < target.log_evidence()


def test_log_evidence_of_the_gym_eight_schools_is_its_density_integrated(eight_schools):
    """With the school effects drawn from their exact conditional given the hyperparameters and y, the gym's
    own density over that conditional is p(y | mu, tau) whatever the draw: the integrand of the quadrature.
    Its integral over the hyperparameters' prior, by SciPy's adaptive quadrature, is log Z."""
    rng = np.random.default_rng(5)
    n = 20_000
    y, sigma = np.array(vinf.targets.EIGHT_SCHOOLS_Y), np.array(vinf.targets.EIGHT_SCHOOLS_SIGMA)
    mu, log_sd = rng.normal(0.0, 10.0, n), rng.normal(5.0, 1.0, n)
    tau2 = np.exp(2 * log_sd)[:, None]
    post_var = 1.0 / (1.0 / tau2 + 1.0 / sigma**2)
    post_mean = post_var * (mu[:, None] / tau2 + y / sigma**2)
    theta = rng.normal(post_mean, np.sqrt(post_var))
    z = np.concatenate([mu[:, None], log_sd[:, None], theta], axis=1)  # avg_effect, log_stddev, school_effects
    assert eight_schools.names[:2] == ("avg_effect", "log_stddev")
    log_q = (stats.norm.logpdf(mu, 0, 10) + stats.norm.logpdf(log_sd, 5, 1)
             + stats.norm.logpdf(theta, post_mean, np.sqrt(post_var)).sum(axis=1))
    log_w = eight_schools.log_prob_numpy(z.astype(np.float32)).astype(np.float64) - log_q
    marginal = stats.norm.logpdf(y, mu[:, None], np.sqrt(sigma**2 + tau2)).sum(axis=1)  # log p(y | mu, tau)
    np.testing.assert_allclose(log_w, marginal, atol=2e-3 * np.abs(marginal).max())  # theta drops out

    def joint(log_sd, mu):  # p(y | mu, tau) p(mu) p(log sd), scaled by e^36 away from underflow
        return math.exp(stats.norm.logpdf(y, mu, np.sqrt(sigma**2 + math.exp(2 * log_sd))).sum()
                        + stats.norm.logpdf(mu, 0, 10) + stats.norm.logpdf(log_sd, 5, 1) + 36.0)

    value, _ = integrate.dblquad(joint, -80.0, 80.0, -10.0, 12.0)
    assert math.log(value) - 36.0 == pytest.approx(eight_schools.log_evidence(), abs=1e-3)


@pytest.mark.parametrize("name, variables", [("EightSchools", ("log_stddev", "avg_effect", "school_effects")),
                                             ("NealsFunnel", ("x[0]", "x[1:]"))])
def test_hierarchical_models_carry_their_conditional_priors(name, variables):
    target = vinf.targets.from_inference_gym(name)
    hierarchy = target.hierarchy
    assert hierarchy.variables == variables and sum(hierarchy.sizes) == target.dim
    z = np.random.default_rng(0).normal(size=(3, target.dim)).astype(np.float32)
    loc, log_scale = (t.numpy() for t in hierarchy.prior(z))
    if name == "EightSchools":  # school_effects ~ N(avg_effect, exp(log_stddev)); the roots N(0, 10), N(5, 1)
        np.testing.assert_allclose(loc[:, 2:], np.repeat(z[:, :1], 8, axis=1))
        np.testing.assert_allclose(log_scale[:, 2:], np.repeat(z[:, 1:2], 8, axis=1), rtol=1e-6)
        np.testing.assert_allclose(log_scale[:, :2], np.broadcast_to(np.log([10.0, 1.0]), (3, 2)), rtol=1e-6)
    else:  # x[i] ~ N(0, exp(x[0] / 2)), x[0] ~ N(0, 3)
        np.testing.assert_allclose(loc, 0.0)
        np.testing.assert_allclose(log_scale[:, 1:], np.repeat(z[:, :1] / 2, target.dim - 1, axis=1), rtol=1e-6)
        np.testing.assert_allclose(log_scale[:, 0], np.log(3.0), rtol=1e-6)
    assert vinf.targets.from_inference_gym("Banana").hierarchy is None  # a test density without one


@pytest.mark.parametrize("name", ["EightSchools", "NealsFunnel"])
def test_a_model_informed_flow_fits_a_gym_model_below_its_log_evidence(name):
    target = vinf.targets.from_inference_gym(name)
    q = vinf.surrogates.get("mif", target.dim, target=target, batch_shape=[2])
    vinf.fit(target, q, num_steps=300, sample_size=64, learning_rate=1e-2, seed=0, jit_compile=False)
    elbo = vinf.diagnostics.elbo(target.log_prob, q, num_samples=4000, seed=1)
    assert np.all(np.isfinite(elbo)) and np.all(elbo < target.log_evidence())
    assert np.all(elbo > target.log_evidence() - 5.0)  # and it fitted: within a few nats


def test_the_offline_models_are_listed_by_name():
    assert {"Banana", "EightSchools", "NealsFunnel", "StochasticVolatilitySP500Small"} <= set(vinf.targets.gym_names())
    assert not any("GermanCredit" in name or "Radon" in name for name in vinf.targets.gym_names())


@pytest.mark.parametrize("call, message", [
    (lambda: vinf.targets.from_inference_gym("GermanCreditNumericLogisticRegression"),
     "unknown offline Inference Gym model .* known .*: Banana"),
    (lambda: vinf.targets.from_inference_gym("NealsFunnel", dims=2), "NealsFunnel does not take"),
    (lambda: vinf.targets.from_inference_gym(gym.targets.Banana(), ndims=3), "build a model by name"),
    (lambda: vinf.targets.from_inference_gym(vinf.targets.eight_schools_model()), "must be an inference_gym"),
])
def test_bad_arguments_raise_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_without_the_extra_the_error_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "inference_gym", None)  # import inference_gym now raises ImportError
    with pytest.raises(ImportError, match=r'pip install -e "\.\[gym\]"'):
        vinf.targets.from_inference_gym("Banana")
    runpy.run_path(gym_targets.__file__)  # the module itself, hence vinf, imports without the gym
