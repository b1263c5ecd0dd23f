"""The toy-targets experiment's jobs: every training (``Group``), NUTS on the banana and the best diagonal
Gaussians by quadrature, and the plan that lists them.

Trainings that share a family, K, number of steps and S run as ONE batched
surrogate whose member ``t`` fits target ``t`` (``vinf.targets.side_by_side``;
each member has its own loss and checkpoint), so the costly XLA compilation
happens once per group. A job returns its rows and the trained parameters
(``load_surrogate`` rebuilds the surrogate from them).
"""
import collections
import dataclasses
import time

import numpy as np

import vinf
from experiments.common.baselines import search_box, spread_locs, spread_scale
from experiments.common.data import fitted_mixture
from experiments.common.runner import Job, Outcome
from experiments.common.seeds import job_seed
from experiments.common.variants import DEFAULT, Variant
from experiments.toy_targets.config import (FAMILIES, LEARNING_RATE, MEAN_FIELD_STEPS, MODE_TARGETS, SAMPLE_SIZE,
                                            SPECS, SPREAD, TARGETS, TRACE_SIZES, VARIANTS)


def mixture_parameters(seed):
    """The mixture implied by the CAVI fit of section II (``experiments.common.data``), as plain lists."""
    return {key: np.asarray(value).tolist() for key, value in fitted_mixture(seed).items()}


def target_dim(name):
    return vinf.targets.get(name).dim


@dataclasses.dataclass(frozen=True)
class Group:
    """One batched surrogate of ``T x R`` members: member ``t * R + r`` fits ``targets[t]``, run ``r``
    (the layout of ``vinf.targets.side_by_side``).

    ``target_kwargs`` maps a target name to the arguments of its factory (the
    fitted mixture); it is not part of the key.
    """

    family: str
    targets: tuple
    num_flows: int  # 0 for mean field
    num_steps: int
    sample_size: int = SAMPLE_SIZE
    num_runs: int = 1
    anneal_steps: int = 0
    variant: Variant = DEFAULT
    spread: bool = False  # members start at means spread over their target's box (``baselines.spread_locs``)
    target_kwargs: dict = dataclasses.field(default=None, compare=False, hash=False)

    @property
    def key(self):
        spread = "-spread" if self.spread else ""
        return (f"{self.family}-K{self.num_flows}-steps{self.num_steps}-S{self.sample_size}"
                f"-R{self.num_runs}-anneal{self.anneal_steps}-{self.variant.name}{spread}-" + "+".join(self.targets))

    @property
    def seed_key(self):
        """What seeds the group: its key without the variant, steps and annealing, so the variants of a
        training start from the same initial parameters and draw the same random numbers (a longer training
        repeats the shorter one's steps before going on)."""
        return f"{self.family}-K{self.num_flows}-S{self.sample_size}-R{self.num_runs}-" + "+".join(self.targets)

    def member_key(self, target):
        return f"{target}/{self.key}"

    @property
    def cost(self):
        return self.num_steps * self.sample_size * len(self.targets) * self.num_runs * (self.num_flows + 1)

    def build_targets(self):
        kwargs = self.target_kwargs or {}
        return [vinf.targets.get(name, **kwargs.get(name, {})) for name in self.targets]

    def surrogate(self, dim, seed):
        options = dict(num_flows=self.num_flows, **self.variant.surrogate_options) if self.num_flows else {}
        return vinf.surrogates.get(self.family, dim, seed=seed, batch_shape=[len(self.targets) * self.num_runs],
                                   **options)

    def fit_options(self):
        return dict(anneal_steps=self.anneal_steps, **self.variant.fit_options)

    def settings(self):
        """What made the group's numbers, as its rows record them."""
        return dict(group=self.key, family=self.family, num_flows=self.num_flows, num_steps=self.num_steps,
                    sample_size=self.sample_size, num_runs=self.num_runs, anneal_steps=self.anneal_steps,
                    variant=self.variant.name, surrogate_options=self.variant.surrogate_options,
                    fit_options=self.fit_options())

    def spread_starts(self, targets, q, seed):
        """Spread a mean-field surrogate's members over their targets' boxes (``baselines.spread_locs``): member
        ``r = 0`` of a target keeps the surrogate's own start (near the origin, sd near 1: the study's), the
        others start at a Latin hypercube of means with ``baselines.spread_scale``'s sd. Returns the means
        ``[T, R, dim]``."""
        loc, scale = q.loc.numpy(), q.scale.diag.numpy()
        first = self.members(loc)[:, 0]
        starts = np.stack([spread_locs(t.bounds, self.num_runs, first[i], seed + i, SPREAD)
                           for i, t in enumerate(targets)])
        scales = self.members(scale).copy()
        scales[:, 1:] = np.stack([spread_scale(t.bounds, self.num_runs, SPREAD) for t in targets])[:, None]
        q.loc.assign(starts.reshape(loc.shape))
        q.scale.diag.assign(scales.reshape(scale.shape))
        return starts

    def members(self, values, axis=0):
        """Split the batch axis ``axis`` of ``values`` into ``[T, R]``."""
        values = np.asarray(values)
        axis = axis % values.ndim
        return values.reshape(values.shape[:axis] + (len(self.targets), self.num_runs) + values.shape[axis + 1:])

    @property
    def filename(self):
        return f"{self.key}.npz"

    def job(self, scale, base_seed):
        return Job(self.key, train_group, (self, scale, base_seed), cost=self.cost)


