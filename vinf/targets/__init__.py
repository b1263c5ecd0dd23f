"""Unnormalised log densities over unconstrained ``z``: the thesis's targets and a user's own models.

Every target is a ``Target``: ``log_prob(z)`` maps ``[..., dim]`` to ``[...]``
in TensorFlow ops, ``names`` labels the coordinates, ``constrain(z)`` returns
them in the model's own terms and ``log_evidence()`` returns
``log Z = log \\int exp(log_prob)`` exactly or by quadrature where that is
feasible. ``get(name, **kwargs)`` builds a thesis target by name, ``names()``
lists them; ``from_joint_distribution(model, **observed)`` turns a TFP
``JointDistribution`` into a target; ``from_inference_gym(model_or_name)`` an
Inference Gym model, its ground truth attached (``gym_names()`` lists the models
that build offline; needs ``pip install -e ".[gym]"``).
"""
from vinf.targets._base import Target, get, group_by_name, log_density, names, register, side_by_side
from vinf.targets.joint import from_joint_distribution
from vinf.targets.gym import GroundTruth, from_inference_gym, gym_names
from vinf.targets.schools import (
    EIGHT_SCHOOLS_SIGMA,
    EIGHT_SCHOOLS_Y,
    eight_schools,
    eight_schools_log_evidence,
    eight_schools_model,
    quadrature_log_evidence,
)
from vinf.targets.toy import THESIS_MIXTURE, banana, circle, energy1, energy2, energy3, energy4, figure_eight
from vinf.targets.toy import gaussian_mixture, two_hills

__all__ = [
    "Target", "get", "names", "register", "side_by_side", "log_density", "group_by_name",
    "from_joint_distribution", "eight_schools", "eight_schools_model", "eight_schools_log_evidence",
    "quadrature_log_evidence", "from_inference_gym", "gym_names", "GroundTruth",
    "EIGHT_SCHOOLS_Y", "EIGHT_SCHOOLS_SIGMA", "THESIS_MIXTURE",
    "two_hills", "gaussian_mixture", "figure_eight", "banana", "circle", "energy1", "energy2", "energy3", "energy4",
]
