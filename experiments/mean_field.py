"""Sections II-III: the mean-field approximation, CAVI for the Gaussian mixture, and ADVI (Figures 2-7).

``python -m experiments.mean_field [--quick | --full] [--out DIR] [--seed N] [--force] [--jobs N | --dask N | --scheduler ADDRESS]``

Figures 2 and 3 fit Gaussians by ADVI (``vinf.fit``) to a bimodal 1-D density and to
a correlated 2-D Gaussian. Figure 4's data are drawn from a two-component
mixture, ``vinf.targets.THESIS_MIXTURE`` (the study prints no parameters for it); CAVI
(``vinf.cavi``) fits the Bayesian Gaussian mixture to them (Figure 6), checked
against scikit-learn's ``BayesianGaussianMixture`` under the same prior. The
Gaussian mixture the CAVI fit implies, ``fitted_mixture(seed)``, is the
posterior that mean-field ADVI fits in Figure 7 from several starts (and the
target of the toy-targets experiment's Figures 19-21). Each of these five parts
is a job of the shared runner, saved as it finishes; a rerun only redraws the
figures unless ``--force``.
"""
import dataclasses
import time

import numpy as np

from experiments._baseline import search_box, spread_locs
from experiments._common import Experiment
from experiments._runner import Job, Outcome

NAME = "mean_field"
NUM_POINTS = 500  # Figure 4's data set
NUM_COMPONENTS = 2
SAMPLE_SIZE = 500  # S of eq. 51, as in the thesis
BIMODAL = dict(weights=(0.6, 0.4), locs=(-1.5, 1.5), scales=(0.6, 0.8))  # Figure 2's posterior
CORRELATED = dict(loc=(1.0, 0.5), cov=((2.0, 1.2), (1.2, 1.0)))  # Figure 3's posterior, correlation 0.85


@dataclasses.dataclass(frozen=True)
class Scale:
    num_steps: int  # Adam steps of every ADVI fit
    num_runs: int  # independent trainings of Figures 2-3 (one batched surrogate)
    num_restarts: int  # starts of mean-field ADVI on the mixture (Figure 7)
    elbo_draws: int  # draws of the final ELBO estimates
    optimum_starts: int = 16  # starts of the best diagonal Gaussian by quadrature beside Figure 7


FULL = Scale(num_steps=10000, num_runs=5, num_restarts=8, elbo_draws=100_000)
QUICK = Scale(num_steps=1500, num_runs=4, num_restarts=3, elbo_draws=10_000)


# ------------------------------------------------------------------ data and targets


def figure4_data(seed=0):
    """``NUM_POINTS`` draws from ``vinf.targets.THESIS_MIXTURE`` (Figure 4): ``(x [N, 2], true component [N])``."""
    from vinf.targets import THESIS_MIXTURE

    rng = np.random.default_rng(seed)
    weights = np.asarray(THESIS_MIXTURE["weights"], dtype=float)
    component = rng.choice(len(weights), size=NUM_POINTS, p=weights / weights.sum())
    locs, covs = np.asarray(THESIS_MIXTURE["locs"]), np.asarray(THESIS_MIXTURE["covs"])
    chol = np.linalg.cholesky(covs)[component]
    x = locs[component] + np.einsum("nij,nj->ni", chol, rng.standard_normal((NUM_POINTS, 2)))
    return x, component


def cavi_fit(seed=0):
    """CAVI with K = 2 on Figure 4's data (Figure 6), under ``vinf.cavi``'s default prior."""
    import vinf

    x, _ = figure4_data(seed)
    return vinf.cavi.fit_mixture(x, num_components=NUM_COMPONENTS, seed=seed)


