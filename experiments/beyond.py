"""Beyond the study: the flows its discussion asked for (section VII), on eight schools, by its own protocol.

``python -m experiments.beyond [--quick | --full] [--out DIR] [--seed N] [--force] [--jobs N | --dask N | --scheduler ADDRESS]``

Table VI sets every family of ``vinf.surrogates`` beside the study's: mean field
and full rank (baselines), planar K = 64 (the study's), radial, IAF, RealNVP,
a rational-quadratic spline flow, and planar flows with a leaky-ReLU
non-linearity, on eight schools (J = 8), centered and not, on the true model and
the study's target; each row is R = 5 trainings of 15000 steps (S = 500),
scored by k-hat and the ELBO over 50 sets of 5000 draws, as Tables II-V.
Mean field, planar and radial rows are those of ``python -m
experiments.eight_schools`` (which must have run first, and whose NUTS draws
are the reference). The depth question: Table V's sweep extended to K = 256,
with tanh and leaky ReLU, at the study's learning rate and at 3e-3, with each
layer's gradient norm before training and at the checkpoint. The gradient
question: "sticking the landing" beside the plain reparameterisation gradient.
"""
import dataclasses

import numpy as np

from experiments import agreement
from experiments import eight_schools as es
from experiments._common import Experiment

NAME = "beyond"


@dataclasses.dataclass(frozen=True)
class Scale:
    protocol: es.Scale  # trainings, steps, draws: the study's (Tables II-V)
    neural_layers: int  # layers of the IAF, RealNVP and spline flows
    deep_depths: tuple  # Table V's tanh rows rerun or extended, on the study's target, with gradient norms
    leaky_depths: tuple  # depths of the leaky-ReLU planar sweep
    small_lr_depths: tuple  # depths also trained at learning rate 3e-3
    norm_depths: tuple  # depths whose per-layer gradient norms are recorded


FULL = Scale(es.FULL, 4, (128, 256), (10, 40, 128, 256), (256,), (128, 256))
QUICK = Scale(es.QUICK, 2, (4, 8), (2, 8), (8,), (8,))

# Table VI: (family label, method, K at full scale or None for the family's own, variant)
FAMILIES = (
    ("ADVI (mean field)", "mean_field", 0, "default"),
    ("full rank", "full_rank", 0, "default"),
    ("planar (tanh)", "planar", None, "default"),
    ("planar (leaky ReLU)", "planar", None, "leaky_relu"),
    ("radial", "radial", None, "default"),
    ("IAF", "iaf", "neural", "net32"),
    ("RealNVP", "realnvp", "neural", "net32"),
    ("spline", "spline", 2, "net32_xla"),  # two layers: a spline step costs about ten planar K = 64 steps
)
NEURAL = {"iaf", "realnvp", "spline"}  # trained on the true model only: the study's target adds nothing for them
FROM_EIGHT_SCHOOLS = {("mean_field", "default"): "II", ("planar", "default"): "III", ("radial", "default"): "III"}
STL = (("mean_field", 0, "stl"), ("full_rank", 0, "stl"))
LABELS = {(m, v): label for label, m, _, v in FAMILIES} | {
    ("mean_field", "stl"): "ADVI (mean field), STL", ("full_rank", "stl"): "full rank, STL"}


def _depth(scale, k):
    return scale.protocol.deep if k is None else scale.neural_layers if k == "neural" else k


def table6_specs(scale):
    """The rows Table VI trains here (the study's families come from the eight-schools run)."""
    specs = []
    for _, method, k, variant in FAMILIES + tuple((None, m, k, v) for m, k, v in STL):
        if (method, variant) in FROM_EIGHT_SCHOOLS:
            continue
        for compat in (False,) if method in NEURAL else (True, False):
            for centered in (True, False):
                specs.append(es.Spec("VI", method, centered, 8, _depth(scale, k), compat, variant))
    return specs


