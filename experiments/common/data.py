"""The data two experiments share: Figure 4's data set and the Gaussian mixture CAVI fits to it.

Figure 4's data are ``NUM_POINTS`` draws from ``vinf.targets.THESIS_MIXTURE``
(the study prints no parameters for it). The mean-field experiment fits the
Bayesian Gaussian mixture to them by CAVI (Figure 6) and sets mean-field ADVI
on the mixture that fit implies (Figure 7); the toy-targets experiment fits its
flows to the same mixture (Figures 19-21). Both derive it here, from the seed.
"""
import numpy as np

import vinf
from vinf.targets import THESIS_MIXTURE

__all__ = ["NUM_POINTS", "NUM_COMPONENTS", "figure4_data", "cavi_fit", "fitted_mixture"]

NUM_POINTS = 500  # Figure 4's data set
NUM_COMPONENTS = 2  # K of the CAVI fit (Figure 6)


def figure4_data(seed=0):
    """``NUM_POINTS`` draws from ``vinf.targets.THESIS_MIXTURE`` (Figure 4): ``(x [N, 2], true component [N])``."""
    rng = np.random.default_rng(seed)
    weights = np.asarray(THESIS_MIXTURE["weights"], dtype=float)
    component = rng.choice(len(weights), size=NUM_POINTS, p=weights / weights.sum())
    locs, covs = np.asarray(THESIS_MIXTURE["locs"]), np.asarray(THESIS_MIXTURE["covs"])
    chol = np.linalg.cholesky(covs)[component]
    x = locs[component] + np.einsum("nij,nj->ni", chol, rng.standard_normal((NUM_POINTS, 2)))
    return x, component


def cavi_fit(seed=0):
    """CAVI with K = ``NUM_COMPONENTS`` on Figure 4's data (Figure 6), under ``vinf.cavi``'s default prior."""
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
