"""Section VI.B: the eight-schools model, Tables I-V and Figures 37-48.

``python -m experiments.eight_schools [--quick | --full] [--out DIR] [--seed N] [--force] [--jobs N | --dask N | --scheduler ADDRESS]``

Every table row follows the thesis's protocol: R = 5 trainings of 15000 Adam
steps (S = 500, learning rate 1e-2); after training, 50 sets of 5000 draws each
give k-hat and the ELBO, averaged per training; the row reports their mean and
sd over trainings. Each row is run on the study's target (``thesis_compat=True``,
which its numbers belong to) and on the true model, beside the exact log
evidence by quadrature. Radial flows are a further method on Tables III-V.
Rows that differ only in their target train together as one batched surrogate
(``Group``). Each group, and each NUTS baseline, is a job of the shared
runner (``--jobs N``, ``--dask N``, ``--scheduler ADDRESS``), saved as it
finishes; a rerun skips the jobs already saved.
"""
import dataclasses
import time
import zlib

import numpy as np

from experiments import _study, agreement
from experiments._common import Experiment
from experiments._runner import Job, Outcome

NAME = "eight_schools"


@dataclasses.dataclass(frozen=True)
class Scale:
    num_steps: int
    num_runs: int
    num_sets: int
    num_draws: int
    deep: int  # K of Tables III and IV
    depths: tuple  # K of Table V
    nuts_draws: int
    nuts_tune: int
    jit_compile: bool = True  # XLA's compile time pays off over thousands of steps, not over a quick run's few hundred


FULL = Scale(15000, 5, 50, 5000, 64, (10, 20, 30, 40, 60, 80, 128), 5000, 1000)
QUICK = Scale(300, 2, 2, 500, 4, (2, 4), 300, 300, jit_compile=False)

# The thesis's Tables II-V: (k-hat mean, sd, ELBO mean, sd), on its own target.
THESIS = {
    ("II", "mean_field", True, 8, 0): (0.78, 0.049, -60.71, 0.027),
    ("II", "mean_field", False, 8, 0): (0.11, 0.036, -60.20, 0.022),
    ("III", "planar", True, 8, 64): (0.65, 0.050, -60.05, 0.012),
    ("III", "planar", False, 8, 64): (0.23, 0.039, -59.50, 0.006),
    ("IV", "planar", True, 1, 64): (0.46, 0.048, -5.24, 0.005),
    ("IV", "planar", False, 1, 64): (0.28, 0.042, -5.13, 0.003),
    ("V", "planar", True, 2, 10): (0.54, 0.080, -13.32, 0.020),
    ("V", "planar", True, 2, 20): (0.46, 0.064, -13.29, 0.011),
    ("V", "planar", True, 2, 30): (0.40, 0.056, -13.28, 0.008),
    ("V", "planar", True, 2, 40): (0.38, 0.050, -13.28, 0.008),
    ("V", "planar", True, 2, 60): (0.33, 0.074, -13.28, 0.009),
    ("V", "planar", True, 2, 80): (0.28, 0.083, -13.29, 0.023),
    ("V", "planar", True, 2, 128): (0.33, 0.030, -13.28, 0.012),
}


METHOD_LABELS = {"mean_field": "ADVI", "planar": "planar", "radial": "radial"}  # the tables name them as the thesis

# Our departures from the study, each a switch (issue 13): a variant names the
# surrogate's and the fit's options that differ from our defaults.
VARIANTS = {
    **_study.VARIANTS,  # "default" and the study's choices: thesis_init, thesis_checkpoint, thesis_all
    # Beyond the study (python -m experiments.beyond):
    "leaky_relu": dict(surrogate=dict(activation="leaky_relu"), fit={}),  # planar h = leaky ReLU, not tanh
    "lr_3e-3": dict(surrogate={}, fit=dict(learning_rate=3e-3)),
    "stl": dict(surrogate={}, fit=dict(gradient="stl")),  # sticking the landing (Roeder et al. 2017)
    # Neural flows (IAF, RealNVP, spline) with two hidden layers of 32 units, at the study's learning rate.
    "net32": dict(surrogate=dict(hidden_units=(32, 32)), fit={}),
    "net32_stl": dict(surrogate=dict(hidden_units=(32, 32)), fit=dict(gradient="stl")),
}
LEARNING_RATE = 1e-2  # the thesis's (section VI.B), unless a variant says otherwise
SAMPLE_SIZE = 500  # draws per step S, the thesis's