def depth_specs(scale):
    """The depth question: Table V's centered two-school rows, deeper, with leaky ReLU and at 3e-3."""
    specs = [es.Spec("V", "planar", True, 2, k, True) for k in scale.deep_depths]
    specs += [es.Spec("V", "planar", True, 2, k, True, "leaky_relu") for k in scale.leaky_depths]
    specs += [es.Spec("V", "planar", True, 2, k, True, "lr_3e-3") for k in scale.small_lr_depths]
    return specs


def jobs(scale, seed):
    norm = [s for s in depth_specs(scale) if s.num_flows in scale.norm_depths]
    plain = [s for s in depth_specs(scale) if s.num_flows not in scale.norm_depths]
    return (es.training_jobs(scale.protocol, table6_specs(scale) + plain, seed)
            + es.training_jobs(scale.protocol, norm, seed, gradient_norms=True))


# ------------------------------------------------------------------ Table VI


def parameter_count(method, num_flows, variant, num_schools=8):
    """Trainable numbers of one surrogate of the row's family."""
    q = es.Spec("VI", method, True, num_schools, num_flows, False, variant).surrogate(1, 0)
    q.sample(1, seed=(0, 0))  # builds lazily created variables
    return sum(int(np.prod(v.shape)) for v in {v.ref(): v for v in q.trainable_variables}.values())


NUTS_SUMMARY = ("mu", "tau", "log_tau", "theta_1")


def nuts_reference(draws):
    """Mean and sd of each summarised quantity under NUTS (eight schools, J = 8)."""
    with np.load(draws / "nuts_J8.npz") as data:
        mu, tau, theta = (data[n].reshape(-1, *data[n].shape[2:]) for n in ("mu", "tau", "theta"))
    values = dict(mu=mu, tau=tau, log_tau=np.log(tau), theta_1=theta[:, 0])
    return {n: dict(mean=float(v.mean()), sd=float(v.std())) for n, v in values.items()}


def table6_rows(scale, own, baseline):
    """Every Table VI row, labelled with ``family``, in FAMILIES order then STL."""
    rows = []
    for method, k, variant in [(m, k, v) for _, m, k, v in FAMILIES] + list(STL):
        table = FROM_EIGHT_SCHOOLS.get((method, variant), "VI")
        for compat in (True, False):
            for centered in (True, False):
                key = es.Spec(table, method, centered, 8, _depth(scale, k), compat, variant).key
                row = (baseline if table != "VI" else own).get(key)
                if row is not None:
                    rows.append(dict(row, family=LABELS[(method, variant)], variant=variant))
    return rows


def _error(row, name, nuts, weighted):
    p = row.get("posterior", {}).get(name)
    if p is None:
        return None
    tail = "_weighted" if weighted else ""
    ref = nuts[name]
    return (p["mean" + tail] - ref["mean"]) / ref["sd"], (p["sd" + tail] - ref["sd"]) / ref["sd"]


def table6_markdown(rows, nuts, params, judge=True):
    head = ("| family | target | centered | K | parameters | k̂ ArviZ | k̂ 2015 | ELBO | gap to log Z "
            "| μ mean, sd err (raw / PSIS) | log τ | θ₁ | train s |")
    lines = [head, "|" + " --- |" * 13]
    for r in rows:
        errs = []
        for name in ("mu", "log_tau", "theta_1"):
            raw, weighted = _error(r, name, nuts, False), _error(r, name, nuts, True)
            errs.append("" if raw is None else f"{raw[0]:+.2f}, {raw[1]:+.2f} / {weighted[0]:+.2f}, {weighted[1]:+.2f}")
        lines.append(
            f"| {r['family']} | {'study' if r['thesis_compat'] else 'true'} | {'yes' if r['centered'] else 'no'} "
            f"| {r['num_flows'] or '–'} | {params[(r['method'], r['num_flows'], r['variant'])]} "
            f"| {r['khat_mean']:.2f} ± {r['khat_std']:.3f} | {r['khat_thesis_mean']:.2f} "
            f"| {r['elbo_mean']:.2f} ± {r['elbo_std']:.3f} | {r['log_evidence'] - r['elbo_mean']:.3f} "
            f"| {errs[0]} | {errs[1]} | {errs[2]} | {r['group_train_seconds']:.0f} |")
    return "\n".join(lines)


