"""Targets: the registry, normalisation, and the eight-schools model against an independent quadrature."""
import math

import numpy as np
import pytest
import tensorflow as tf
from scipy import integrate, stats

import vinf
from vinf.targets import EIGHT_SCHOOLS_SIGMA, EIGHT_SCHOOLS_Y


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="known targets: .*banana.*circle"):
        vinf.targets.get("bananas")


@pytest.mark.parametrize("name", vinf.targets.names())
def test_every_target_maps_batches_to_finite_log_densities(name):
    target = vinf.targets.get(name)
    z = np.random.default_rng(0).normal(size=(7, 3, target.dim)).astype(np.float32)
    log_p = target.log_prob(tf.constant(z)).numpy()
    assert log_p.shape == (7, 3)
    assert np.all(np.isfinite(log_p))
    assert len(target.names) == target.dim


@pytest.mark.parametrize("name", ["banana", "figure_eight", "gaussian_mixture"])
def test_normalised_targets_integrate_to_one_on_their_grid(name):
    target = vinf.targets.get(name)
    axes, points = target.grid(1201)
    mass = np.exp(target.log_prob_numpy(points)).sum() * np.prod([a[1] - a[0] for a in axes])
    assert mass == pytest.approx(1.0, abs=2e-3)
    assert target.log_evidence() == pytest.approx(0.0, abs=1e-12)


def test_two_hills_has_modes_at_plus_minus_sqrt_x():
    target = vinf.targets.get("two_hills", x=0.5, sigma=0.1)
    z = np.linspace(-2, 2, 4001)[:, None]
    log_p = target.log_prob_numpy(z)
    left, right = z[:2000][np.argmax(log_p[:2000])], z[2000:][np.argmax(log_p[2000:])]
    # the N(0,1) prior pulls each mode slightly towards 0
    assert right[0] == pytest.approx(math.sqrt(0.5), abs=0.02) and left[0] == pytest.approx(-math.sqrt(0.5), abs=0.02)


def circle_log_density(x, y):
    """Eq. 86 with the ring term's sign as in Figure 30, written independently in NumPy."""
    ring = -0.5 * ((np.hypot(x, y) - 4.0) / 0.4) ** 2
    return ring + np.logaddexp(-0.2 * ((x - 2.0) / 0.8) ** 2, -0.2 * ((x + 2.0) / 0.8) ** 2)


def test_circle_and_its_grid_quadrature_agree_with_scipy():
    target = vinf.targets.get("circle")
    points = np.random.default_rng(2).normal(scale=3.0, size=(50, 2))
    np.testing.assert_allclose(target.log_prob_numpy(points), circle_log_density(*points.T), atol=1e-9)
    (x0, x1), (y0, y1) = target.bounds
    value, _ = integrate.dblquad(lambda y, x: math.exp(circle_log_density(x, y)), x0, x1, y0, y1, epsabs=1e-8)
    assert target.log_evidence() == pytest.approx(math.log(value), abs=1e-3)


def _eight_schools_point(rng, num_schools):
    theta = rng.normal(5, 10, size=num_schools)
    return theta, rng.normal(3, 4), rng.normal(1, 1)


@pytest.mark.parametrize("num_schools", [1, 2, 8])
def test_centered_and_noncentered_differ_by_the_jacobian(num_schools):
    """p_nc(theta_tilde, mu, log tau) = p_c(theta, mu, log tau) tau^J at theta = mu + tau theta_tilde (eq. 100)."""
    rng = np.random.default_rng(num_schools)
    centered = vinf.targets.eight_schools(centered=True, num_schools=num_schools)
    noncentered = vinf.targets.eight_schools(centered=False, num_schools=num_schools)
    for _ in range(5):
        theta, mu, log_tau = _eight_schools_point(rng, num_schools)
        tau = math.exp(log_tau)
        lp_c = centered.log_prob_numpy(np.r_[theta, mu, log_tau])
        lp_nc = noncentered.log_prob_numpy(np.r_[(theta - mu) / tau, mu, log_tau])
        assert lp_nc == pytest.approx(lp_c + num_schools * log_tau, abs=1e-9)


