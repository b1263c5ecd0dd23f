"""Section VI.A: the demonstrative targets, Figures 17-35.

``python -m experiments.toy_targets [--quick | --full] [--out DIR] [--seed N] [--force] [--jobs N | --dask N | --scheduler ADDRESS]``

Every target is fitted with ``vinf.fit`` at the study's settings (S = 500 draws
per step, Adam 1e-2, the K and epochs of each caption) by planar flows, radial
flows and, as a baseline, mean-field Gaussians from several starts spread over
each target's box (``experiments._baseline``), beside the best diagonal Gaussian
found by quadrature. Trainings that share a family, K, number of steps and S run
as ONE batched surrogate whose member ``t`` fits target ``t``
(``vinf.targets.side_by_side``; each member has its own loss and checkpoint),
so the costly XLA compilation happens once per group. Beyond the study: each
fit's ELBO against the exact ``log Z`` by quadrature (so ``KL(q||p) = log Z -
ELBO``), and, for the two-mode targets (two hills, energy 1), how many of R
seeds cover both modes under our choices and under each departure switched
back to the study's (``VARIANTS``: its planar initialisation, its checkpoint,
both), annealed, and trained three times longer. Each group, the quadrature
optimum and NUTS on the banana are jobs of the shared runner, saved as they
finish (trained parameters under ``draws/``, numbers in ``results.json``); a
rerun skips the jobs already saved.
"""
import collections
import dataclasses
import math
import zlib

import numpy as np

from experiments import _study
from experiments._common import Experiment
from experiments._runner import Job, Outcome

NAME = "toy_targets"
FAMILIES = ("planar", "radial", "mean_field")
SAMPLE_SIZE = 500  # S of section V
LEARNING_RATE = 1e-2
TRACE_SIZES = (10, 100, 500)  # Figure 17's S
MODE_TARGETS = ("two_hills", "energy1")  # two symmetric modes either side of z1 = 0
ONE_MODE_SHARE = 0.1  # a fit with less than this share of q on one side of z1 = 0 covers one mode
BOTH_MODES_KL = 0.5 * math.log(2.0)  # a one-mode fit of a symmetric two-mode target has KL ~ log 2
PLATEAU = 0.05  # nats around log 2 that count as sitting on the one-mode plateau
ANNEAL_FRACTION = 3  # annealed runs reach beta = 1 after a third of their steps
MEAN_FIELD_STEPS = 5000  # mean field's steps at most: from every start it settles within 3000 (measured, 8 targets)
SPREAD = 1.0  # mean field's starts cover the whole of each target's box (its plotting and quadrature window)
OPTIMUM_STARTS = 2  # the quadrature optimum starts from twice as many means as the fits (about 30 s at full scale)
LONGER = 3  # the "longer" variant trains this many times the caption's steps
# Our choices (default), each departure switched back to the study's, and two further trainings of the
# two-mode targets: annealed (anneal_steps a third of the steps) and LONGER times the steps.
VARIANTS = {**_study.VARIANTS, "annealed": dict(surrogate={}, fit={}), "longer": dict(surrogate={}, fit={})}
VARIANT_LABELS = dict(default="ours", annealed="annealed", thesis_init="study's planar init",
                      thesis_checkpoint="study's checkpoint", thesis_all="study's init and checkpoint",
                      longer=f"{LONGER}x the steps")


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


def mixture_parameters(seed):
    """The mixture implied by the CAVI fit of section II (``experiments.mean_field``), as plain lists."""
    from experiments.mean_field import fitted_mixture

    return {key: np.asarray(value).tolist() for key, value in fitted_mixture(seed).items()}


def target_dim(name):
    import vinf

    return vinf.targets.get(name).dim


def _seed(base, key):
    return (base * 1_000_003 + zlib.crc32(key.encode())) % 2**31


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
    variant: str = "default"  # a key of VARIANTS
    spread: bool = False  # members start at means spread over their target's box (``_baseline.spread_locs``)
    target_kwargs: dict = dataclasses.field(default=None, compare=False, hash=False)

    def __post_init__(self):
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown variant {self.variant!r}; known: {', '.join(VARIANTS)}")

    @property
    def key(self):
        spread = "-spread" if self.spread else ""
        return (f"{self.family}-K{self.num_flows}-steps{self.num_steps}-S{self.sample_size}"
                f"-R{self.num_runs}-anneal{self.anneal_steps}-{self.variant}{spread}-" + "+".join(self.targets))

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
        import vinf

        kwargs = self.target_kwargs or {}
        return [vinf.targets.get(name, **kwargs.get(name, {})) for name in self.targets]

    def surrogate(self, dim, seed):
        import vinf

        options = dict(num_flows=self.num_flows, **VARIANTS[self.variant]["surrogate"]) if self.num_flows else {}
        return vinf.surrogates.get(self.family, dim, seed=seed, batch_shape=[len(self.targets) * self.num_runs],
                                   **options)

    def fit_options(self):
        return dict(anneal_steps=self.anneal_steps, **VARIANTS[self.variant]["fit"])

    def settings(self):
        """What made the group's numbers, as its rows record them."""
        return dict(group=self.key, family=self.family, num_flows=self.num_flows, num_steps=self.num_steps,
                    sample_size=self.sample_size, num_runs=self.num_runs, anneal_steps=self.anneal_steps,
                    variant=self.variant, surrogate_options=VARIANTS[self.variant]["surrogate"],
                    fit_options=self.fit_options())

    def spread_starts(self, targets, q, seed):
        """Spread a mean-field surrogate's members over their targets' boxes (``_baseline.spread_locs``): member
        ``r = 0`` of a target keeps the surrogate's own start (near the origin, sd near 1: the study's), the
        others start at a Latin hypercube of means with ``_baseline.spread_scale``'s sd. Returns the means
        ``[T, R, dim]``."""
        from experiments._baseline import spread_locs, spread_scale

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
    import vinf

    targets = group.build_targets()
    log_prob = vinf.targets.side_by_side(targets, repeats=group.num_runs).log_prob
    seed = _seed(base_seed, group.seed_key)
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
    import vinf

    state = vinf.surrogates.state(q)
    return dict(loss=fit.loss, names=np.array(list(state)), **{f"var{i}": v for i, v in enumerate(state.values())})