@dataclasses.dataclass(frozen=True)
class Spec:
    """One table row: a method on one version of the model and target."""

    table: str
    method: str  # a family of vinf.surrogates: "mean_field" (ADVI), "planar" or "radial"
    centered: bool
    num_schools: int
    num_flows: int  # 0 for mean field
    thesis_compat: bool
    variant: str = "default"  # a key of VARIANTS

    @property
    def key(self):
        param = "c" if self.centered else "nc"
        target = "thesis" if self.thesis_compat else "true"
        tail = "" if self.variant == "default" else f"-{self.variant}"
        return f"{self.table}-{self.method}-{param}-J{self.num_schools}-K{self.num_flows}-{target}{tail}"

    def target(self):
        import vinf

        return vinf.targets.eight_schools(self.centered, self.num_schools, self.thesis_compat)

    def surrogate(self, num_runs, seed):
        import vinf

        options = dict(num_flows=self.num_flows) if self.num_flows else {}
        options.update(VARIANTS[self.variant]["surrogate"])
        return vinf.surrogates.get(self.method, self.num_schools + 2, seed=seed, batch_shape=[num_runs], **options)

    def fit_options(self):
        return VARIANTS[self.variant]["fit"]


def table_specs(scale):
    """Every row of Tables II-V, on both targets."""
    specs = []
    for compat in (True, False):
        for centered in (True, False):
            specs.append(Spec("II", "mean_field", centered, 8, 0, compat))
            for method in ("planar", "radial"):
                specs.append(Spec("III", method, centered, 8, scale.deep, compat))
                specs.append(Spec("IV", method, centered, 1, scale.deep, compat))
        for method in ("planar", "radial"):
            for depth in scale.depths:
                specs.append(Spec("V", method, True, 2, depth, compat))
    return specs


@dataclasses.dataclass(frozen=True)
class Group:
    """Table rows that train together: one method and depth on one number of schools.

    Its variants (centered or not, the study's target or the true model) differ
    only in the target, so their ``R`` trainings each are one batched surrogate
    fitted to ``vinf.targets.side_by_side``: one compiled step instead of one per
    row. With one school the study's target is the true model (the hyperprior
    is counted J = 1 times), so both rows share the same trainings.
    """

    specs: tuple

    @property
    def key(self):
        first = self.specs[0]
        tail = "" if first.variant == "default" else f"-{first.variant}"
        return f"{first.table}-{first.method}-J{first.num_schools}-K{first.num_flows}{tail}"

    @property
    def variants(self):
        """The distinct targets trained, as ``(centered, thesis_compat)``."""
        return tuple(dict.fromkeys((s.centered, _effective_compat(s)) for s in self.specs))

    def cost(self):
        """A relative estimate of the training time, to start the longest groups first
        (``LAYER_COST``: a layer's cost in planar layers, measured roughly)."""
        first = self.specs[0]
        per_layer = LAYER_COST.get(first.method, 1.0)
        return len(self.variants) * max(first.num_flows, 2) * (first.num_schools + 2) * per_layer


LAYER_COST = {"radial": 1.6, "full_rank": 1.5, "iaf": 30.0, "realnvp": 30.0, "spline": 250.0}


def _effective_compat(spec):
    return spec.thesis_compat and spec.num_schools > 1


def groups(specs):
    """The specs grouped by (table, method, schools, depth, variant), in first-seen order."""
    by_key = {}
    for spec in specs:
        by_key.setdefault((spec.table, spec.method, spec.num_schools, spec.num_flows, spec.variant), []).append(spec)
    return [Group(tuple(members)) for members in by_key.values()]


ATTEMPTS = 3  # trainings of a group before its divergence is an error (the study's planar start diverges at times)


def _seed(base, key):
    return (base * 1_000_003 + zlib.crc32(key.encode())) % 2**31


