"""The mean-field experiment's work, five jobs: ADVI on Figures 2, 3 and 7's posteriors, CAVI, and CAVI against
scikit-learn. Each returns its part of ``results.json``."""
import dataclasses
import time

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from sklearn.mixture import BayesianGaussianMixture

import vinf
from experiments.common.baselines import diagonal_gaussian_kl, search_box, spread_locs
from experiments.common.data import NUM_COMPONENTS, NUM_POINTS, cavi_fit, figure4_data, fitted_mixture
from experiments.common.runner import Job, Outcome
from experiments.mean_field.config import BIMODAL, CONTINUED, CORRELATED, LEARNING_RATE, SAMPLE_SIZE, STUDY_FIG7
from vinf.targets import THESIS_MIXTURE, Target

tfd = tfp.distributions

# ------------------------------------------------------------------ targets


def bimodal_target():
    """Figure 2's posterior: ``sum_k w_k N(z | mu_k, s_k^2)``, normalised (log Z = 0)."""

    def log_prob(z):
        mixture = tfd.MixtureSameFamily(
            tfd.Categorical(probs=tf.constant(BIMODAL["weights"], z.dtype)),
            tfd.Normal(tf.constant(BIMODAL["locs"], z.dtype), tf.constant(BIMODAL["scales"], z.dtype)),
        )
        return mixture.log_prob(z[..., 0])

    return Target("bimodal", log_prob, ["z"], bounds=[(-4.5, 4.5)], log_evidence_fn=lambda: 0.0)


def correlated_target():
    """Figure 3's posterior: ``N(z | mu, Sigma)`` with full covariance, normalised (log Z = 0)."""
    loc, cov = np.asarray(CORRELATED["loc"]), np.asarray(CORRELATED["cov"])
    chol = np.linalg.cholesky(cov)

    def log_prob(z):
        return tfd.MultivariateNormalTriL(tf.constant(loc, z.dtype), tf.constant(chol, z.dtype)).log_prob(z)

    sd = np.sqrt(np.diag(cov))
    return Target("correlated_gaussian", log_prob, ["z1", "z2"], bounds=list(zip(loc - 4 * sd, loc + 4 * sd)),
                  log_evidence_fn=lambda: 0.0)


# ------------------------------------------------------------------ ADVI


def train(target, q, scale, seed):
    """ADVI (Algorithm 1) of the batched surrogate ``q`` on ``target``; the final ELBO of each member (the mean of
    ``scale.elbo_draws`` log weights) and its Monte-Carlo standard error (their sd over the root of their number)."""
    result = vinf.fit(target.log_prob, q, num_steps=scale.num_steps, sample_size=SAMPLE_SIZE,
                      learning_rate=LEARNING_RATE, seed=seed, progress=False)
    lw = np.asarray(vinf.diagnostics.log_weights(target.log_prob, q, num_samples=scale.elbo_draws, seed=seed))
    lw = lw.reshape(lw.shape[0], -1)
    return dict(elbo=lw.mean(axis=0).tolist(), elbo_se=(lw.std(axis=0) / np.sqrt(lw.shape[0])).tolist(),
                best_step=np.atleast_1d(result.best_step).tolist(), train_seconds=result.seconds)


def gaussian_state(q):
    """Means ``[R, D]`` and covariances ``[R, D, D]`` of a batched Gaussian surrogate."""
    return dict(mean=q.mean().numpy().astype(float).tolist(), cov=q.covariance().numpy().astype(float).tolist())


def family_restriction(scale, seed):
    """Figure 2: the ELBO-optimal Gaussian of a bimodal density, and its moment-matched Gaussian."""
    target = bimodal_target()
    q = vinf.surrogates.get("mean_field", 1, seed=seed, batch_shape=[scale.num_runs])
    out = train(target, q, scale, seed)
    w, m, s = (np.asarray(BIMODAL[k]) for k in ("weights", "locs", "scales"))
    moment_mean = float(w @ m)
    moment_var = float(w @ (s**2 + m**2) - moment_mean**2)
    best = int(np.argmax(out["elbo"]))
    return dict(
        **out, **gaussian_state(q), best_run=best, kl=-out["elbo"][best],
        moment_matched=dict(mean=moment_mean, sd=moment_var**0.5), posterior=BIMODAL,
    )


def variances(q):
    """The diagonal of each member's covariance ``[R, D]``."""
    return np.diagonal(q.covariance().numpy(), axis1=-2, axis2=-1).astype(float).tolist()


def continued(target, q, scale, seed):
    """Why mean-field ADVI's variances may miss the optimum, tested: from the trained ``q``, as many steps again
    at the same learning rate (too few steps?), and as many at a tenth of it (the step size's noise?); the
    variances each ends with, ``q`` restored after."""
    trained, out = vinf.surrogates.state(q), {}
    for name, factor in CONTINUED.items():
        vinf.surrogates.load_state(q, trained)
        vinf.fit(target.log_prob, q, num_steps=scale.num_steps, sample_size=SAMPLE_SIZE,
                 learning_rate=LEARNING_RATE * factor, seed=seed + 1, progress=False)
        out[name] = dict(learning_rate=LEARNING_RATE * factor, num_steps=scale.num_steps, variances=variances(q))
    vinf.surrogates.load_state(q, trained)
    return out