def fitted_mixture(seed=0):
    """The Gaussian mixture implied by the CAVI fit to Figure 4's data, upper component first.

    Returns ``dict(weights=(w_1, w_2), locs [2, 2], covs [2, 2, 2])`` with weights
    ``E[pi_k]``, means ``m_k`` and covariances ``E[Lambda_k]^-1``, ready for
    ``vinf.targets.get("gaussian_mixture", **fitted_mixture(seed))``.
    """
    mixture = cavi_fit(seed).mixture()
    order = np.argsort(-mixture["locs"][:, 1])
    return dict(
        weights=tuple(mixture["weights"][k] for k in order),
        locs=mixture["locs"][order],
        covs=mixture["covs"][order],
    )


def bimodal_target():
    """Figure 2's posterior: ``sum_k w_k N(z | mu_k, s_k^2)``, normalised (log Z = 0)."""
    import tensorflow as tf
    import tensorflow_probability as tfp

    from vinf.targets import Target

    tfd = tfp.distributions

    def log_prob(z):
        mixture = tfd.MixtureSameFamily(
            tfd.Categorical(probs=tf.constant(BIMODAL["weights"], z.dtype)),
            tfd.Normal(tf.constant(BIMODAL["locs"], z.dtype), tf.constant(BIMODAL["scales"], z.dtype)),
        )
        return mixture.log_prob(z[..., 0])

    return Target("bimodal", log_prob, ["z"], bounds=[(-4.5, 4.5)], log_evidence_fn=lambda: 0.0)


def correlated_target():
    """Figure 3's posterior: ``N(z | mu, Sigma)`` with full covariance, normalised (log Z = 0)."""
    import tensorflow as tf
    import tensorflow_probability as tfp

    from vinf.targets import Target

    tfd = tfp.distributions
    loc, cov = np.asarray(CORRELATED["loc"]), np.asarray(CORRELATED["cov"])
    chol = np.linalg.cholesky(cov)

    def log_prob(z):
        return tfd.MultivariateNormalTriL(tf.constant(loc, z.dtype), tf.constant(chol, z.dtype)).log_prob(z)

    sd = np.sqrt(np.diag(cov))
    return Target("correlated_gaussian", log_prob, ["z1", "z2"], bounds=list(zip(loc - 4 * sd, loc + 4 * sd)),
                  log_evidence_fn=lambda: 0.0)


# ------------------------------------------------------------------ ADVI


def train(target, q, scale, seed):
    """ADVI (Algorithm 1) of the batched surrogate ``q`` on ``target``; the final ELBO of each member."""
    import vinf

    result = vinf.fit(target.log_prob, q, num_steps=scale.num_steps, sample_size=SAMPLE_SIZE,
                      learning_rate=1e-2, seed=seed, progress=False)
    elbo = np.atleast_1d(vinf.diagnostics.elbo(target.log_prob, q, num_samples=scale.elbo_draws, seed=seed))
    return dict(elbo=elbo.tolist(), best_step=np.atleast_1d(result.best_step).tolist(), train_seconds=result.seconds)


def _gaussian_state(q):
    """Means ``[R, D]`` and covariances ``[R, D, D]`` of a batched Gaussian surrogate."""
    return dict(mean=q.mean().numpy().astype(float).tolist(), cov=q.covariance().numpy().astype(float).tolist())


def family_restriction(scale, seed):
    """Figure 2: the ELBO-optimal Gaussian of a bimodal density, and its moment-matched Gaussian."""
    import vinf

    target = bimodal_target()
    q = vinf.surrogates.get("mean_field", 1, seed=seed, batch_shape=[scale.num_runs])
    out = train(target, q, scale, seed)
    w, m, s = (np.asarray(BIMODAL[k]) for k in ("weights", "locs", "scales"))
    moment_mean = float(w @ m)
    moment_var = float(w @ (s**2 + m**2) - moment_mean**2)
    best = int(np.argmax(out["elbo"]))
    return dict(
        **out, **_gaussian_state(q), best_run=best, kl=-out["elbo"][best],
        moment_matched=dict(mean=moment_mean, sd=moment_var**0.5), posterior=BIMODAL,
    )


