"""vinf: variational inference with normalizing flows, in TensorFlow Probability.

A reproduction of "Variational Inference using Normalizing Flows" (Segonne, DTU):
planar and radial flows, mean-field and full-rank surrogates, a compiled ELBO
fit, PSIS k-hat diagnostics, CAVI for the Bayesian Gaussian mixture and PyMC
NUTS baselines; and an open core beyond it: neural flows (IAF, RealNVP,
splines) by name, any TFP flow under ``fit``, a user's own JointDistribution as
a target, and the result as ArviZ InferenceData.
"""
import os

# TensorFlow's C++ start-up chatter buries the progress bars users came for.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from vinf import bijectors, cavi, diagnostics, khat, mcmc, networks, npe, surrogates, targets  # noqa: E402
from vinf.fit import FitResult, fit  # noqa: E402

__all__ = ["bijectors", "khat", "networks", "surrogates", "targets", "diagnostics", "cavi", "mcmc", "npe", "fit", "FitResult"]
__version__ = "0.1.0"
