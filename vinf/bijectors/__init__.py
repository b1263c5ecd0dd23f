"""Flows as TensorFlow Probability bijectors: planar and radial (thesis section IV), model-informed (Ko & Domke 2025).

Each acts on the last axis of ``z`` (``forward_min_event_ndims=1``) and
broadcasts over leading batch axes of its parameters, so ``R`` independent
flows (the repeated trainings of section VI.B) can live in one bijector with
parameters of shape ``[R, D]``; a ``...Stack`` holds ``K`` layers of one family
in one bijector. All follow TFP's bijector contract: parameters declared, with
their constraints, in ``parameter_properties``; ``CompositeTensor`` s
(``tfb.AutoCompositeTensorBijector``); ``validate_args`` checks in TFP's
``is_init`` idiom. One module per family: ``planar``, ``radial``, ``mif``.

Eqs. 64 and 75 have NumPy inverses (``planar_raw_u``, ``radial_raw_beta``, with
``softplus_inverse``): the raw parameters that give a wanted layer.
"""
# The layer steps and constants are imported here too, so every ``vinf.bijectors.<name>`` of the single module
# this package replaced still works.
from vinf.bijectors._core import softplus_inverse
from vinf.bijectors.mif import ModelInformed, ModelInformedStack, mif_coefficients, mif_inverse_step, mif_step
from vinf.bijectors.planar import (
    LEAKY_RELU_SLOPE,
    PLANAR_ACTIVATIONS,
    Planar,
    PlanarStack,
    planar_coefficients,
    planar_raw_u,
    planar_step,
    planar_u_hat,
)
from vinf.bijectors.radial import (
    Radial,
    RadialStack,
    radial_beta_hat,
    radial_coefficients,
    radial_inverse_step,
    radial_raw_beta,
    radial_step,
)

__all__ = [
    "Planar",
    "Radial",
    "ModelInformed",
    "PlanarStack",
    "RadialStack",
    "ModelInformedStack",
    "planar_u_hat",
    "radial_beta_hat",
    "planar_raw_u",
    "radial_raw_beta",
    "softplus_inverse",
    "PLANAR_ACTIVATIONS",
    "LEAKY_RELU_SLOPE",
]
