"""The section VI.B protocol, shared by the eight-schools experiment, its ablations and what goes beyond it.

A table row (``Spec``) is a family on one version of the eight-schools model:
centered or not, J schools, the study's target (``thesis_compat=True``, which
its numbers belong to) or the true model. Every row is R trainings of
``num_steps`` Adam steps (S = 500 draws a step, learning rate 1e-2); after
training, ``num_sets`` sets of ``num_draws`` draws each give k-hat (both
estimators) and the ELBO, averaged per training; the row reports their mean
and sd over trainings, beside the exact log evidence of its target. Rows that
differ only in their target train together as one batched surrogate
(``Group``); a group is one job (``train_group``). NUTS on the non-centered
true model is the reference (``sample_nuts``).
"""
import dataclasses
import time

import numpy as np

import tensorflow_probability as tfp

import vinf
from experiments.common import prose, thesis, variants
from experiments.common.run import finished_results
from experiments.common.runner import Job, Outcome
from experiments.common.seeds import Stream, job_seed

__all__ = ["Scale", "FULL", "QUICK", "Spec", "Group", "groups", "training_jobs", "nuts_jobs", "train_group", "sample_nuts",
           "reference_results", "load_nuts", "load_draws", "posterior_values", "quick_banner",
           "LEARNING_RATE", "SAMPLE_SIZE", "METHOD_LABELS", "NUTS_SCHOOLS", "EIGHT_SCHOOLS"]

EIGHT_SCHOOLS = "eight_schools"  # the experiment whose rows and NUTS draws the others build on
tfb, tfd = tfp.bijectors, tfp.distributions
LEARNING_RATE = 1e-2  # the thesis's (section VI.B), unless a variant says otherwise
SAMPLE_SIZE = 500  # draws per step S, the thesis's
ATTEMPTS = 3  # trainings of a group before its divergence is an error (the study's planar start diverges at times)
METHOD_LABELS = {"mean_field": "ADVI", "planar": "planar", "radial": "radial"}  # the tables name them as the thesis

@dataclasses.dataclass(frozen=True)
class Scale:
    """How much of the protocol a run does: trainings, steps, scoring draws, the depths, NUTS."""

    num_steps: int
    num_runs: int
    num_sets: int
    num_draws: int
    deep: int  # K of Tables III and IV
    depths: tuple  # K of Table V
    nuts_draws: int
    nuts_tune: int
    jit_compile: bool = True  # XLA's compile time pays off over thousands of steps, not over a quick run's few hundred


FULL = Scale(15000, 5, 50, 5000, 64, (10, 20, 30, 40, 60, 80, 128), 5000, 1000)  # the thesis's
QUICK = Scale(300, 2, 2, 500, 4, (2, 4), 300, 300, jit_compile=False)  # the same code path, in minutes


def quick_banner(run, scale):
    """A quick run's first paragraph, with the protocol's reduced scale."""
    return prose.quick_banner(run, f"{scale.num_runs} trainings of {scale.num_steps} steps, {scale.num_sets} sets of "
                                   f"{scale.num_draws} draws, K = {scale.deep}, NUTS {scale.nuts_draws} draws")


@dataclasses.dataclass(frozen=True)
class Spec:
    """One table row: a method on one version of the model and target, trained one way (``variant``)."""

    table: str
    method: str  # a family of vinf.surrogates: "mean_field" (ADVI), "planar", "radial", ...
    centered: bool
    num_schools: int
    num_flows: int  # 0 for families without layers
    thesis_compat: bool
    variant: variants.Variant = variants.DEFAULT

    @property
    def key(self):
        param = "c" if self.centered else "nc"
        target = "thesis" if self.thesis_compat else "true"
        tail = "" if self.variant == variants.DEFAULT else f"-{self.variant.name}"
        return f"{self.table}-{self.method}-{param}-J{self.num_schools}-K{self.num_flows}-{target}{tail}"

    @property
    def effective_compat(self):
        """With one school the study's target is the true model (its hyperprior is counted J = 1 times)."""
        return self.thesis_compat and self.num_schools > 1

    def surrogate(self, num_runs, seed):
        options = dict(num_flows=self.num_flows) if self.num_flows else {}
        options.update(self.variant.surrogate_options)
        dim = self.num_schools + 2
        if self.method not in MODEL_INFORMED:
            return vinf.surrogates.get(self.method, dim, seed=seed, batch_shape=[num_runs], **options)
        model = vinf.targets.from_joint_distribution(
            vinf.targets.eight_schools_model(self.centered, self.num_schools),
            y=vinf.targets.EIGHT_SCHOOLS_Y[: self.num_schools])
        q = vinf.surrogates.get(self.method, dim, seed=seed, batch_shape=[num_runs], target=model, **options)
        return tfd.TransformedDistribution(q, tfb.Permute(model_to_protocol_order(model.names, self.num_schools)),
                                           name=self.method)

    def fields(self):
        """The row's own fields, as ``results.json`` records them."""
        return dict(table=self.table, method=self.method, centered=self.centered, num_schools=self.num_schools,
                    num_flows=self.num_flows, thesis_compat=self.thesis_compat, variant=self.variant.name)


