"""PyMC NUTS baselines (thesis section VI: Figures 29 and 38-40).

Each function returns ``arviz.InferenceData`` drawn with NUTS; a seed fixes the
draws. Chains run one after the other in this process (``cores=1``), so runs are
reproducible and nothing forks a TensorFlow process.
"""
import warnings

import numpy as np

from vinf import _checks
from vinf.targets import EIGHT_SCHOOLS_SIGMA, EIGHT_SCHOOLS_Y

__all__ = ["eight_schools_pymc_model", "eight_schools_nuts", "eight_schools_reference", "convergence", "banana_nuts"]

# A reference we lean on (issue 13): rank-normalised R-hat at most 1.01 and bulk ESS at least 1000.
R_HAT_MAX = 1.01
ESS_BULK_MIN = 1000


def _check_counts(draws, tune, chains):
    _checks.integer(draws, "draws")
    _checks.integer(tune, "tune", minimum=0)
    _checks.integer(chains, "chains")


def _sample(model, draws, tune, chains, seed, progressbar, target_accept):
    import pymc as pm

    with model, warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return pm.sample(
            draws=draws,
            tune=tune,
            chains=chains,
            cores=1,
            random_seed=seed,
            progressbar=progressbar,
            target_accept=target_accept,
            compute_convergence_checks=False,
        )


def eight_schools_pymc_model(centered=False, num_schools=8):
    """The eight-schools model (eqs. 90-92; non-centered as eq. 100) as a ``pymc.Model``.

    The same model as ``vinf.targets.eight_schools`` (PyMC samples ``tau`` on
    the log scale, ``tau_log__``, as the target's ``log_tau``) and
    ``vinf.targets.eight_schools_model``; ``tests/test_targets.py`` checks that
    the three give one density.
    """
    import pymc as pm

    centered = _checks.boolean(centered, "centered")
    num_schools = _checks.integer(num_schools, "num_schools", 1, 8)
    y = np.asarray(EIGHT_SCHOOLS_Y[:num_schools])
    sigma = np.asarray(EIGHT_SCHOOLS_SIGMA[:num_schools])
    with pm.Model(coords={"school": np.arange(num_schools)}) as model:
        mu = pm.Normal("mu", 0.0, 5.0)
        tau = pm.HalfCauchy("tau", 5.0)
        if centered:
            theta = pm.Normal("theta", mu, tau, dims="school")
        else:
            theta_tilde = pm.Normal("theta_tilde", 0.0, 1.0, dims="school")
            theta = pm.Deterministic("theta", mu + tau * theta_tilde, dims="school")
        pm.Normal("y", theta, sigma, observed=y, dims="school")
    return model


def eight_schools_nuts(
    centered=False,
    num_schools=8,
    draws=5000,
    tune=1000,
    chains=2,
    seed=0,
    progressbar=False,
    target_accept=0.9,
):
    """NUTS on the eight-schools model (``eight_schools_pymc_model``; non-centered by default).

    The posterior holds ``mu``, ``tau`` and ``theta`` (and ``theta_tilde`` when
    non-centered); the sampler's statistics include the divergences.
    """
    _check_counts(draws, tune, chains)
    model = eight_schools_pymc_model(centered, num_schools)
    return _sample(model, draws, tune, chains, seed, progressbar, target_accept)


def convergence(idata, var_names=("mu", "tau", "theta")):
    """How far a sampler's draws can be trusted: ``r_hat_max``, ``ess_bulk_min``, ``divergences``.

    The rank-normalised split R-hat (Vehtari et al. 2021) is the largest over
    every coordinate of ``var_names``; the bulk ESS is the smallest over ``mu``,
    ``tau`` and the first coordinate of the others (theta_1 for eight schools).
    """
    import arviz as az

    posterior = idata.posterior[list(var_names)]
    r_hat = az.rhat(posterior)
    firsts = {name: posterior[name].isel({d: 0 for d in posterior[name].dims if d not in ("chain", "draw")})
              for name in var_names}
    ess = az.ess(az.convert_to_dataset({name: v.values for name, v in firsts.items()}), method="bulk")
    return dict(
        r_hat_max=float(max(r_hat[name].max() for name in var_names)),
        ess_bulk_min=float(min(ess[name].min() for name in var_names)),
        divergences=int(idata.sample_stats["diverging"].values.sum()),
    )


def eight_schools_reference(num_schools=8, draws=5000, tune=1000, chains=4, seed=0, target_accepts=(0.95, 0.99, 0.999)):
    """NUTS on the non-centered eight-schools model, run until it can serve as a reference.

    The non-centered model has the same posterior in (mu, tau, theta) as the
    centered one without its funnel. Each ``target_accept`` is tried in turn
    until the draws have no divergences; of the attempts, the one returned has
    the fewest divergences. Returns ``(idata, diagnostics)``: ``convergence(idata)``
    with the ``target_accept`` used and whether it ``converged`` (R-hat <=
    ``R_HAT_MAX`` and bulk ESS >= ``ESS_BULK_MIN``; divergences are counted, not
    judged, since a heavy tau tail can keep a few at any step size).
    """
    if not target_accepts:
        raise ValueError("target_accepts: give at least one target acceptance rate")
    best = None
    for target_accept in target_accepts:
        idata = eight_schools_nuts(False, num_schools, draws, tune, chains, seed, target_accept=target_accept)
        found = dict(convergence(idata), target_accept=target_accept, chains=chains, draws=draws)
        if best is None or found["divergences"] < best[1]["divergences"]:
            best = idata, found
        if found["divergences"] == 0:
            break
    idata, found = best
    found["converged"] = found["r_hat_max"] <= R_HAT_MAX and found["ess_bulk_min"] >= ESS_BULK_MIN
    return idata, found


def banana_nuts(draws=5000, tune=3000, chains=2, seed=0, progressbar=False, target_accept=0.9, scale=None):
    """NUTS on the banana of eq. 85, ``z2 ~ N(0, scale^2)``, ``z1 | z2 ~ N(z2^2 / 4, 1)`` (Figure 29); ``scale``
    defaults to the study's code's, ``vinf.targets.toy.BANANA_SCALE``, as ``vinf.targets.banana``'s."""
    import pymc as pm

    from vinf.targets.toy import BANANA_SCALE

    _check_counts(draws, tune, chains)
    with pm.Model() as model:
        z2 = pm.Normal("z2", 0.0, BANANA_SCALE if scale is None else scale)
        pm.Normal("z1", z2**2 / 4.0, 1.0)
    return _sample(model, draws, tune, chains, seed, progressbar, target_accept)