# ------------------------------------------------------------------ sentences


MOONSHOT_KHAT, MOONSHOT_GAP = 0.5, 0.05


def moonshot_text(rows):
    """The moonshot, with its result either way: mean k-hat < 0.5 centered and ELBO within 0.05 nats
    non-centered, on the true model, by one family."""
    true = [r for r in rows if not r["thesis_compat"]]
    by_family = {}
    for r in true:
        by_family.setdefault(r["family"], {})[r["centered"]] = r
    reached, lines = [], []
    for family, pair in by_family.items():
        if True not in pair or False not in pair:
            continue
        c, nc = pair[True], pair[False]
        gap = nc["log_evidence"] - nc["elbo_mean"]
        ok = c["khat_mean"] < MOONSHOT_KHAT and gap <= MOONSHOT_GAP
        reached += [family] if ok else []
        lines.append(f"{family}: centered k̂ {c['khat_mean']:.2f} (2015 PSIS {c['khat_thesis_mean']:.2f}), "
                     f"non-centered gap {gap:.3f} nats")
    best_c = min((pair[True] for pair in by_family.values() if True in pair), key=lambda r: r["khat_mean"])
    best_nc = min((pair[False] for pair in by_family.values() if False in pair),
                  key=lambda r: r["log_evidence"] - r["elbo_mean"])
    verdict = (f"**Reached** by {', '.join(reached)}." if reached else
               f"**Not reached.** The lowest centered k̂ is {best_c['khat_mean']:.2f} ({best_c['family']}), the "
               f"smallest non-centered gap {best_nc['log_evidence'] - best_nc['elbo_mean']:.3f} nats "
               f"({best_nc['family']}).")
    return (f"The moonshot: one family with mean k̂ (ArviZ) < {MOONSHOT_KHAT} on the centered true model and an "
            f"ELBO within {MOONSHOT_GAP} nats of log p(y) non-centered. {verdict} Tried: " + "; ".join(lines) + ".\n")


def depth_rows(rows, variant, compat=True):
    return sorted((r for r in rows if r["table"] == "V" and r["variant"] == variant and r["thesis_compat"] == compat),
                  key=lambda r: r["num_flows"])