def train_group(group, scale, base_seed, gradient_norms=False):
    """A job: train and score a group's rows by the section VI.B protocol; each row's best training's draws.

    With ``gradient_norms`` (planar or radial), each row also carries the norm of
    every layer's share of the gradient, averaged over its trainings, before the
    first step and at the checkpoint (``vinf.diagnostics.layer_gradient_norms``).
    """
    import vinf

    first, runs = group.specs[0], scale.num_runs
    targets = [vinf.targets.eight_schools(centered, first.num_schools, compat) for centered, compat in group.variants]
    target = vinf.targets.side_by_side(targets, runs)
    seed = _seed(base_seed, group.key)
    options = {"learning_rate": LEARNING_RATE, "jit_compile": scale.jit_compile, **first.fit_options()}
    for attempt in range(ATTEMPTS):  # a new seed if a training diverges
        q = first.surrogate(runs * len(targets), seed + attempt)
        norms_before = vinf.diagnostics.layer_gradient_norms(target.log_prob, q, seed=seed) if gradient_norms else None
        try:
            fit = vinf.fit(target.log_prob, q, num_steps=scale.num_steps, sample_size=SAMPLE_SIZE,
                           seed=seed + attempt, progress=False, **options)
            break
        except FloatingPointError:
            if attempt == ATTEMPTS - 1:
                raise
    norms_after = vinf.diagnostics.layer_gradient_norms(target.log_prob, q, seed=seed) if gradient_norms else None
    started = time.perf_counter()
    scores = vinf.diagnostics.evaluate_runs(target.log_prob, q, scale.num_sets, scale.num_draws, seed=seed)
    evaluate_seconds = time.perf_counter() - started
    z, log_q = q.experimental_sample_and_log_prob(scale.num_draws, seed=(seed, 7))
    log_p = target.log_prob(z).numpy()
    z, log_q = z.numpy(), log_q.numpy()
    rows, draws = [], {f"trace_{group.key}.npz": dict(loss=fit.loss.astype(np.float32), best_step=fit.best_step)}
    for spec in group.specs:
        v = group.variants.index((spec.centered, _effective_compat(spec)))
        members = slice(v * runs, (v + 1) * runs)
        own = vinf.diagnostics.RepeatedRuns(khat=scores.khat[members], elbo=scores.elbo[members],
                                            khat_thesis=scores.khat_thesis[members])
        best = int(np.argmin(own.khat_thesis))  # the figures show the best training by k-hat (its estimator), as the thesis did
        member = v * runs + best
        draws[f"{spec.key}.npz"] = dict(z=z[:, member], log_q=log_q[:, member])
        thesis = THESIS.get((spec.table, spec.method, spec.centered, spec.num_schools, spec.num_flows))
        rows.append(dict(
            key=spec.key,
            **dataclasses.asdict(spec),
            **own.summary(),
            log_evidence=targets[v].log_evidence(),
            khat_runs=own.khat.tolist(),
            khat_thesis_runs=own.khat_thesis.tolist(),
            elbo_runs=own.elbo.tolist(),
            best_run=best,
            best_steps=fit.best_step[members].tolist(),
            posterior=posterior_summary(targets[v], z[:, members], log_p[:, members] - log_q[:, members]),
            **({} if norms_before is None else dict(gradient_norms=dict(
                before=norms_before[members].mean(axis=0).tolist(), after=norms_after[members].mean(axis=0).tolist()))),
            retried=attempt > 0,
            group=group.key,
            group_train_seconds=fit.seconds,
            group_evaluate_seconds=evaluate_seconds,
            thesis=None if thesis is None or not spec.thesis_compat else dict(zip(
                ("khat_mean", "khat_std", "elbo_mean", "elbo_std"), thesis)),
        ))
    return Outcome(rows=tuple(rows), arrays=draws)


SUMMARISED = ("mu", "tau", "log_tau", "theta_1")  # the posterior summaries of every row


def _summarised(target, z):
    """The quantities ``SUMMARISED`` at points ``z [..., dim]``."""
    values = target.constrain(z)
    return dict(mu=values["mu"], tau=values["tau"], log_tau=np.log(values["tau"]), theta_1=values["theta"][..., 0])


def posterior_summary(target, z, log_weights):
    """Posterior mean and sd of ``SUMMARISED`` from draws ``z [S, R, dim]`` of R trainings, averaged over trainings:
    raw (``mean``, ``sd``) and with PSIS-smoothed importance weights (``mean_weighted``, ``sd_weighted``)."""
    import arviz as az

    smoothed, _ = az.psislw(np.moveaxis(log_weights, 0, -1).astype(np.float64))  # [R, S], normalised
    weights = np.exp(np.moveaxis(smoothed, -1, 0))
    out = {}
    for name, x in _summarised(target, z.astype(np.float64)).items():
        mean_w = np.sum(weights * x, axis=0)
        out[name] = dict(
            mean=float(np.mean(x.mean(axis=0))),
            sd=float(np.mean(x.std(axis=0))),
            mean_weighted=float(np.mean(mean_w)),
            sd_weighted=float(np.mean(np.sqrt(np.sum(weights * (x - mean_w) ** 2, axis=0)))),
        )
    return out