MODEL_INFORMED = ("mif",)  # families that read the model's hierarchy (vinf.surrogates.mif): built on its model


def model_to_protocol_order(model_names, num_schools):
    """The permutation taking a model target's coordinates (``from_joint_distribution``: ``mu``, ``tau``,
    ``theta[i]`` ..., ``tau`` unconstrained as log tau) to the protocol's (``vinf.targets.eight_schools``:
    ``theta[i]`` or ``theta_tilde[i]`` ..., ``mu``, ``log_tau``)."""
    latent = [name for name in model_names if name not in ("mu", "tau")]
    order = latent[:num_schools] + ["mu", "tau"]
    return [model_names.index(name) for name in order]


LAYER_COST = {"radial": 1.6, "full_rank": 1.5, "iaf": 30.0, "realnvp": 30.0, "spline": 250.0, "mif": 4.0}


@dataclasses.dataclass(frozen=True)
class Group:
    """Table rows that train together: one method and depth on one number of schools, trained one way.

    Its targets (centered or not, the study's target or the true model) differ
    only in the target, so their ``R`` trainings each are one batched surrogate
    fitted to ``vinf.targets.side_by_side``: one compiled step instead of one per
    row. With one school the study's target is the true model, so both rows
    share the same trainings.
    """

    specs: tuple

    @property
    def first(self):
        return self.specs[0]

    @property
    def key(self):
        first = self.first
        tail = "" if first.variant == variants.DEFAULT else f"-{first.variant.name}"
        return f"{first.table}-{first.method}-J{first.num_schools}-K{first.num_flows}{tail}"

    @property
    def seed_key(self):
        """What seeds the group: its key without the variant, so that a variant trains from the same draws (and,
        where it leaves the start alone, the same start) as our default: rows that differ by one choice are paired."""
        first = self.first
        return f"{first.table}-{first.method}-J{first.num_schools}-K{first.num_flows}"

    @property
    def versions(self):
        """The distinct targets trained, as ``(centered, thesis_compat)``."""
        return tuple(dict.fromkeys((s.centered, s.effective_compat) for s in self.specs))

    def targets(self):
        return [vinf.targets.eight_schools(centered, self.first.num_schools, compat) for centered, compat in self.versions]

    def cost(self):
        """A relative estimate of the training time, to start the longest groups first
        (``LAYER_COST``: a layer's cost in planar layers, measured roughly)."""
        first = self.first
        per_layer = LAYER_COST.get(first.method, 1.0)
        return len(self.versions) * max(first.num_flows, 2) * (first.num_schools + 2) * per_layer


def groups(specs):
    """The specs grouped by (table, method, schools, depth, variant), in first-seen order."""
    by_key = {}
    for spec in specs:
        by_key.setdefault((spec.table, spec.method, spec.num_schools, spec.num_flows, spec.variant), []).append(spec)
    return [Group(tuple(members)) for members in by_key.values()]


# ------------------------------------------------------------------ one group: fit, score, rows


@dataclasses.dataclass
class _Trained:
    q: object
    fit: object
    retried: bool
    norms: dict  # {"before": [members, K], "after": ...} or empty
    diverged: str = ""  # the last attempt's error, when every attempt diverged (and that is a result)