def depth_text(rows, baseline_rows):
    """Answer the study's depth question from the numbers: vanishing gradients, optimisation, or noise."""
    own = {r["num_flows"]: r for r in depth_rows(rows, "default")}  # rerun here with gradient norms: these count
    tanh = sorted([r for r in baseline_rows if r["table"] == "V" and r["method"] == "planar" and r["thesis_compat"]
                   and r.get("variant", "default") == "default" and r["num_flows"] not in own] + list(own.values()),
                  key=lambda r: r["num_flows"])
    leaky, slow = depth_rows(rows, "leaky_relu"), depth_rows(rows, "lr_3e-3")
    text = []
    series = lambda sel: ", ".join(f"{r['khat_thesis_mean']:.2f} (K = {r['num_flows']})" for r in sel)  # noqa: E731
    text.append(f"k̂ (2015 PSIS) on the study's target, planar tanh: {series(tanh)}; leaky ReLU: {series(leaky)}; "
                f"tanh at learning rate 3e-3: {series(slow)}.")
    if len(tanh) >= 2:
        a, b = tanh[-2], tanh[-1]
        z = agreement.z_rows(b, a, "khat")
        text.append(f"From K = {a['num_flows']} to {b['num_flows']} tanh's k̂ moves by "
                    f"{b['khat_thesis_mean'] - a['khat_thesis_mean']:+.2f} (z {agreement.format_z(z)}): "
                    + ("a further gain." if z <= -agreement.Z_AGREE else "a loss." if z >= agreement.Z_AGREE
                       else "within the noise of R = 5 trainings."))
    for r in rows:
        norms = r.get("gradient_norms")
        if norms and r["variant"] in ("default", "leaky_relu") and r["thesis_compat"]:
            before, after = np.asarray(norms["before"]), np.asarray(norms["after"])
            k = len(before)
            ratio_b = before[: k // 8].mean() / before[-(k // 8):].mean()
            ratio_a = after[: k // 8].mean() / after[-(k // 8):].mean()
            text.append(f"K = {k}, {LABELS[('planar', r['variant'])]}: the first eighth of the layers gets "
                        f"{ratio_b:.2f}× the gradient norm of the last eighth before training and {ratio_a:.2f}× at "
                        "the checkpoint" + (" (the first layers' gradients vanish)." if min(ratio_b, ratio_a) < 0.1
                                            else " (no vanishing towards the first layers)."))
    return " ".join(text) + "\n"


def stl_text(rows):
    parts = []
    for method, k, variant in STL:
        plain_variant = "default"
        for compat in (False, True):
            for centered in (True, False):
                stl = next((r for r in rows if r["method"] == method and r["variant"] == variant
                            and r["centered"] == centered and r["thesis_compat"] == compat), None)
                plain = next((r for r in rows if r["method"] == method and r["variant"] == plain_variant
                              and r["centered"] == centered and r["thesis_compat"] == compat), None)
                if stl is None or plain is None:
                    continue
                z = agreement.z_rows(stl, plain, "elbo")
                word = "higher" if z >= agreement.Z_AGREE else "lower" if z <= -agreement.Z_AGREE else "the same within the noise"
                parts.append(f"{LABELS[(method, plain_variant)]}, {'centered' if centered else 'non-centered'}, "
                             f"{'study target' if compat else 'true model'}: ELBO {stl['elbo_mean']:.3f} with STL "
                             f"against {plain['elbo_mean']:.3f} ({word}, z {agreement.format_z(z)}), k̂ "
                             f"{stl['khat_mean']:.2f} against {plain['khat_mean']:.2f}")
    return "; ".join(parts) + ".\n" if parts else ""


# ------------------------------------------------------------------ the experiment


def work(run):
    from experiments import beyond_figures as figures

    scale = run.scale
    baseline, draws = es.reference_results(run)
    nuts = nuts_reference(draws)
    print(f"beyond: {len(table6_specs(scale)) + len(depth_specs(scale))} rows")
    run.run_jobs(jobs(scale, run.seed), "Table VI, depth and STL trainings")
    own = {r["key"]: r for r in run.rows}
    rows6 = table6_rows(scale, own, baseline)
    params = {(r["method"], r["num_flows"], r["variant"]): parameter_count(r["method"], r["num_flows"], r["variant"])
              for r in rows6}
    table = table6_markdown(rows6, nuts, params)
    run.save_table("**Table VI: every family on eight schools (J = 8)**\n\n" + table, "tableVI.md", ["tableVI"])
    figures.make_all(run, rows6, own, baseline, draws)
    from experiments.eight_schools_report import quick_banner

    lines = [quick_banner(run)] if run.quick else []
    lines += [
        __doc__.split("\n\n", 2)[2].strip() + "\n",
        "### Table VI\n", table + "\n",
        "Errors are in units of NUTS's posterior sd (mean error, sd error), from each training's 5000 draws "
        "averaged over trainings, raw and with PSIS-smoothed importance weights. IAF, RealNVP and spline flows use "
        f"{scale.neural_layers} layers of two hidden layers of 32 units and learning rate 1e-3 (at 1e-2 an IAF's "
        "loss turned non-finite within 50 steps), on the true model only (the study's target has nothing to "
        "compare them with, and they are the dearest rows); the spline flow has 2 layers, since one of its steps "
        "costs about ten of a K = 64 planar flow.\n",
        "### The moonshot\n", moonshot_text(rows6),
        "### The depth question (section VII)\n", depth_text(list(own.values()), list(baseline.values())),
        "### Sticking the landing\n", stl_text(list(own.values()) + list(baseline.values())),
        *figures.markdown(run),
        f"Command: `{run.command}`\n",
    ]
    run.write_text("report.md", "\n".join(lines))


EXPERIMENT = Experiment(NAME, __doc__, FULL, QUICK, work)
main = EXPERIMENT.main

if __name__ == "__main__":
    main()
