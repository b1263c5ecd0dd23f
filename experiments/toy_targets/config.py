"""The toy-targets experiment's scales (the thesis's ``FULL``, a reduced ``QUICK``), its targets, the ways it
trains them, and the settings its measured numbers depend on."""
import dataclasses
import math

import numpy as np

from experiments.common.variants import DEFAULT, STUDY, Variant

NAME = "toy_targets"
FAMILIES = ("planar", "radial", "mean_field")
FLOWS = ("planar", "radial")  # the families the figures show
SAMPLE_SIZE = 500  # S of section V
LEARNING_RATE = 1e-2
TRACE_SIZES = (10, 100, 500)  # Figure 17's S
MEAN_FIELD_STEPS = 5000  # mean field's steps at most: from every start it settles within 3000 (measured, 8 targets)
SPREAD = 1.0  # mean field's starts cover the whole of each target's box (its plotting and quadrature window)
OPTIMUM_STARTS = 2  # the quadrature optimum starts from twice as many means as the fits (about 30 s at full scale)


@dataclasses.dataclass(frozen=True)
class TargetSpec:
    """A target of section VI.A with the K and epochs of its figure's caption."""

    name: str
    num_flows: int
    num_steps: int


# Two hills' caption gives no epochs; 5000, as the other 5000-epoch captions.
TARGETS = (
    TargetSpec("two_hills", 3, 5000),
    TargetSpec("gaussian_mixture", 16, 5000),
    TargetSpec("figure_eight", 16, 5000),
    TargetSpec("banana", 16, 5000),
    TargetSpec("circle", 32, 10000),
    TargetSpec("energy1", 32, 15000),
    TargetSpec("energy2", 32, 15000),
    TargetSpec("energy3", 32, 15000),
    TargetSpec("energy4", 32, 15000),
)
SPECS = {spec.name: spec for spec in TARGETS}


@dataclasses.dataclass(frozen=True)
class Scale:
    max_flows: int  # caps every K (quick runs)
    max_steps: int  # caps every number of steps (quick runs)
    draws: int  # draws per surrogate shown in the figures
    eval_draws: int  # draws of the ELBO estimate
    mode_runs: int  # R seeds of each variant of the two-mode study
    nuts_draws: int
    nuts_tune: int
    jit_compile: bool  # XLA's compile time pays off over thousands of steps, not over a quick run's few hundred
    starts: int = 8  # mean-field starts per target (and the quadrature optimum's)

    def flows(self, num_flows):
        return min(num_flows, self.max_flows)

    def steps(self, num_steps):
        return min(num_steps, self.max_steps)


FULL = Scale(10**6, 10**6, 10000, 200000, 10, 5000, 3000, jit_compile=True, starts=8)
QUICK = Scale(4, 300, 2000, 20000, 3, 300, 300, jit_compile=False, starts=4)

# ------------------------------------------------------------------ the mode study

MODE_TARGETS = ("two_hills", "energy1")  # two symmetric modes either side of z1 = 0
ONE_MODE_SHARE = 0.1  # a fit with less than this share of q on one side of z1 = 0 covers one mode
BOTH_MODES_KL = 0.5 * math.log(2.0)  # a one-mode fit of a symmetric two-mode target has KL ~ log 2
PLATEAU = 0.05  # nats around log 2 that count as sitting on the one-mode plateau
ANNEAL_FRACTION = 3  # annealed runs reach beta = 1 after a third of their steps
LONGER = 3  # the "longer" variant trains this many times the caption's steps
ANNEALED = Variant("annealed", anneal_fraction=ANNEAL_FRACTION)
LONGER_TRAINING = Variant("longer", steps_factor=LONGER)
# Our choices (default), each departure switched back to the study's, and two further trainings of the
# two-mode targets: annealed and LONGER times the steps.
VARIANTS = (DEFAULT, *STUDY, ANNEALED, LONGER_TRAINING)
VARIANT_LABELS = dict(default="ours", annealed="annealed", thesis_init="study's planar init",
                      thesis_checkpoint="study's checkpoint", thesis_all="study's init and checkpoint",
                      longer=f"{LONGER}x the steps")

# ------------------------------------------------------------------ what is measured on the fits

ENERGIES = ("energy1", "energy2", "energy3", "energy4")
ENERGY_WINDOW = ((-4.0, 4.0), (-5.0, 5.0))  # Figure 34's z1 range; z2 holds energy 4's lower branch
# Figures 23-25's mixture (eqs. 83-84): vinf.targets.figure_eight's defaults (tests/test_toy_targets.py checks).
FIGURE_EIGHT = dict(weights=(0.5, 0.5), locs=((1.0, 1.0), (-1.0, -1.0)), covs=(0.45 * np.eye(2), 0.45 * np.eye(2)))
BANANA_ARM = 6.0  # z1 beyond which the banana's arms are measured (Figures 27, 29)
COLLAPSE = 0.5  # nats: a drop of the smoothed ELBO below its settled level that Figure 17 counts as a collapse
TAIL_FRACTION = 0.2  # Figure 17's noise is measured over this last share of the steps
CIRCLE_CENTRE = 2.0  # |z| below which the circle's centre is measured (Figure 31)
SECTOR_DEGREES = 10  # angular bins along the ring (Figure 33)
LOBES = (1.5, 2.5)  # |z1| of the circle's lobes, where the ring meets the bumps at z1 = +-2 (Figure 32)
RING_SIDES = 3.5  # |z1| beyond which the draws lie on the ring's sides, away from the bumps (Figure 32)
SYMMETRY_TOLERANCE = 1e-6  # a target with |log p(z) - log p(-z)| below this on its grid is point-symmetric