NUTS_SCHOOLS = (8, 2, 1)  # the posteriors the figures compare against
NUTS_POSTERIOR = ("mu", "tau", "theta")


def _nuts_file(num_schools):
    return f"nuts_J{num_schools}.npz"


def sample_nuts(num_schools, scale, seed):
    """A job: NUTS on the non-centered true model (eq. 100) until it converges (``vinf.mcmc.eight_schools_reference``);
    its draws ``[chain, draw, ...]``, divergences and diagnostics."""
    import vinf

    idata, diagnostics = vinf.mcmc.eight_schools_reference(num_schools, draws=scale.nuts_draws,
                                                           tune=scale.nuts_tune, seed=seed)
    arrays = {name: idata.posterior[name].values for name in NUTS_POSTERIOR}
    arrays["diverging"] = idata.sample_stats["diverging"].values
    return Outcome(arrays={_nuts_file(num_schools): arrays}, extra={f"nuts_diagnostics_J{num_schools}": diagnostics})


def training_jobs(scale, specs, seed, gradient_norms=False):
    """One job per group of rows (cost: relative training time, to start the longest first)."""
    return [Job(group.key, train_group, (group, scale, seed, gradient_norms), cost=group.cost())
            for group in groups(specs)]


def jobs(scale, specs, seed):
    """Every group's training, and the NUTS baselines (cost: about the seconds each takes, divided by 0.2)."""
    nuts = [Job(f"nuts-J{j}", sample_nuts, (j, scale, seed), cost=j * (scale.nuts_draws + scale.nuts_tune) / 250)
            for j in NUTS_SCHOOLS]
    return training_jobs(scale, specs, seed) + nuts


def reference_results(run):
    """The eight-schools rows (by key) and draws folder of the same scale and seed, which the ablations and
    beyond-the-study experiments build on; exits naming the command to run first if there are none."""
    from experiments._common import FIGURES, REPO
    from experiments._files import read_json

    folder = (REPO / "runs" / "quick" / NAME) if run.quick else (FIGURES / NAME)
    saved = read_json(folder / "results.json")
    command = f"python -m experiments.eight_schools{' --quick' if run.quick else ''} --seed {run.seed}"
    if saved is None or saved.get("seed") != run.seed or saved.get("quick") != run.quick:
        raise SystemExit(f"{run.name} builds on the eight-schools results of the same scale and seed: run "
                         f"`{command}` first ({folder / 'results.json'} has {'none' if saved is None else 'others'})")
    return {r["key"]: r for r in saved["rows"]}, folder / "draws"


def load_nuts(run):
    """The NUTS baselines by number of schools, as arviz InferenceData."""
    import arviz as az

    posteriors = {}
    for j in NUTS_SCHOOLS:
        with np.load(run.draws / _nuts_file(j)) as data:
            posteriors[j] = az.from_dict(posterior={name: data[name] for name in NUTS_POSTERIOR},
                                         sample_stats={"diverging": data["diverging"]})
    return posteriors


# ------------------------------------------------------------------ tables


def _fmt(mean, sd):
    """Mean to two decimals and sd to three, as the thesis's tables print them."""
    return f"{mean:.2f} ± {sd:.3f}"


def table_markdown(rows, table, judge=True):
    """One thesis table, both targets side by side: k-hat by both estimators, the ELBO, log Z, the thesis's
    values and (when ``judge``: not at quick scale) the z of ours against them (``experiments.agreement``)."""
    z = lambda r, q: agreement.format_z(agreement.z_thesis(r, q)) if judge else ""  # noqa: E731
    rows = sorted(
        (r for r in rows if r["table"] == table),
        key=lambda r: (not r["thesis_compat"], r["method"], r["num_flows"], not r["centered"]),
    )
    head = ("| target | method | centered | K | k̂ 2015 PSIS | k̂ ArviZ | ELBO | log Z | gap "
            "| k̂ thesis | ELBO thesis | z k̂ | z ELBO |")
    lines = [head, "|" + " --- |" * 13]
    for r in rows:
        thesis = r.get("thesis")
        lines.append(
            f"| {'thesis' if r['thesis_compat'] else 'true model'} | {METHOD_LABELS[r['method']]} "
            f"| {'yes' if r['centered'] else 'no'} | {r['num_flows'] or '–'} "
            f"| {_fmt(r['khat_thesis_mean'], r['khat_thesis_std'])} | {_fmt(r['khat_mean'], r['khat_std'])} "
            f"| {_fmt(r['elbo_mean'], r['elbo_std'])} "
            f"| {r['log_evidence']:.2f} | {r['log_evidence'] - r['elbo_mean']:.2f} "
            f"| {_fmt(thesis['khat_mean'], thesis['khat_std']) if thesis else ''} "
            f"| {_fmt(thesis['elbo_mean'], thesis['elbo_std']) if thesis else ''} "
            f"| {z(r, 'khat')} | {z(r, 'elbo')} |"
        )
    return "\n".join(lines)