def test_eight_schools_matches_the_model_written_with_scipy():
    rng = np.random.default_rng(1)
    theta, mu, log_tau = _eight_schools_point(rng, 8)
    tau = math.exp(log_tau)
    y, sigma = np.array(EIGHT_SCHOOLS_Y), np.array(EIGHT_SCHOOLS_SIGMA)
    hyper = stats.norm.logpdf(mu, 0, 5) + stats.halfcauchy.logpdf(tau, scale=5) + log_tau
    expected = stats.norm.logpdf(y, theta, sigma).sum() + stats.norm.logpdf(theta, mu, tau).sum() + hyper
    z = np.r_[theta, mu, log_tau]
    assert vinf.targets.eight_schools().log_prob_numpy(z) == pytest.approx(expected, abs=1e-9)
    thesis = vinf.targets.eight_schools(thesis_compat=True).log_prob_numpy(z)
    assert thesis == pytest.approx(expected + 7 * hyper, abs=1e-9)  # hyperprior and Jacobian once per school


def test_num_schools_is_checked():
    for bad in (0, 9, 2.0, True):
        with pytest.raises(ValueError, match="num_schools"):
            vinf.targets.eight_schools(num_schools=bad)


def independent_log_evidence(num_schools, thesis_compat):
    """log p(y) with theta integrated analytically and (mu, log tau) by scipy's adaptive dblquad."""
    y = np.array(EIGHT_SCHOOLS_Y[:num_schools])
    sigma = np.array(EIGHT_SCHOOLS_SIGMA[:num_schools])
    power = num_schools if thesis_compat else 1

    pairs = list(zip(y.tolist(), (sigma**2).tolist()))

    def log_integrand(mu, log_tau):  # plain math, not scipy.stats: dblquad calls it about a million times
        tau2 = math.exp(2 * log_tau)
        marginal = sum(-0.5 * (math.log(2 * math.pi * (s2 + tau2)) + (yi - mu) ** 2 / (s2 + tau2)) for yi, s2 in pairs)
        hyper = (-0.5 * math.log(2 * math.pi * 25.0) - mu**2 / 50.0  # N(mu | 0, 5^2)
                 + math.log(2 / (5 * math.pi)) - math.log1p(tau2 / 25.0)  # Half-Cauchy(tau | 5)
                 + log_tau)
        return marginal + power * hyper

    shift = log_integrand(5.0, 1.0)  # keeps the integrand O(1)
    value, _ = integrate.dblquad(
        lambda log_tau, mu: math.exp(log_integrand(mu, log_tau) - shift), -60, 60, -15, 10, epsabs=1e-10, epsrel=1e-8
    )
    return math.log(value) + shift


@pytest.mark.parametrize(
    "num_schools, thesis_compat, design_value",
    [(8, False, -31.31), (8, True, -59.42), (2, True, -13.24), (2, False, -8.78), (1, True, -5.11)],
)
def test_log_evidence_by_quadrature(num_schools, thesis_compat, design_value):
    value = vinf.targets.eight_schools(num_schools=num_schools, thesis_compat=thesis_compat).log_evidence()
    assert value == pytest.approx(independent_log_evidence(num_schools, thesis_compat), abs=2e-3)
    assert value == pytest.approx(design_value, abs=0.006)


def test_side_by_side_scores_each_block_with_its_own_target():
    first, second = vinf.targets.eight_schools(thesis_compat=True), vinf.targets.eight_schools(centered=False)
    both = vinf.targets.side_by_side([first, second], repeats=2)
    z = np.random.default_rng(4).normal(size=(6, 4, first.dim))
    log_p = both.log_prob(tf.constant(z)).numpy()
    assert log_p.shape == (6, 4)
    np.testing.assert_allclose(log_p[:, :2], first.log_prob_numpy(z[:, :2]), rtol=1e-12)
    np.testing.assert_allclose(log_p[:, 2:], second.log_prob_numpy(z[:, 2:]), rtol=1e-12)
    with pytest.raises(ValueError, match="4 batch members"):
        both.log_prob(tf.constant(z[:, :3]))
    with pytest.raises(ValueError, match="same dim"):
        vinf.targets.side_by_side([first, vinf.targets.get("banana")])


