"""Section VI.A: the demonstrative targets, Figures 17-35.

``python -m experiments.toy_targets [--quick | --full] [--out DIR] [--seed N] [--force] [--jobs N | --dask N | --scheduler ADDRESS]``

Every target is fitted with ``vinf.fit`` at the study's settings (S = 500 draws
per step, Adam 1e-2, the K and epochs of each caption) by planar flows, radial
flows and, as a baseline, mean-field Gaussians. Trainings that share a family,
K, number of steps and S run as ONE batched surrogate whose member ``t`` fits
target ``t`` (``vinf.targets.side_by_side``; each member has its own loss and
checkpoint), so the costly XLA compilation happens once per group. Beyond the
study: each fit's ELBO against the exact ``log Z`` by quadrature (so
``KL(q||p) = log Z - ELBO``), and how often the two-mode targets (two hills,
energy 1) are fitted on one mode only, with and without annealing (R seeds
trained as one batched surrogate each). Each group, and NUTS on the banana, is
a job of the shared runner, saved as it finishes (trained parameters under
``draws/``, numbers in ``results.json``); a rerun skips the jobs already saved.
"""
import collections
import dataclasses
import math
import zlib

import numpy as np

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
    mode_runs: int  # R seeds of the energy-1 mode study
    nuts_draws: int
    nuts_tune: int
    jit_compile: bool  # XLA's compile time pays off over thousands of steps, not over a quick run's few hundred

    def flows(self, num_flows):
        return min(num_flows, self.max_flows)

    def steps(self, num_steps):
        return min(num_steps, self.max_steps)