def fit_group(group, scale, target, seed, gradient_norms=False, divergence_is_a_result=False):
    """Train a group's ``R x versions`` members on ``target`` (their side-by-side target), with a new seed
    after a divergence (``ATTEMPTS`` in all); with ``gradient_norms``, each layer's gradient norm before the
    first step and at the checkpoint (``vinf.diagnostics.layer_gradient_norms``). When every attempt diverges
    the error is raised, or, with ``divergence_is_a_result``, returned as the outcome (``_Trained.diverged``)."""
    runs = scale.num_runs
    options = {"learning_rate": LEARNING_RATE, "jit_compile": scale.jit_compile, **group.first.variant.fit_options}
    norms = {}
    for attempt in range(ATTEMPTS):
        q = group.first.surrogate(runs * len(group.versions), seed + attempt)
        if gradient_norms:
            norms["before"] = vinf.diagnostics.layer_gradient_norms(target.log_prob, q, seed=seed)
        try:
            fit = vinf.fit(target.log_prob, q, num_steps=scale.num_steps, sample_size=SAMPLE_SIZE,
                           seed=seed + attempt, progress=False, **options)
            break
        except FloatingPointError as error:
            if attempt == ATTEMPTS - 1:
                if divergence_is_a_result:
                    return _Trained(None, None, True, {}, diverged=str(error))
                raise
    if gradient_norms:
        norms["after"] = vinf.diagnostics.layer_gradient_norms(target.log_prob, q, seed=seed)
    return _Trained(q, fit, attempt > 0, norms)


@dataclasses.dataclass
class _Scores:
    runs: object  # vinf.diagnostics.RepeatedRuns over every member
    seconds: float
    z: np.ndarray  # [N, members, dim]: draws the figures show
    log_q: np.ndarray
    log_p: np.ndarray


def score_group(q, target, scale, seed):
    """The protocol's scores of every member (``num_sets`` sets of ``num_draws`` draws), and one set of draws
    for the figures and the posterior summaries."""
    started = time.perf_counter()
    runs = vinf.diagnostics.evaluate_runs(target.log_prob, q, scale.num_sets, scale.num_draws, seed=seed,
                                          jit_compile=scale.jit_compile)
    seconds = time.perf_counter() - started
    z, log_q = q.experimental_sample_and_log_prob(scale.num_draws, seed=(seed, Stream.SCHOOLS_DRAWS))
    log_p = target.log_prob(z).numpy()
    return _Scores(runs, seconds, z.numpy(), log_q.numpy(), log_p)


def row(spec, group, members, trained, scores, target, seed):
    """The ``results.json`` row of one spec, from its members of the group (a slice), and its best training's
    draws (by k-hat, the study's estimator: the figures show it, as the thesis did)."""
    own = scores.runs.select(members)
    best = int(np.argmin(own.khat_thesis))
    norms = trained.norms
    fields = dict(
        key=spec.key,
        **spec.fields(),
        **own.summary(),
        log_evidence=target.log_evidence(),
        khat_runs=own.khat.tolist(),
        khat_thesis_runs=own.khat_thesis.tolist(),
        elbo_runs=own.elbo.tolist(),
        khat_set_sd_runs=own.khat_set_sd.tolist(),  # each training's sd over its draw sets (ddof 0)
        khat_thesis_set_sd_runs=own.khat_thesis_set_sd.tolist(),
        elbo_set_sd_runs=own.elbo_set_sd.tolist(),
        best_run=best,
        best_steps=trained.fit.best_step[members].tolist(),
        posterior=posterior_summary(target, scores.z[:, members], scores.log_p[:, members] - scores.log_q[:, members]),
        **({} if not norms else dict(gradient_norms=dict(
            before=norms["before"][members].mean(axis=0).tolist(), after=norms["after"][members].mean(axis=0).tolist()))),
        retried=trained.retried,
        seed=seed,
        group=group.key,
        group_train_seconds=trained.fit.seconds,
        group_evaluate_seconds=scores.seconds,
    )
    member = members.start + best
    return fields, dict(z=scores.z[:, member], log_q=scores.log_q[:, member])


def diverged_row(spec, group, target, seed, error):
    """The ``results.json`` row of a spec whose group diverged in each of its ``ATTEMPTS`` trainings: no scores,
    the last attempt's error (``"diverged"``), which readers of rows skip and report as such."""
    return dict(key=spec.key, **spec.fields(), diverged=error, attempts=ATTEMPTS,
                log_evidence=target.log_evidence(), seed=seed, group=group.key)


