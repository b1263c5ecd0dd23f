"""The toy-targets experiment's jobs: the trainings of the section VI.A protocol (``experiments.common.toys``),
NUTS on the banana and the best diagonal Gaussians by quadrature, and the plan that lists them."""
import collections
import dataclasses
import time

import numpy as np

import vinf
from experiments.common.baselines import search_box
from experiments.common.runner import Job, Outcome
from experiments.common.seeds import job_seed
from experiments.common.toys import (MEAN_FIELD_STEPS, MODE_TARGETS, SAMPLE_SIZE, SPECS, SPREAD, TARGETS, Group,
                                     build, mode_group, target_dim, train_mode_group)
from experiments.common.variants import DEFAULT
from experiments.toy_targets.config import FAMILIES, TRACE_SIZES


@dataclasses.dataclass(frozen=True)
class Nuts:
    """PyMC NUTS on the banana (Figure 29), 2 chains, the study's 3000 tuning steps."""

    draws: int
    tune: int
    key = "nuts-banana"
    filename = "nuts_banana.npz"

    def job(self, scale, base_seed):
        return Job(self.key, sample_nuts, (self, base_seed), cost=2 * (self.draws + self.tune) * 10**4)


def sample_nuts(nuts, base_seed):
    """A job: NUTS on the banana; its draws ``z [N, 2]`` and a row with its divergences."""
    started = time.perf_counter()
    idata = vinf.mcmc.banana_nuts(draws=nuts.draws, tune=nuts.tune, chains=2, seed=job_seed(base_seed, nuts.key))
    z = np.stack([idata.posterior[n].values.ravel() for n in ("z1", "z2")], axis=-1)
    divergences = int(idata.sample_stats["diverging"].values.sum())
    row = dict(key=nuts.key, variant=DEFAULT.name, draws=int(z.shape[0]), tune=nuts.tune, chains=2,
               divergences=divergences, seconds=time.perf_counter() - started)
    return Outcome(rows=(row,), arrays={nuts.filename: dict(z=z)})


@dataclasses.dataclass(frozen=True)
class GaussianOptimum:
    """The best diagonal Gaussian of every target (the table's and the mode study's) by quadrature
    (``baselines.best_diagonal_gaussian``)."""

    starts: int
    key = "gaussian-optimum"

    def job(self, scale, base_seed):
        # about 30 s on a loaded machine at full scale (16 starts a target), as a 4-target planar K = 32 group
        return Job(self.key, best_gaussians, (self, base_seed), cost=5000 * 500 * 4 * 33)


def best_gaussians(optimum, base_seed):
    """A job: ``{target: best_diagonal_gaussian(...)}`` from ``starts`` starts spread over the box as the
    mean-field fits' (``baselines.search_box``)."""
    result = {name: search_box(build(name), optimum.starts, job_seed(base_seed, name), SPREAD) for name in SPECS}
    return Outcome(extra={"gaussian_optimum": result})


# ------------------------------------------------------------------ the plan


def table_groups(scale):
    """Every target by every family: targets with the same dimension, K and steps share a group. Mean
    field trains ``scale.starts`` members per target, started at means spread over its box, for at most
    ``MEAN_FIELD_STEPS``."""
    members = collections.defaultdict(list)
    for spec in TARGETS:
        dim = target_dim(spec.name)
        for family in FAMILIES:
            flows = 0 if family == "mean_field" else scale.flows(spec.num_flows)
            steps = scale.steps(spec.num_steps if flows else min(spec.num_steps, MEAN_FIELD_STEPS))
            members[(family, dim, flows, steps)].append(spec.name)
    return [Group(family, tuple(names), flows, steps, num_runs=1 if flows else scale.starts, spread=not flows)
            for (family, _, flows, steps), names in members.items()]


def trace_groups(scale):
    """Figure 17: planar flows on the circle with S = 10 and 100 (S = 500 is the table's fit)."""
    spec = SPECS["circle"]
    return [Group("planar", ("circle",), scale.flows(spec.num_flows), scale.steps(spec.num_steps), sample_size=s)
            for s in TRACE_SIZES if s != SAMPLE_SIZE]


def mode_groups(scale):
    """The mode study under our choices: R seeds of every two-mode target (the study's choices, annealing and
    longer trainings are the ablations')."""
    return [mode_group(name, DEFAULT, scale) for name in MODE_TARGETS]


def plan_jobs(scale, base_seed, tables, traces, modes, extras):
    """The runner's jobs: every group (the mode study's measured as it trains), NUTS and the optimum."""
    return ([g.job(scale, base_seed) for g in tables + traces] + [g.job(scale, base_seed, train_mode_group)
                                                                   for g in modes]
            + [item.job(scale, base_seed) for item in extras])