# ------------------------------------------------------------------ one model, three codes

def _columns(target, reference):
    """Indices into ``reference``'s coordinates for ``target``'s (``tau`` is ``log_tau`` there)."""
    index = {name: i for i, name in enumerate(reference.names)}
    index["tau"] = index["log_tau"]
    return [index[name] for name in target.names]


@pytest.mark.parametrize("centered", [True, False])
@pytest.mark.parametrize("num_schools", [1, 8])
def test_eight_schools_joint_distribution_and_pymc_give_the_hand_written_density(centered, num_schools):
    """The model three times: the hand-written target, a TFP JointDistribution through
    from_joint_distribution, and the PyMC model NUTS samples (its log density on the same
    unconstrained point, Jacobian of log tau included)."""
    hand = vinf.targets.eight_schools(centered=centered, num_schools=num_schools)
    joint = vinf.targets.from_joint_distribution(
        vinf.targets.eight_schools_model(centered, num_schools), y=np.asarray(EIGHT_SCHOOLS_Y[:num_schools]))
    assert joint.dim == hand.dim and joint.dtype == tf.float64
    z = np.random.default_rng(num_schools).normal(scale=2.0, size=(6, hand.dim))
    expected = hand.log_prob_numpy(z)
    np.testing.assert_allclose(joint.log_prob_numpy(z[:, _columns(joint, hand)]), expected, rtol=1e-10)
    model = vinf.mcmc.eight_schools_pymc_model(centered, num_schools)
    logp = model.compile_logp()
    latent = "theta" if centered else "theta_tilde"
    for point, value in zip(z, expected):
        pymc_point = {"mu": point[num_schools], "tau_log__": point[num_schools + 1], latent: point[:num_schools]}
        assert logp(pymc_point) == pytest.approx(value, rel=1e-7)


def test_constrain_returns_the_model_variables():
    hand = vinf.targets.eight_schools(centered=False, num_schools=2)
    z = np.array([[0.5, -1.0, 3.0, np.log(2.0)]])
    values = hand.constrain(z)
    np.testing.assert_allclose(values["tau"], [2.0])
    np.testing.assert_allclose(values["theta"], [[3.0 + 2.0 * 0.5, 3.0 - 2.0]])
    joint = vinf.targets.from_joint_distribution(vinf.targets.eight_schools_model(False, 2),
                                                 y=np.asarray(EIGHT_SCHOOLS_Y[:2]))
    assert joint.names == ("mu", "tau", "theta_tilde[0]", "theta_tilde[1]")
    values = joint.constrain(np.array([[3.0, np.log(2.0), 0.5, -1.0]]))
    np.testing.assert_allclose(values["tau"], [2.0])
    np.testing.assert_allclose(values["theta_tilde"], [[0.5, -1.0]])
    assert vinf.targets.get("banana").constrain(np.zeros((4, 2)))["z1"].shape == (4,)


tfd = __import__("tensorflow_probability").distributions


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: vinf.targets.from_joint_distribution(tfd.Normal(0.0, 1.0)), "must be a tfd.JointDistribution"),
        (lambda: vinf.targets.from_joint_distribution(vinf.targets.eight_schools_model(), yy=1.0),
         "Unexpected parameters: \\['yy'\\]"),
        (lambda: vinf.targets.from_joint_distribution(
            tfd.JointDistributionNamed(dict(n=tfd.Poisson(3.0), x=lambda n: tfd.Normal(n, 1.0))), x=1.0),
         "latent variables \\['n'\\] are discrete"),
        (lambda: vinf.targets.from_joint_distribution(tfd.JointDistributionNamed(dict(x=tfd.Normal(0.0, 1.0))), x=1.0),
         "nothing is left to infer"),
        (lambda: vinf.targets.eight_schools(centered="no"), "centered must be True or False"),
        (lambda: vinf.targets.eight_schools(num_schools=2.0), "num_schools"),
        (lambda: vinf.targets.eight_schools(num_schools=9), "num_schools"),
        (lambda: vinf.targets.eight_schools().log_prob(tf.zeros([2, 11])), "has dim 10 .* shape \\[2, 11\\]"),
    ],
)
def test_bad_models_and_points_raise_clear_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()
