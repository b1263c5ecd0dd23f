"""The toy-targets experiment's scales (the thesis's ``FULL``, a reduced ``QUICK``), and the settings its
measured numbers depend on. The protocol itself (targets with their K and epochs, S, the learning rate, the
groups, the mode study's criteria) is ``experiments.common.toys``, which the ablations share."""
import numpy as np

from experiments.common.toys import Scale
from vinf.targets.toy import BANANA_SCALE, FIGURE_EIGHT_SCALE

NAME = "toy_targets"
FAMILIES = ("planar", "radial", "mean_field")
FLOWS = ("planar", "radial")  # the families the figures show
TRACE_SIZES = (10, 100, 500)  # Figure 17's S
OPTIMUM_STARTS = 2  # the quadrature optimum starts from twice as many means as the fits (about 30 s at full scale)

FULL = Scale(10**6, 10**6, 10000, 200000, 10, 5000, 3000, jit_compile=True, starts=8)
QUICK = Scale(4, 300, 2000, 20000, 3, 300, 300, jit_compile=False, starts=4)

# ------------------------------------------------------------------ what is measured on the fits

ENERGIES = ("energy1", "energy2", "energy3", "energy4")
ENERGY_WINDOW = ((-4.0, 4.0), (-5.0, 5.0))  # Figure 34's z1 range; z2 holds energy 4's lower branch
# Figures 23-25's mixture (eqs. 83-84): vinf.targets.figure_eight's defaults (tests/test_toy_targets.py checks).
FIGURE_EIGHT = dict(weights=(0.5, 0.5), locs=((1.0, 1.0), (-1.0, -1.0)),
                    covs=(FIGURE_EIGHT_SCALE**2 * np.eye(2),) * 2)
# z1 beyond which the banana's arms are measured (Figures 27, 29): where z2 is 2.4 sd out, about 1.7 % of its mass
BANANA_ARM = round((2.4 * BANANA_SCALE) ** 2 / 4.0)
BANANA_NUTS_TOLERANCE = 0.1  # NUTS draws the same banana when its z2 sd is within this share of the target's
COLLAPSE = 0.5  # nats: a drop of the smoothed ELBO below its settled level that Figure 17 counts as a collapse
TAIL_FRACTION = 0.2  # Figure 17's noise is measured over this last share of the steps
CIRCLE_CENTRE = 2.0  # |z| below which the circle's centre is measured (Figure 31)
SECTOR_DEGREES = 10  # angular bins along the ring (Figure 33)
LOBES = (1.5, 2.5)  # |z1| of the circle's lobes, where the ring meets the bumps at z1 = +-2 (Figure 32)
RING_SIDES = 3.5  # |z1| beyond which the draws lie on the ring's sides, away from the bumps (Figure 32)
SYMMETRY_TOLERANCE = 1e-6  # a target with |log p(z) - log p(-z)| below this on its grid is point-symmetric