def headline_markdown(rows):
    """The study's reported rows of Tables II-IV: ours beside the thesis's on its target, and on the true model."""
    by_key = {r["key"]: r for r in rows}
    head = ("| table | method | centered | k̂ ours (2015 PSIS) | k̂ thesis | ELBO ours | ELBO thesis | log Z "
            "| k̂ true model | ELBO true model | log p(y) |")
    lines = [head, "|" + " --- |" * 11]
    for r in rows:
        if r["table"] == "V" or not r.get("thesis"):
            continue
        true = by_key[r["key"].removesuffix("-thesis") + "-true"]
        t = r["thesis"]
        label = METHOD_LABELS[r["method"]] + (f" K={r['num_flows']}" if r["num_flows"] else "")
        label += ", one school" if r["num_schools"] == 1 else ""
        lines.append(
            f"| {r['table']} | {label} | {'yes' if r['centered'] else 'no'} "
            f"| {_fmt(r['khat_thesis_mean'], r['khat_thesis_std'])} | {_fmt(t['khat_mean'], t['khat_std'])} "
            f"| {_fmt(r['elbo_mean'], r['elbo_std'])} | {_fmt(t['elbo_mean'], t['elbo_std'])} | {r['log_evidence']:.2f} "
            f"| {_fmt(true['khat_thesis_mean'], true['khat_thesis_std'])} | {_fmt(true['elbo_mean'], true['elbo_std'])} "
            f"| {true['log_evidence']:.2f} |"
        )
    return "\n".join(lines)


def data_table():
    from vinf.targets import EIGHT_SCHOOLS_SIGMA, EIGHT_SCHOOLS_Y

    lines = ["| school | estimated effect y_i | standard error σ_i |", "| --- | ---: | ---: |"]
    lines += [f"| {i + 1} | {y:g} | {s:g} |" for i, (y, s) in enumerate(zip(EIGHT_SCHOOLS_Y, EIGHT_SCHOOLS_SIGMA))]
    return "\n".join(lines)


TABLE_TITLES = {
    "II": "Table II: mean-field ADVI, eight schools",
    "III": "Table III: ADVI + flows, eight schools",
    "IV": "Table IV: ADVI + flows, first school only",
    "V": "Table V: ADVI + flows by depth, first two schools, centered",
}


def work(run):
    """Train what is not saved yet, then write Tables I-V, Figures 37-48 and the report."""
    from experiments import eight_schools_figures as figures
    from experiments import eight_schools_report as report

    scale = run.scale
    specs = table_specs(scale)
    print(f"eight schools: {len(specs)} table rows, {scale.num_runs} trainings x {scale.num_steps} steps each")
    run.save_table(data_table(), "tableI.md", ["tableI"])
    run.run_jobs(jobs(scale, specs, run.seed), "trainings and NUTS")
    rows = [run.cached_row(s.key) for s in specs]
    for table, title in TABLE_TITLES.items():
        run.save_table(f"**{title}**\n\n" + table_markdown(rows, table, judge=not run.quick), f"table{table}.md",
                       [f"table{table}"])
    posteriors = load_nuts(run)
    diagnostics = {j: run.cached_extra(f"nuts_diagnostics_J{j}") for j in NUTS_SCHOOLS}
    figures.make_all(run, scale, specs, rows, posteriors)
    report.write_report(run, rows, posteriors, {j: d for j, d in diagnostics.items() if d is not None})
    run.write_text("headline.md", headline_markdown(rows) + "\n")


EXPERIMENT = Experiment(NAME, __doc__, FULL, QUICK, work)
main = EXPERIMENT.main

if __name__ == "__main__":
    main()