def mean_field_compactness(scale, seed):
    """Figure 3: mean-field and full-rank ADVI on a correlated Gaussian.

    The mean-field optimum of ``KL(q || N(mu, Sigma))`` has the mean ``mu`` and the
    variances ``1 / Lambda_ii`` of the precision ``Lambda = Sigma^-1``, and
    ``KL = -1/2 log(prod_i Lambda_ii^-1 / |Sigma|)``; the full-rank family holds ``p``.
    """
    import vinf

    target = correlated_target()
    cov = np.asarray(CORRELATED["cov"])
    precision = np.linalg.inv(cov)
    out = dict(loc=list(CORRELATED["loc"]), cov=cov.tolist(),
               mean_field_variance=(1.0 / np.diag(precision)).tolist(),
               mean_field_kl=float(0.5 * (np.sum(np.log(np.diag(precision))) + np.linalg.slogdet(cov)[1])))
    for name in ("mean_field", "full_rank"):
        q = vinf.surrogates.get(name, 2, seed=seed, batch_shape=[scale.num_runs])
        out[name] = dict(**train(target, q, scale, seed), **_gaussian_state(q))
    return out


def advi_on_mixture(scale, seed):
    """Figure 7: mean-field ADVI on the mixture posterior (``fitted_mixture(seed)``), from the thesis's start
    and from others."""
    import vinf

    mixture = fitted_mixture(seed)
    target = vinf.targets.get("gaussian_mixture", **mixture)
    q = vinf.surrogates.get("mean_field", 2, seed=seed, batch_shape=[scale.num_restarts])
    # the surrogate's own start (near the origin, as in the thesis), then a Latin hypercube over the box's centre
    start = spread_locs(target.bounds, scale.num_restarts, q.loc.numpy()[0], seed)
    q.loc.assign(start)
    out = train(target, q, scale, seed)
    components = [
        dict(loc=np.asarray(loc).tolist(), cov=np.asarray(cov).tolist(), weight=float(w),
             sd=np.sqrt(np.diag(cov)).tolist(), mean_field_sd=(1.0 / np.sqrt(np.diag(np.linalg.inv(cov)))).tolist())
        for w, loc, cov in zip(mixture["weights"], mixture["locs"], mixture["covs"])
    ]
    state = _gaussian_state(q)
    # the best diagonal Gaussian by quadrature, from starts spread over the whole box: where ADVI should end
    optimum = search_box(target, scale.optimum_starts, seed)
    optimum["captured"] = captured_component(optimum["loc"], components)
    return dict(**out, **state, start=start.tolist(), components=components, best_run=int(np.argmax(out["elbo"])),
                captured=[captured_component(mean, components) for mean in state["mean"]], optimum=optimum)


def captured_component(mean, components):
    """Index of the component whose mean lies within one Mahalanobis unit of ``mean``, else ``None``."""
    for k, comp in enumerate(components):
        d = np.asarray(mean) - np.asarray(comp["loc"])
        if d @ np.linalg.solve(comp["cov"], d) < 1.0:
            return k
    return None


# ------------------------------------------------------------------ CAVI


def cavi_clustering(seed):
    """Figures 4 and 6: CAVI on the mixture data, timed; labels against the generating components."""
    import vinf
    from vinf.targets import THESIS_MIXTURE

    x, truth = figure4_data(seed)
    started = time.perf_counter()
    fit = cavi_fit(seed)
    seconds = time.perf_counter() - started
    locs = fit.mixture()["locs"]
    predictive = np.exp(fit.predictive_log_prob(np.vstack([locs, locs.mean(axis=0, keepdims=True)])))
    return dict(
        num_points=NUM_POINTS, generating=THESIS_MIXTURE, seconds=seconds,
        predictive_at_means=predictive[:2].tolist(), predictive_between=float(predictive[2]),
        elbo=fit.elbo.tolist(), num_iterations=fit.num_iterations, converged=fit.converged,
        min_elbo_step=float(np.min(np.diff(fit.elbo))) if fit.num_iterations > 1 else None,
        prior=dataclasses.asdict(fit.prior), posterior=dataclasses.asdict(fit.posterior),
        labels=fit.labels.tolist(), accuracy=vinf.cavi.matched_agreement(fit.labels, truth),
        mean_log_predictive=float(np.mean(fit.predictive_log_prob(x))),
        mixture=fitted_mixture(seed),
    )


