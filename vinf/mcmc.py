"""PyMC NUTS baselines (thesis section VI: Figures 29 and 38-40).

Each function returns ``arviz.InferenceData`` drawn with NUTS; a seed fixes the
draws. Chains run one after the other in this process (``cores=1``), so runs are
reproducible and nothing forks a TensorFlow process.
"""
import warnings

import numpy as np

from vinf import _checks
from vinf.targets import EIGHT_SCHOOLS_SIGMA, EIGHT_SCHOOLS_Y

__all__ = ["eight_schools_pymc_model", "eight_schools_nuts", "banana_nuts"]


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


def banana_nuts(draws=5000, tune=3000, chains=2, seed=0, progressbar=False, target_accept=0.9):
    """NUTS on the banana of eq. 85, ``z2 ~ N(0, 2^2)``, ``z1 | z2 ~ N(z2^2 / 4, 1)`` (Figure 29)."""
    import pymc as pm

    _check_counts(draws, tune, chains)
    with pm.Model() as model:
        z2 = pm.Normal("z2", 0.0, 2.0)
        pm.Normal("z1", z2**2 / 4.0, 1.0)
    return _sample(model, draws, tune, chains, seed, progressbar, target_accept)