def train_group(group, scale, base_seed):
    """A job: fit one group by Algorithm 1, score every member; its parameters and loss trace as arrays.

    The ELBO (eq. 7) is the mean of ``scale.eval_draws`` log weights; its
    Monte-Carlo standard error is their sd over the square root of their number.
    """
    targets = group.build_targets()
    log_prob = vinf.targets.side_by_side(targets, repeats=group.num_runs).log_prob
    seed = job_seed(base_seed, group.seed_key)
    q = group.surrogate(targets[0].dim, seed)
    starts = group.spread_starts(targets, q, seed) if group.spread else None
    fit = vinf.fit(log_prob, q, num_steps=group.num_steps, sample_size=group.sample_size,
                   learning_rate=LEARNING_RATE, seed=seed, progress=False, jit_compile=scale.jit_compile,
                   **group.fit_options())
    lw = group.members(vinf.diagnostics.log_weights(log_prob, q, scale.eval_draws, seed), axis=1)  # [N, T, R]
    elbo, se = lw.mean(axis=0), lw.std(axis=0) / np.sqrt(lw.shape[0])
    best_step = group.members(fit.best_step)
    rows = []
    for t, target in enumerate(targets):
        log_z = target.log_evidence()
        rows.append(dict(
            key=group.member_key(group.targets[t]),
            member=t,
            target=group.targets[t],
            **group.settings(),
            starts=None if starts is None else starts[t].tolist(),
            log_evidence=log_z,
            elbo=elbo[t].tolist(),
            elbo_se=se[t].tolist(),
            kl=(log_z - elbo[t]).tolist(),
            best_step=best_step[t].tolist(),
            eval_draws=scale.eval_draws,
            train_seconds=fit.seconds,
        ))
    return Outcome(rows=tuple(rows), arrays={group.filename: parameters(q, fit)})


def parameters(q, fit):
    """The trained variables by name (``vinf.surrogates.state``) and the loss trace, as arrays for an ``.npz``."""
    state = vinf.surrogates.state(q)
    return dict(loss=fit.loss, names=np.array(list(state)), **{f"var{i}": v for i, v in enumerate(state.values())})


def load_surrogate(group, folder, dim):
    """Rebuild a trained group's surrogate from its saved variables, matched by name; also return its loss trace."""
    with np.load(folder / group.filename) as data:
        state = {str(name): data[f"var{i}"] for i, name in enumerate(data["names"])}
        q = vinf.surrogates.load_state(group.surrogate(dim, seed=0), state)
        return q, data["loss"]


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
    """The best diagonal Gaussian of every table target by quadrature (``baselines.best_diagonal_gaussian``)."""

    starts: int
    target_kwargs: dict = dataclasses.field(default=None, compare=False, hash=False)
    key = "gaussian-optimum"

    def job(self, scale, base_seed):
        # about 30 s on a loaded machine at full scale (16 starts a target), as a 4-target planar K = 32 group
        return Job(self.key, best_gaussians, (self, base_seed), cost=5000 * 500 * 4 * 33)


def best_gaussians(optimum, base_seed):
    """A job: ``{target: best_diagonal_gaussian(...)}`` from ``starts`` starts spread over the box as the
    mean-field fits' (``baselines.search_box``)."""
    kwargs = optimum.target_kwargs or {}
    result = {spec.name: search_box(vinf.targets.get(spec.name, **kwargs.get(spec.name, {})), optimum.starts,
                                    job_seed(base_seed, spec.name), SPREAD) for spec in TARGETS}
    return Outcome(extra={"gaussian_optimum": result})


# ------------------------------------------------------------------ the plan


def table_groups(scale, target_kwargs):
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
    return [Group(family, tuple(names), flows, steps, num_runs=1 if flows else scale.starts, spread=not flows,
                  target_kwargs=target_kwargs)
            for (family, _, flows, steps), names in members.items()]


def trace_groups(scale):
    """Figure 17: planar flows on the circle with S = 10 and 100 (S = 500 is the table's fit)."""
    spec = SPECS["circle"]
    return [Group("planar", ("circle",), scale.flows(spec.num_flows), scale.steps(spec.num_steps), sample_size=s)
            for s in TRACE_SIZES if s != SAMPLE_SIZE]


def mode_group(name, variant, scale):
    """A two-mode target over R seeds as one batched planar surrogate, trained under ``variant`` (a
    ``Variant``: its steps and annealing scale the caption's steps)."""
    spec = SPECS[name]
    steps = variant.steps(scale.steps(spec.num_steps))
    return Group("planar", (name,), scale.flows(spec.num_flows), steps, num_runs=scale.mode_runs,
                 anneal_steps=variant.anneal_steps(steps), variant=variant)


def mode_groups(scale):
    """Every two-mode target under every variant, the same R seeds each."""
    return [mode_group(name, variant, scale) for name in MODE_TARGETS for variant in VARIANTS]
