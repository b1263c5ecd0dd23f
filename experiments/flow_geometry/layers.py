"""The fixed layers of Figures 9-16, each given by the corrected parameter it must have (``u_hat``, ``beta_hat``).

The thesis drew Figures 10-16 with the raw parameters; ``vinf``'s bijectors
always apply the invertibility corrections (eqs. 64, 75). So each layer is
specified by the effective ``u_hat`` (``beta_hat``) it must have, and the raw
``u`` (``beta``) handed to the bijector is obtained by inverting the correction
(``vinf.bijectors.planar_raw_u``, ``radial_raw_beta``).
"""
import dataclasses

import numpy as np
import tensorflow_probability as tfp

from experiments.flow_geometry.config import EXP_RANGE, EXP_SAMPLES
from vinf.bijectors import Planar, Radial, planar_raw_u, radial_raw_beta

tfb = tfp.bijectors


def vector_text(values, digits=3):
    """``[1, 0.5]``: a layer's vector as the captions and the report print it."""
    return "[" + ", ".join(f"{v:.{digits}g}" for v in values) + "]"


@dataclasses.dataclass(frozen=True)
class PlanarLayer:
    """A planar layer ``f(z) = z + u_hat tanh(w^T z + b)`` (eq. 60) given by its effective ``u_hat``.

    The hyperplane ``w^T z + b = 0`` is where ``|det df/dz|^-1 = 1 / (1 + w^T u_hat)``
    departs most from 1 (eq. 62): a contraction towards it if ``w^T u_hat < 0``,
    an expansion away from it if ``w^T u_hat > 0``.
    """

    w: tuple
    b: float
    u_hat: tuple

    @property
    def raw_u(self):
        """The ``u`` that eq. 64 maps to ``u_hat``."""
        return planar_raw_u(self.u_hat, self.w)

    def bijector(self):
        return Planar(u=self.raw_u, w=np.asarray(self.w, np.float64), b=np.float64(self.b))

    def describe(self):
        return (f"planar: w = {vector_text(self.w)}, b = {self.b:g}, û = {vector_text(self.u_hat)} "
                f"(wᵀû = {np.dot(self.w, self.u_hat):g}; raw u = {vector_text(self.raw_u, 4)})")


@dataclasses.dataclass(frozen=True)
class RadialLayer:
    """A radial layer ``f(z) = z + beta_hat (z - z0) / (alpha + |z - z0|)`` (eq. 65) given by its ``beta_hat``.

    ``|det df/dz|^-1`` is furthest from 1 at ``z0`` (eq. 70): a contraction
    towards ``z0`` if ``beta_hat < 0``, an expansion away from it if ``beta_hat > 0``.
    """

    z0: tuple
    alpha: float
    beta_hat: float

    @property
    def raw_beta(self):
        """The ``beta`` that eq. 75 maps to ``beta_hat``."""
        return radial_raw_beta(self.alpha, self.beta_hat)

    def bijector(self):
        return Radial(z0=np.asarray(self.z0, np.float64), alpha=np.float64(self.alpha),
                      beta=np.float64(self.raw_beta))

    def describe(self):
        return (f"radial: z_r = {vector_text(self.z0)}, α = {self.alpha:g}, β̂ = {self.beta_hat:g} "
                f"(raw β = {self.raw_beta:.4f})")


def site(layer):
    """Where ``layer`` acts, as the report names it: a planar layer's line (``y = 1``), a radial layer's point."""
    if isinstance(layer, RadialLayer):
        return vector_text(layer.z0)
    (w1, w2), b = layer.w, layer.b
    if w1 == 0:
        return f"y = {-b / w2:g}"
    if w2 == 0:
        return f"x = {-b / w1:g}"
    return f"{w1:g}x + {w2:g}y + {b:g} = 0"


def flow(layers):
    """``f_K o ... o f_1`` of the layers in the order given (eq. 59)."""
    return tfb.Chain([layer.bijector() for layer in reversed(layers)])


# The thesis's shapes: planar layers acting around the lines x = 1 and y = 1,
# radial layers around [1, 1], [0.75, 0.75] and [0.85, 0.85].
PLANAR_EXPANSION = PlanarLayer(w=(2.0, 0.0), b=-2.0, u_hat=(0.3, 0.0))  # away from x = 1
PLANAR_CONTRACTION = PlanarLayer(w=(0.0, 2.5), b=-2.5, u_hat=(0.0, -0.26))  # towards y = 1
RADIAL_EXPANSION = RadialLayer(z0=(1.0, 1.0), alpha=1.0, beta_hat=2.0)  # away from [1, 1]
RADIAL_CONTRACTION = RadialLayer(z0=(1.0, 1.0), alpha=1.0, beta_hat=-0.7)  # towards [1, 1]

RADIAL_TO_075 = RadialLayer(z0=(0.75, 0.75), alpha=1.0, beta_hat=-0.6)
RADIAL_FROM_085 = RadialLayer(z0=(0.85, 0.85), alpha=0.5, beta_hat=1.0)
FIG13_EXPANSIONS = 3
FLOWS = {  # the densities of Figures 11-13, 15-16: q_0 through these layers
    "fig11": (),
    "fig12": (PLANAR_CONTRACTION,),
    "fig13": (PLANAR_CONTRACTION,) + (PLANAR_EXPANSION,) * FIG13_EXPANSIONS,
    "fig15": (RADIAL_TO_075,),
    "fig16": (RADIAL_TO_075, RADIAL_FROM_085),
}
FIG9_LAYERS = (
    PlanarLayer(w=(0.0, 1.5), b=0.0, u_hat=(0.9, 0.0)),  # a shear (w^T u_hat = 0)
    RadialLayer(z0=(0.6, -0.6), alpha=0.4, beta_hat=-0.35),
    PlanarLayer(w=(1.2, -1.2), b=0.6, u_hat=(0.5, -0.5)),
    RadialLayer(z0=(-0.9, 0.9), alpha=0.3, beta_hat=0.7),
)
DET_PANELS = {  # Figures 10 and 14: (panel title, layer), left then right
    "fig10": ((f"expansion away from the line {site(PLANAR_EXPANSION)}", PLANAR_EXPANSION),
              (f"contraction towards the line {site(PLANAR_CONTRACTION)}", PLANAR_CONTRACTION)),
    "fig14": ((f"radial expansion away from {site(RADIAL_EXPANSION)}", RADIAL_EXPANSION),
              (f"radial contraction towards {site(RADIAL_CONTRACTION)}", RADIAL_CONTRACTION)),
}


def parameters():
    """Every fixed layer of every figure, as the report and ``results.json`` state them."""
    return {
        "fig8": f"exp on N(0, 1); {EXP_SAMPLES} points evenly spaced in [−{EXP_RANGE:g}, {EXP_RANGE:g}]",
        "fig9": [layer.describe() for layer in FIG9_LAYERS],
        **{fid: [f"{side}: {layer.describe()}" for side, (_, layer) in zip(("left", "right"), panels)]
           for fid, panels in DET_PANELS.items()},
        **{fid: [layer.describe() for layer in layers] or ["no layer (q₀ = N(0, I))"] for fid, layers in FLOWS.items()},
    }