def load_surrogate(group, folder, dim):
    """Rebuild a trained group's surrogate from its saved variables, matched by name; also return its loss trace."""
    import vinf

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
    import time

    import vinf

    started = time.perf_counter()
    idata = vinf.mcmc.banana_nuts(draws=nuts.draws, tune=nuts.tune, chains=2, seed=_seed(base_seed, nuts.key))
    z = np.stack([idata.posterior[n].values.ravel() for n in ("z1", "z2")], axis=-1)
    divergences = int(idata.sample_stats["diverging"].values.sum())
    row = dict(key=nuts.key, variant="default", draws=int(z.shape[0]), tune=nuts.tune, chains=2,
               divergences=divergences, seconds=time.perf_counter() - started)
    return Outcome(rows=(row,), arrays={nuts.filename: dict(z=z)})


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
    """A two-mode target over R seeds as one batched planar surrogate, trained under ``variant``: annealed
    ones reach beta = 1 after a third of the steps, "longer" ones train ``LONGER`` times the steps."""
    spec = SPECS[name]
    steps = scale.steps(spec.num_steps)
    return Group("planar", (name,), scale.flows(spec.num_flows), steps * (LONGER if variant == "longer" else 1),
                 num_runs=scale.mode_runs, anneal_steps=steps // ANNEAL_FRACTION if variant == "annealed" else 0,
                 variant=variant)


def mode_groups(scale):
    """Every two-mode target under every variant, the same R seeds each."""
    return [mode_group(name, variant, scale) for name in MODE_TARGETS for variant in VARIANTS]


@dataclasses.dataclass(frozen=True)
class GaussianOptimum:
    """The best diagonal Gaussian of every table target by quadrature (``_baseline.best_diagonal_gaussian``)."""

    starts: int
    target_kwargs: dict = dataclasses.field(default=None, compare=False, hash=False)
    key = "gaussian-optimum"

    def job(self, scale, base_seed):
        # about 30 s on a loaded machine at full scale (16 starts a target), as a 4-target planar K = 32 group
        return Job(self.key, best_gaussians, (self, base_seed), cost=5000 * 500 * 4 * 33)


def best_gaussians(optimum, base_seed):
    """A job: ``{target: best_diagonal_gaussian(...)}`` from ``starts`` starts spread over the box as the
    mean-field fits' (``_baseline.search_box``)."""
    import vinf
    from experiments._baseline import search_box

    kwargs = optimum.target_kwargs or {}
    result = {spec.name: search_box(vinf.targets.get(spec.name, **kwargs.get(spec.name, {})), optimum.starts,
                                    _seed(base_seed, spec.name), SPREAD) for spec in TARGETS}
    return Outcome(extra={"gaussian_optimum": result})


# ------------------------------------------------------------------ beyond the study


def side_shares(q, num_draws, seed):
    """Share of each run's mass on the smaller side of ``z1 = 0`` (0.5 when both modes are covered)."""
    z, _ = q.experimental_sample_and_log_prob(num_draws, seed=(seed, 11))
    left = np.mean(z.numpy()[..., 0] < 0.0, axis=0)  # [R]: one target, R runs
    return np.minimum(left, 1.0 - left)


def mode_timeline(loss, log_z):
    """Per run, from the smoothed ELBO: the first step within ``BOTH_MODES_KL`` of log Z (``None``: never)
    and the number of steps spent on the one-mode plateau (KL within ``PLATEAU`` of log 2)."""
    from vinf.fit import smoothed_loss

    kl = log_z + smoothed_loss(loss)  # [steps, R]
    close = kl < BOTH_MODES_KL
    first = [int(np.argmax(c)) if c.any() else None for c in close.T]
    plateau = np.sum(np.abs(kl - math.log(2.0)) < PLATEAU, axis=0)
    return first, plateau.tolist()