FULL = Scale(10**6, 10**6, 10000, 200000, 10, 5000, 3000, jit_compile=True)
QUICK = Scale(4, 300, 2000, 20000, 3, 300, 300, jit_compile=False)


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
    target_kwargs: dict = dataclasses.field(default=None, compare=False, hash=False)

    @property
    def key(self):
        return (f"{self.family}-K{self.num_flows}-steps{self.num_steps}-S{self.sample_size}"
                f"-R{self.num_runs}-anneal{self.anneal_steps}-" + "+".join(self.targets))

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

        flows = dict(num_flows=self.num_flows) if self.num_flows else {}
        return vinf.surrogates.get(self.family, dim, seed=seed, batch_shape=[len(self.targets) * self.num_runs],
                                   **flows)

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
    seed = _seed(base_seed, group.key)
    q = group.surrogate(targets[0].dim, seed)
    fit = vinf.fit(log_prob, q, num_steps=group.num_steps, sample_size=group.sample_size,
                   learning_rate=LEARNING_RATE, seed=seed, progress=False, jit_compile=scale.jit_compile,
                   anneal_steps=group.anneal_steps)
    lw = group.members(vinf.diagnostics.log_weights(log_prob, q, scale.eval_draws, seed), axis=1)  # [N, T, R]
    elbo, se = lw.mean(axis=0), lw.std(axis=0) / np.sqrt(lw.shape[0])
    best_step = group.members(fit.best_step)
    rows = []
    for t, target in enumerate(targets):
        log_z = target.log_evidence()
        rows.append(dict(
            key=group.member_key(group.targets[t]),
            group=group.key,
            member=t,
            target=group.targets[t],
            family=group.family,
            num_flows=group.num_flows,
            num_steps=group.num_steps,
            sample_size=group.sample_size,
            num_runs=group.num_runs,
            anneal_steps=group.anneal_steps,
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
    row = dict(key=nuts.key, draws=int(z.shape[0]), tune=nuts.tune, chains=2, divergences=divergences,
               seconds=time.perf_counter() - started)
    return Outcome(rows=(row,), arrays={nuts.filename: dict(z=z)})


# ------------------------------------------------------------------ the plan


def table_groups(scale, target_kwargs):
    """Every target by every family: targets with the same dimension, K and steps share a group."""
    members = collections.defaultdict(list)
    for spec in TARGETS:
        dim = target_dim(spec.name)
        for family in FAMILIES:
            flows = 0 if family == "mean_field" else scale.flows(spec.num_flows)
            members[(family, dim, flows, scale.steps(spec.num_steps))].append(spec.name)
    return [Group(family, tuple(names), flows, steps, target_kwargs=target_kwargs)
            for (family, _, flows, steps), names in members.items()]


def trace_groups(scale):
    """Figure 17: planar flows on the circle with S = 10 and 100 (S = 500 is the table's fit)."""
    spec = SPECS["circle"]
    return [Group("planar", ("circle",), scale.flows(spec.num_flows), scale.steps(spec.num_steps), sample_size=s)
            for s in TRACE_SIZES if s != SAMPLE_SIZE]


def mode_groups(scale):
    """Each two-mode target over R seeds as one batched planar surrogate, without and with annealing."""
    groups = []
    for name in MODE_TARGETS:
        spec = SPECS[name]
        steps = scale.steps(spec.num_steps)
        groups += [Group("planar", (name,), scale.flows(spec.num_flows), steps, num_runs=scale.mode_runs,
                         anneal_steps=anneal) for anneal in (0, steps // ANNEAL_FRACTION)]
    return groups


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
    """How often a two-mode target is fitted on one mode only, without and with annealing (the same seeds).

    Outcome of each run at the end: "one mode" (share on the smaller side of
    ``z1 = 0`` below ``ONE_MODE_SHARE``), "both modes" (``KL < BOTH_MODES_KL``),
    or "neither" (spread over both sides but far from p); and, along training,
    when it first covered both modes and how long it sat on the one-mode plateau.
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
            group=group.key,
            num_flows=group.num_flows,
            num_steps=group.num_steps,
            anneal_steps=group.anneal_steps,
            num_runs=group.num_runs,
            smaller_share=shares.tolist(),
            one_mode=int(one.sum()),
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


def kl_table(rows):
    """Markdown: per target, log Z by quadrature and each family's ELBO +- MC error and KL(q||p)."""
    head = "| target | K, steps | log Z (quadrature) | " + " | ".join(
        f"{f.replace('_', '-')} ELBO | {f.replace('_', '-')} KL" for f in FAMILIES) + " |"
    lines = [head, "| --- | --- | ---: |" + " ---: | ---: |" * len(FAMILIES)]
    for spec in TARGETS:
        cells = {r["family"]: r for r in rows if r["target"] == spec.name}
        flows = cells["planar"]["num_flows"]
        lines.append(
            f"| {spec.name} | {flows}, {cells['planar']['num_steps']} | {cells['planar']['log_evidence']:.4f} | "
            + " | ".join(f"{cells[f]['elbo'][0]:.4f} ± {cells[f]['elbo_se'][0]:.4f} | {cells[f]['kl'][0]:.4f}"
                         for f in FAMILIES) + " |"
        )
    return "\n".join(lines)


def work(run):
    """Train what is not saved yet, then the KL table, the mode study, Figures 17-35 and the report."""
    from experiments import toy_targets_figures as figures

    scale = run.scale
    mixture = run.cached_extra("mixture") or mixture_parameters(run.seed)
    run.set_extra("mixture", mixture)
    tables = table_groups(scale, {"gaussian_mixture": mixture})
    traces, modes = trace_groups(scale), mode_groups(scale)
    nuts = Nuts(scale.nuts_draws, scale.nuts_tune)
    print(f"toy targets: {len(tables) + len(traces) + len(modes)} batched trainings and NUTS on the banana")
    run.run_jobs([job.job(scale, run.seed) for job in tables + traces + modes + [nuts]], "trainings and NUTS")
    rows = [run.cached_row(g.member_key(t)) for g in tables for t in g.targets]
    run.save_table(kl_table(rows), "kl_table.md", [])
    modes_result = mode_study(run, scale, modes)
    measured = figures.make_all(run, scale, tables, traces, modes, modes_result, nuts)
    figures.write_report(run, rows, modes_result, measured, mixture)


EXPERIMENT = Experiment(NAME, __doc__, FULL, QUICK, work)
main = EXPERIMENT.main

if __name__ == "__main__":
    main()