def train_group(group, scale, base_seed, gradient_norms=False, divergence_is_a_result=False):
    """A job: train and score a group's rows by the section VI.B protocol; each row's best training's draws
    and the group's loss traces (see ``fit_group``, ``score_group``, ``row``; ``diverged_row`` when every
    attempt diverged and ``divergence_is_a_result``)."""
    runs = scale.num_runs
    targets = group.targets()
    target = vinf.targets.side_by_side(targets, runs)
    seed = job_seed(base_seed, group.seed_key)
    trained = fit_group(group, scale, target, seed, gradient_norms, divergence_is_a_result)
    if trained.diverged:
        return Outcome(rows=tuple(
            diverged_row(spec, group, targets[group.versions.index((spec.centered, spec.effective_compat))], seed,
                         trained.diverged) for spec in group.specs))
    scores = score_group(trained.q, target, scale, seed)
    rows, draws = [], {f"trace_{group.key}.npz": dict(loss=trained.fit.loss.astype(np.float32),
                                                      best_step=trained.fit.best_step)}
    for spec in group.specs:
        v = group.versions.index((spec.centered, spec.effective_compat))
        fields, best_draws = row(spec, group, slice(v * runs, (v + 1) * runs), trained, scores, targets[v], seed)
        rows.append(fields)
        draws[f"{spec.key}.npz"] = best_draws
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


def training_jobs(scale, specs, seed, gradient_norms=False, divergence_is_a_result=False):
    """One job per group of rows (cost: relative training time, to start the longest first); with
    ``divergence_is_a_result`` a group that diverges in every attempt gives ``diverged_row`` s, not an error."""
    return [Job(group.key, train_group, (group, scale, seed, gradient_norms, divergence_is_a_result),
                cost=group.cost()) for group in groups(specs)]


# ------------------------------------------------------------------ NUTS, the reference

NUTS_SCHOOLS = (8, 2, 1)  # the posteriors the figures compare against
NUTS_POSTERIOR = ("mu", "tau", "theta")


def nuts_file(num_schools):
    return f"nuts_J{num_schools}.npz"


def sample_nuts(num_schools, scale, seed):
    """A job: NUTS on the non-centered true model (eq. 100) until it converges (``vinf.mcmc.eight_schools_reference``);
    its draws ``[chain, draw, ...]``, divergences and diagnostics."""
    idata, diagnostics = vinf.mcmc.eight_schools_reference(num_schools, draws=scale.nuts_draws,
                                                           tune=scale.nuts_tune, seed=seed)
    arrays = {name: idata.posterior[name].values for name in NUTS_POSTERIOR}
    arrays["diverging"] = idata.sample_stats["diverging"].values
    return Outcome(arrays={nuts_file(num_schools): arrays}, extra={f"nuts_diagnostics_J{num_schools}": diagnostics})


def nuts_jobs(scale, seed):
    """The NUTS baselines (cost: about the seconds each takes, divided by 0.2)."""
    return [Job(f"nuts-J{j}", sample_nuts, (j, scale, seed), cost=j * (scale.nuts_draws + scale.nuts_tune) / 250)
            for j in NUTS_SCHOOLS]


def load_nuts(folder):
    """The NUTS baselines in ``folder`` by number of schools, as arviz InferenceData."""
    import arviz as az

    posteriors = {}
    for j in NUTS_SCHOOLS:
        with np.load(folder / nuts_file(j)) as data:
            posteriors[j] = az.from_dict(posterior={name: data[name] for name in NUTS_POSTERIOR},
                                         sample_stats={"diverging": data["diverging"]})
    return posteriors


def posterior_values(idata, name):
    """A posterior variable's draws with the chains pooled: ``[chains * draws, *shape]``."""
    return idata.posterior[name].values.reshape(-1, *idata.posterior[name].shape[2:])


def load_draws(folder, key, centered, num_schools):
    """A row's best training's draws as ``theta [N, J]``, ``mu``, ``log_tau``, ``log_q``."""
    data = np.load(folder / f"{key}.npz")
    z = data["z"].astype(np.float64)
    latent, mu, log_tau = z[:, :num_schools], z[:, num_schools], z[:, num_schools + 1]
    theta = latent if centered else mu[:, None] + np.exp(log_tau)[:, None] * latent
    return theta, mu, log_tau, data["log_q"]


# ------------------------------------------------------------------ building on the eight-schools run


def reference_results(run, with_draws=False):
    """The eight-schools rows (by key, each with its ``thesis`` entry) and draws folder of the same scale and
    seed, which the ablations and beyond-the-study experiments build on (``run.finished_results``: it exits
    naming the command to run first if there are none, they are unfinished, or ``with_draws`` and a draw file
    is missing)."""
    saved, folder = finished_results(run, EIGHT_SCHOOLS, with_draws)
    return {r["key"]: thesis.attach(r) for r in saved["rows"]}, folder / "draws"