def sklearn_posterior(model):
    """``vinf.cavi.Posterior`` of a fitted ``BayesianGaussianMixture`` (its ``covariances_`` are
    ``W_k^-1 / nu_k``)."""
    import vinf

    nu = model.degrees_of_freedom_
    return vinf.cavi.Posterior(
        alpha=model.weight_concentration_, beta=model.mean_precision_, m=model.means_,
        W=np.linalg.inv(model.covariances_ * nu[:, None, None]), nu=nu,
    )


def compare_sklearn(seed):
    """CAVI against scikit-learn's ``BayesianGaussianMixture`` with the same prior and data:
    the full bound (PRML 10.70) at both solutions, the log predictive density (eq. 47),
    the agreement of the assignments and the largest difference of the means."""
    from sklearn.mixture import BayesianGaussianMixture

    import vinf

    x, _ = figure4_data(seed)
    ours = cavi_fit(seed)
    prior = ours.prior
    model = BayesianGaussianMixture(
        n_components=NUM_COMPONENTS, covariance_type="full",
        weight_concentration_prior_type="dirichlet_distribution", weight_concentration_prior=prior.alpha0,
        mean_prior=prior.m0, mean_precision_prior=prior.beta0, degrees_of_freedom_prior=prior.nu0,
        covariance_prior=np.linalg.inv(prior.W0), reg_covar=0.0, tol=1e-10, max_iter=2000,
        init_params="k-means++", random_state=seed,
    ).fit(x)
    theirs = sklearn_posterior(model)
    resp = model.predict_proba(x)
    order = np.argsort(-ours.posterior.m[:, 1]), np.argsort(-theirs.m[:, 1])
    return dict(
        elbo_vinf=float(ours.elbo[-1]),
        elbo_sklearn=vinf.cavi.elbo(x, resp, prior, theirs),
        sklearn_iterations=int(model.n_iter_), sklearn_converged=bool(model.converged_),
        mean_log_predictive_vinf=float(np.mean(ours.predictive_log_prob(x))),
        mean_log_predictive_sklearn=float(np.mean(vinf.cavi.predictive_log_prob(x, theirs))),
        agreement=vinf.cavi.matched_agreement(ours.labels, model.predict(x)),
        max_mean_difference=float(np.max(np.abs(ours.posterior.m[order[0]] - theirs.m[order[1]]))),
    )


# ------------------------------------------------------------------ main


def part(key, compute, *args):
    """A job: one part of the experiment, saved in ``results.json`` under ``key``."""
    return Outcome(extra={key: compute(*args)})


def jobs(scale, seed):
    """The five parts; their cost is their number of Adam steps (CAVI and scikit-learn take well under a second)."""
    steps = scale.num_steps
    return [
        Job("fig2", part, ("fig2", family_restriction, scale, seed), cost=steps),
        Job("fig3", part, ("fig3", mean_field_compactness, scale, seed), cost=2 * steps),
        Job("cavi", part, ("cavi", cavi_clustering, seed)),
        Job("sklearn", part, ("sklearn", compare_sklearn, seed)),
        Job("fig7", part, ("fig7", advi_on_mixture, scale, seed), cost=steps),
    ]


def work(run):
    """Run the parts not saved yet, then draw every figure and write the report."""
    from experiments import mean_field_figures as figures

    run.run_jobs(jobs(run.scale, run.seed), "ADVI, CAVI and scikit-learn")
    results = {job.key: run.cached_extra(job.key) for job in jobs(run.scale, run.seed)}
    figures.make_all(run, results, figure4_data(run.seed)[0])
    figures.write_report(run, results)


EXPERIMENT = Experiment(NAME, __doc__, FULL, QUICK, work)
main = EXPERIMENT.main

if __name__ == "__main__":
    main()