def mean_field_compactness(scale, seed):
    """Figure 3: mean-field and full-rank ADVI on a correlated Gaussian.

    The mean-field optimum of ``KL(q || N(mu, Sigma))`` has the mean ``mu`` and the
    variances ``1 / Lambda_ii`` of the precision ``Lambda = Sigma^-1``, and
    ``KL = -1/2 log(prod_i Lambda_ii^-1 / |Sigma|)``; the full-rank family holds ``p``.
    Mean field's trainings are also continued (``continued``) to tell why their variances may miss the optimum.
    """
    target = correlated_target()
    cov = np.asarray(CORRELATED["cov"])
    precision = np.linalg.inv(cov)
    out = dict(loc=list(CORRELATED["loc"]), cov=cov.tolist(),
               mean_field_variance=(1.0 / np.diag(precision)).tolist(),
               mean_field_kl=float(0.5 * (np.sum(np.log(np.diag(precision))) + np.linalg.slogdet(cov)[1])))
    for name in ("mean_field", "full_rank"):
        q = vinf.surrogates.get(name, 2, seed=seed, batch_shape=[scale.num_runs])
        out[name] = dict(**train(target, q, scale, seed), **gaussian_state(q))
        if name == "mean_field":
            out[name]["continued"] = continued(target, q, scale, seed)
    return out


def advi_on_mixture(scale, seed):
    """Figure 7: mean-field ADVI on the mixture posterior the study fitted (its ``demo_gmm``, the mixture that
    generated Figure 4's data: ``vinf.targets.THESIS_MIXTURE``), from the thesis's start and from others."""
    mixture = THESIS_MIXTURE
    target = vinf.targets.get("gaussian_mixture")
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
    state = gaussian_state(q)
    # the best diagonal Gaussian by quadrature, from starts spread over the whole box: where ADVI should end
    optimum = search_box(target, scale.optimum_starts, seed)
    optimum["captured"] = captured_component(optimum["loc"], components)
    study_sd = np.exp(0.5 * np.asarray(STUDY_FIG7["log_variance"]))
    study = dict(loc=list(STUDY_FIG7["loc"]), sd=study_sd.tolist(), plotted_sd=np.sqrt(STUDY_FIG7["log_variance"]).tolist(),
                 kl=diagonal_gaussian_kl(target, np.asarray(STUDY_FIG7["loc"]), study_sd),
                 captured=captured_component(STUDY_FIG7["loc"], components))
    return dict(**out, **state, start=start.tolist(), components=components, best_run=int(np.argmax(out["elbo"])),
                captured=[captured_component(mean, components) for mean in state["mean"]], optimum=optimum,
                study=study)


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


def never_decreases(cavi):
    """Whether CAVI's bound never decreased between iterations (to rounding); None after a single iteration."""
    step = cavi["min_elbo_step"]
    return None if step is None else step >= -1e-9 * abs(cavi["elbo"][-1])


def sklearn_posterior(model):
    """``vinf.cavi.Posterior`` of a fitted ``BayesianGaussianMixture`` (its ``covariances_`` are
    ``W_k^-1 / nu_k``)."""
    nu = model.degrees_of_freedom_
    return vinf.cavi.Posterior(
        alpha=model.weight_concentration_, beta=model.mean_precision_, m=model.means_,
        W=np.linalg.inv(model.covariances_ * nu[:, None, None]), nu=nu,
    )


def compare_sklearn(seed):
    """CAVI against scikit-learn's ``BayesianGaussianMixture`` with the same prior and data:
    the full bound (PRML 10.70) at both solutions, the log predictive density (eq. 47),
    the agreement of the assignments and the largest difference of the means."""
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


# ------------------------------------------------------------------ the jobs


def part(key, compute, *args):
    """A job: one part of the experiment, saved in ``results.json`` under ``key``."""
    return Outcome(extra={key: compute(*args)})


def parts(scale, seed):
    """The jobs of the five parts; their cost is their number of Adam steps (CAVI and scikit-learn take well under a second)."""
    steps = scale.num_steps
    return [
        Job("fig2", part, ("fig2", family_restriction, scale, seed), cost=steps),
        Job("fig3", part, ("fig3", mean_field_compactness, scale, seed), cost=2 * steps),
        Job("cavi", part, ("cavi", cavi_clustering, seed)),
        Job("sklearn", part, ("sklearn", compare_sklearn, seed)),
        Job("fig7", part, ("fig7", advi_on_mixture, scale, seed), cost=steps),
    ]