def mode_study(run, scale, groups):
    """How many seeds fit a two-mode target on both modes, under each variant (the same seeds each).

    Outcome of each run at the end: "one mode" (share on the smaller side of
    ``z1 = 0`` below ``ONE_MODE_SHARE``), else it *covers both sides* and is
    "both modes" (``KL < BOTH_MODES_KL``) or "neither" (spread over both sides
    but far from p); and, along training, when it first came within
    ``BOTH_MODES_KL`` of log Z and how long it sat on the one-mode plateau.
    """
    study = []
    for group in groups:
        (name,) = group.targets
        row = run.cached_row(group.member_key(name))
        q, loss = load_surrogate(group, run.draws, dim=target_dim(name))
        shares = side_shares(q, scale.eval_draws, run.seed)
        one = shares < ONE_MODE_SHARE
        both = np.asarray(row["kl"]) < BOTH_MODES_KL
        first, plateau = mode_timeline(loss, row["log_evidence"])
        study.append(dict(
            target=name,
            **group.settings(),
            smaller_share=shares.tolist(),
            one_mode=int(one.sum()),
            both_sides=int((~one).sum()),
            both_modes=int(both.sum()),
            neither=int(np.sum(~one & ~both)),
            first_step_both=first,
            one_mode_steps=plateau,
            elbo=row["elbo"],
            kl=row["kl"],
        ))
    result = dict(one_mode_share=ONE_MODE_SHARE, both_modes_kl=BOTH_MODES_KL, plateau=PLATEAU, runs=study)
    run.set_extra("mode_study", result)
    return result


def best_member(row):
    """Index of the member with the highest ELBO (mean field's best start)."""
    return int(np.argmax(row["elbo"]))


def kl_table(rows, optimum):
    """Markdown: per target, log Z by quadrature, each flow's ELBO +- MC error and KL(q||p), mean field's best
    start with the spread of KL over its starts, and the best diagonal Gaussian by quadrature."""
    flows = [f for f in FAMILIES if f != "mean_field"]
    starts = next(r["num_runs"] for r in rows if r["family"] == "mean_field")
    mf_steps = max(r["num_steps"] for r in rows if r["family"] == "mean_field")
    head = ("| target | K, steps | log Z (quadrature) | " + " | ".join(f"{f} ELBO | {f} KL" for f in flows)
            + f" | mean-field ELBO (best of {starts} starts, ≤ {mf_steps} steps) | mean-field KL: best "
            "(min / median / max over starts) | best diagonal Gaussian KL (quadrature) |")
    lines = [head, "| --- | --- | ---: |" + " ---: | ---: |" * len(flows) + " ---: | ---: | ---: |"]
    for spec in TARGETS:
        cells = {r["family"]: r for r in rows if r["target"] == spec.name}
        planar, mf = cells["planar"], cells["mean_field"]
        best, kl = best_member(mf), np.asarray(mf["kl"])
        lines.append(
            f"| {spec.name} | {planar['num_flows']}, {planar['num_steps']} | {planar['log_evidence']:.4f} | "
            + " | ".join(f"{cells[f]['elbo'][0]:.4f} ± {cells[f]['elbo_se'][0]:.4f} | {cells[f]['kl'][0]:.4f}"
                         for f in flows)
            + f" | {mf['elbo'][best]:.4f} ± {mf['elbo_se'][best]:.4f} | {kl[best]:.4f} ({kl.min():.2f} / "
            f"{np.median(kl):.2f} / {kl.max():.2f}) | {optimum[spec.name]['kl']:.4f} |"
        )
    return "\n".join(lines)


def work(run):
    """Train what is not saved yet, then the KL table, the mode study, Figures 17-35 and the report."""
    from experiments import toy_targets_figures as figures
    from experiments import toy_targets_report as report

    scale = run.scale
    mixture = run.cached_extra("mixture") or mixture_parameters(run.seed)
    run.set_extra("mixture", mixture)
    target_kwargs = {"gaussian_mixture": mixture}
    tables = table_groups(scale, target_kwargs)
    traces, modes = trace_groups(scale), mode_groups(scale)
    nuts = Nuts(scale.nuts_draws, scale.nuts_tune)
    optimum = GaussianOptimum(OPTIMUM_STARTS * scale.starts, target_kwargs)
    print(f"toy targets: {len(tables) + len(traces) + len(modes)} batched trainings, the best Gaussians by "
          "quadrature and NUTS on the banana")
    run.run_jobs([job.job(scale, run.seed) for job in tables + traces + modes + [nuts, optimum]],
                 "trainings, quadrature and NUTS")
    rows = [run.cached_row(g.member_key(t)) for g in tables for t in g.targets]
    run.save_table(kl_table(rows, run.cached_extra("gaussian_optimum")), "kl_table.md", [])
    modes_result = mode_study(run, scale, modes)
    measured = figures.make_all(run, scale, tables, traces, modes, modes_result, nuts)
    report.write_report(run, rows, modes_result, measured, mixture)


EXPERIMENT = Experiment(NAME, __doc__, FULL, QUICK, work)
main = EXPERIMENT.main

if __name__ == "__main__":
    main()
