"""vinf.cavi: the bound, the updates, the predictive density, and argument checks."""
import numpy as np
import pytest
from scipy import stats
from scipy.special import multigammaln

import vinf
from vinf import cavi

SEPARATED_MEANS = np.array([[-6.0, 0.0], [6.0, 0.0], [0.0, 8.0]])
SEPARATED_COVS = np.array([[[1.0, 0.3], [0.3, 0.5]], [[0.6, -0.2], [-0.2, 1.0]], [[0.8, 0.0], [0.0, 0.8]]])


def separated_data(seed=0, per_component=150):
    """Three well-separated 2-D Gaussian clusters and their true labels."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(3), per_component)
    rng.shuffle(labels)
    chol = np.linalg.cholesky(SEPARATED_COVS)[labels]
    x = SEPARATED_MEANS[labels] + np.einsum("nij,nj->ni", chol, rng.standard_normal((labels.size, 2)))
    return x, labels


def overlapping_data(seed=0, n=300):
    rng = np.random.default_rng(seed)
    return np.vstack([rng.normal([0.0, 0.0], 1.0, (n // 2, 2)), rng.normal([1.5, 1.0], 1.2, (n - n // 2, 2))])


@pytest.fixture(scope="module")
def separated_fit():
    x, labels = separated_data()
    return x, labels, cavi.fit_mixture(x, num_components=3, seed=0)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("num_components", [2, 4])
def test_elbo_never_decreases(seed, num_components):
    fit = cavi.fit_mixture(overlapping_data(seed), num_components, seed=seed)
    steps = np.diff(fit.elbo)
    assert fit.num_iterations > 3
    assert np.all(steps >= -1e-9 * np.abs(fit.elbo[1:])), steps.min()


def test_elbo_with_one_component_is_the_exact_log_evidence():
    """With K = 1 the mean-field family holds the Gauss-Wishart posterior, so the bound is log p(x)."""
    x = overlapping_data(3, n=60)
    fit = cavi.fit_mixture(x, num_components=1)
    prior, post = fit.prior, fit.posterior
    n, dim = x.shape

    def log_det_inv(W):
        return -np.linalg.slogdet(W)[1]

    log_evidence = (
        -0.5 * n * dim * np.log(np.pi)
        + multigammaln(post.nu[0] / 2, dim) - multigammaln(prior.nu0 / 2, dim)
        + 0.5 * prior.nu0 * log_det_inv(prior.W0) - 0.5 * post.nu[0] * log_det_inv(post.W[0])
        + 0.5 * dim * np.log(prior.beta0 / post.beta[0])
    )
    assert fit.elbo[-1] == pytest.approx(log_evidence, abs=1e-8)


def _monte_carlo_elbo(x, resp, prior, post, num_draws, rng):
    """``E_q[log p(x, z, pi, mu, Lambda) - log q]`` by sampling ``pi, mu, Lambda`` from ``q``
    (scipy's Dirichlet, Wishart and Gaussian) and summing over ``z`` exactly."""
    num_components, dim = post.m.shape
    values = np.empty(num_draws)
    for s in range(num_draws):
        pi = rng.dirichlet(post.alpha)
        prior_pi = stats.dirichlet(np.full(num_components, prior.alpha0))
        total = prior_pi.logpdf(pi) - stats.dirichlet(post.alpha).logpdf(pi)
        log_lik = np.empty((len(x), num_components))
        for k in range(num_components):
            lam = stats.wishart(df=post.nu[k], scale=post.W[k]).rvs(random_state=rng)
            mu = rng.multivariate_normal(post.m[k], np.linalg.inv(post.beta[k] * lam))
            total += (
                stats.multivariate_normal(prior.m0, np.linalg.inv(prior.beta0 * lam)).logpdf(mu)
                + stats.wishart(df=prior.nu0, scale=prior.W0).logpdf(lam)
                - stats.multivariate_normal(post.m[k], np.linalg.inv(post.beta[k] * lam)).logpdf(mu)
                - stats.wishart(df=post.nu[k], scale=post.W[k]).logpdf(lam)
            )
            log_lik[:, k] = np.log(pi[k]) + stats.multivariate_normal(mu, np.linalg.inv(lam)).logpdf(x)
        values[s] = total + np.sum(resp * (log_lik - np.log(resp)))
    return values.mean(), values.std(ddof=1) / np.sqrt(num_draws)


def test_elbo_matches_a_monte_carlo_estimate_away_from_the_optimum():
    """Every term of PRML 10.70-10.77, at arbitrary responsibilities and factors."""
    rng = np.random.default_rng(0)
    x = overlapping_data(2, n=30)
    prior = cavi.make_prior(x, alpha0=0.7, beta0=2.0, nu0=3.0)
    resp = rng.dirichlet(np.ones(3), size=len(x))
    post = cavi.update(prior, *cavi.statistics(x, rng.dirichlet(np.ones(3), size=len(x))))
    estimate, se = _monte_carlo_elbo(x, resp, prior, post, 1500, rng)
    assert abs(cavi.elbo(x, resp, prior, post) - estimate) < 4 * se, (estimate, se)


def test_recovers_separated_clusters(separated_fit):
    x, labels, fit = separated_fit
    assert fit.converged
    assert cavi.matched_agreement(fit.labels, labels) >= 0.98
    mixture = fit.mixture()
    for mean in SEPARATED_MEANS:
        nearest = np.min(np.linalg.norm(mixture["locs"] - mean, axis=1))
        assert nearest < 0.25, (mean, mixture["locs"])
    assert sum(mixture["weights"]) == pytest.approx(1.0)
    np.testing.assert_allclose(mixture["weights"], [1 / 3] * 3, atol=0.02)


def test_agrees_with_scikit_learn(separated_fit):
    from sklearn.mixture import BayesianGaussianMixture

    x, _, fit = separated_fit
    prior = fit.prior
    model = BayesianGaussianMixture(
        n_components=3, weight_concentration_prior_type="dirichlet_distribution",
        weight_concentration_prior=prior.alpha0, mean_prior=prior.m0, mean_precision_prior=prior.beta0,
        degrees_of_freedom_prior=prior.nu0, covariance_prior=np.linalg.inv(prior.W0), reg_covar=0.0,
        tol=1e-10, max_iter=1000, random_state=0,
    ).fit(x)
    assert cavi.matched_agreement(fit.labels, model.predict(x)) == 1.0
    order = [int(np.argmin(np.linalg.norm(model.means_ - m, axis=1))) for m in fit.posterior.m]
    np.testing.assert_allclose(model.means_[order], fit.posterior.m, atol=1e-6)
    np.testing.assert_allclose(model.weight_concentration_[order], fit.posterior.alpha, rtol=1e-6)


def test_responsibilities_are_normalised(separated_fit):
    x, _, fit = separated_fit
    resp = cavi.responsibilities(x, fit.posterior)
    np.testing.assert_allclose(resp.sum(axis=1), 1.0)
    np.testing.assert_allclose(resp, fit.resp)


def test_mixture_covariances_are_the_inverse_expected_precisions(separated_fit):
    _, _, fit = separated_fit
    post = fit.posterior
    covs = fit.mixture()["covs"]
    for cov, W, nu in zip(covs, post.W, post.nu):
        np.testing.assert_allclose(cov @ (nu * W), np.eye(2), atol=1e-10)


def test_predictive_is_a_mixture_of_student_t(separated_fit):
    """Eqs. 47-48 against scipy's multivariate t."""
    x, _, fit = separated_fit
    post = fit.posterior
    points = x[:20]
    expected = 0.0
    for k in range(3):
        df = post.nu[k] + 1 - 2
        L = df * post.beta[k] / (1 + post.beta[k]) * post.W[k]
        student = stats.multivariate_t(loc=post.m[k], shape=np.linalg.inv(L), df=df)
        expected = expected + post.alpha[k] / post.alpha.sum() * student.pdf(points)
    np.testing.assert_allclose(fit.predictive_log_prob(points), np.log(expected), rtol=1e-10)


def test_predictive_integrates_to_one_in_two_dimensions(separated_fit):
    _, _, fit = separated_fit
    axis1, axis2 = np.linspace(-25, 25, 801), np.linspace(-18, 30, 801)
    X, Y = np.meshgrid(axis1, axis2, indexing="ij")
    density = np.exp(fit.predictive_log_prob(np.stack([X.ravel(), Y.ravel()], axis=-1))).reshape(X.shape)
    total = np.trapezoid(np.trapezoid(density, axis2, axis=1), axis1)
    assert total == pytest.approx(1.0, abs=1e-4)


def test_predictive_integrates_to_one_with_heavy_tails():
    """Five points: nu_k + 1 - D is small, so the Student-t tails are heavy."""
    x = np.array([[-1.0], [0.2], [0.5], [3.0], [3.4]])
    fit = cavi.fit_mixture(x, num_components=2, seed=1)
    assert np.min(fit.posterior.nu) < 5
    grid = np.linspace(-2000, 2000, 800_001)
    total = np.trapezoid(np.exp(fit.predictive_log_prob(grid[:, None])), grid)
    assert total == pytest.approx(1.0, abs=2e-3)


def test_same_seed_same_fit():
    x = overlapping_data(1)
    a, b = cavi.fit_mixture(x, 3, seed=7), cavi.fit_mixture(x, 3, seed=7)
    np.testing.assert_array_equal(a.elbo, b.elbo)
    np.testing.assert_array_equal(a.posterior.m, b.posterior.m)


def test_matched_agreement_ignores_label_names():
    labels = np.array([0, 0, 1, 1, 2, 2])
    assert cavi.matched_agreement(labels, (labels + 1) % 3) == 1.0
    assert cavi.matched_agreement(labels, np.array([1, 1, 0, 0, 2, 0])) == pytest.approx(5 / 6)


def test_fits_in_well_under_a_second():
    from experiments.common.data import figure4_data

    import time

    x, _ = figure4_data(0)
    started = time.perf_counter()
    cavi.fit_mixture(x, 2)
    assert time.perf_counter() - started < 0.5


def test_is_exported():
    assert vinf.cavi is cavi
    assert "cavi" in vinf.__all__


X_OK = overlapping_data(0, n=20)


@pytest.mark.parametrize(
    "args, kwargs, message",
    [
        ((X_OK, 0), {}, "num_components"),
        ((X_OK, 2.5), {}, "num_components"),
        ((X_OK, True), {}, "num_components"),
        ((X_OK, 21), {}, "exceeds"),
        ((np.where(np.eye(20, 2) > 0, np.nan, X_OK), 2), {}, "NaN"),
        ((np.full((20, 2), np.inf), 2), {}, "NaN"),
        ((X_OK[:, 0], 2), {}, "2-D"),
        ((X_OK[None], 2), {}, "2-D"),
        ((np.empty((0, 2)), 1), {}, "2-D"),
        ((X_OK[:1], 1), {}, "at least 2 points"),
        ((X_OK, 2), dict(alpha0=0.0), "alpha0"),
        ((X_OK, 2), dict(alpha0=np.nan), "alpha0"),
        ((X_OK, 2), dict(beta0=-1.0), "beta0"),
        ((X_OK, 2), dict(nu0=1.0), "nu0"),
        ((X_OK, 2), dict(m0=[0.0, 0.0, 0.0]), "m0"),
        ((X_OK, 2), dict(W0=np.eye(3)), "W0"),
        ((X_OK, 2), dict(W0=np.array([[1.0, 2.0], [2.0, 1.0]])), "positive definite"),
        ((X_OK, 2), dict(W0=np.array([[1.0, 0.5], [0.0, 1.0]])), "symmetric"),
        ((X_OK, 2), dict(max_iter=0), "max_iter"),
        ((X_OK, 2), dict(tol=-1.0), "tol"),
        ((X_OK, 2), dict(seed=-1), "seed"),
    ],
)
def test_bad_input_raises_value_error(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cavi.fit_mixture(*args, **kwargs)


def test_predictive_checks_its_input(separated_fit):
    _, _, fit = separated_fit
    with pytest.raises(ValueError, match="columns"):
        fit.predictive_log_prob(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="NaN"):
        fit.predictive_log_prob(np.array([[np.nan, 0.0]]))
