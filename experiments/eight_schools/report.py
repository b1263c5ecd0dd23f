"""The eight-schools report (``report.md``): every sentence that compares, counts or judges is computed from
the rows, with a branch for each outcome; quick runs say so and judge nothing."""
import inspect
import math

import numpy as np
from scipy import stats

import vinf
from experiments.common import agreement
from experiments.common.plotting import WINDOW_MASS, outside, window
from experiments.common.prose import plural
from experiments.common.schools import load_draws, posterior_values, quick_banner
from experiments.eight_schools import claims
from experiments.eight_schools.config import TABLE_TITLES
from experiments.eight_schools.figures import COMPARISONS, FIG48_DEPTHS, depth_rows, row_key

SKEW_MATCH = 0.1  # skewnesses "match" when they differ by at most this fraction of max(1, |NUTS's|)


def _default(rows):
    return [r for r in rows if r.get("variant", "default") == "default"]


def _distinct(rows):
    """Our default rows, each set of trainings once: with one school the two targets' rows are the same
    trainings (Table IV), so counting both would count them twice."""
    seen = {}
    for r in _default(rows):
        seen.setdefault((r.get("group", r["key"]), r["centered"], r["thesis_compat"] and r["num_schools"] > 1), r)
    return list(seen.values())


def above_log_z(rows):
    above = [r["key"] for r in rows if r["elbo_mean"] > r["log_evidence"] + 3 * max(r["elbo_std"], 1e-3)]
    return f"Rows whose ELBO exceeds log Z: {', '.join(above)}." if above else "No ELBO exceeds its log Z."


def agreement_counts(rows):
    """How many reported rows agree with the thesis, by the one rule, on each quantity and estimator."""
    reported = [r for r in _default(rows) if r.get("thesis")]
    count = lambda q: sum(agreement.agrees(agreement.z_thesis(r, q)) for r in reported)  # noqa: E731
    return dict(rows=len(reported), elbo=count("elbo"), khat=count("khat"), khat_arviz=count("khat_arviz"))


def agreement_text(rows):
    c = agreement_counts(rows)
    n = c["rows"]
    if n == 0:
        return f"{agreement.RULE}\n\nNo row of ours has a thesis value to compare with.\n"
    if c["khat_arviz"] == c["khat"]:
        change = "judged on ArviZ's k̂ instead, the count is the same"
    else:
        diff = abs(c["khat_arviz"] - c["khat"])
        change = (f"judged on ArviZ's k̂ instead, {c['khat_arviz']} of {n} would agree, {diff} "
                  f"{'more' if c['khat_arviz'] > c['khat'] else 'fewer'} than on the study's estimator")
    return (f"{agreement.RULE}\n\nOn the study's target, {c['elbo']} of {n} reported rows agree with the thesis's "
            f"ELBO and {c['khat']} of {n} with its k̂; {change}.\n")


def estimator_text(rows):
    """What ArviZ's k-hat changes against the study's 2015 estimator, over every distinct row (same draws), and
    which of the two the thesis's numbers follow: the text states ArviZ's tail, its code fits the top 20 %."""
    c = agreement_counts(rows)
    rows = _distinct(rows)
    if not rows:
        return ""
    diff = np.array([r["khat_mean"] - r["khat_thesis_mean"] for r in rows])
    higher = int(np.sum(diff > 0))
    if higher == len(rows):
        direction = "higher than the study's estimator in every row"
    elif higher == 0:
        direction = "lower than the study's estimator in every row"
    else:
        direction = f"higher than the study's estimator in {higher} of {len(rows)} rows"
    if c["khat"] > c["khat_arviz"]:
        follows = (f"the thesis's k̂ follow its code: {c['khat']} of {c['rows']} reported rows agree on the code's "
                   f"estimator, {c['khat_arviz']} on the text's")
    elif c["khat"] < c["khat_arviz"]:
        follows = (f"yet more reported rows agree on the text's estimator ({c['khat_arviz']} of {c['rows']}) than on "
                   f"the code's ({c['khat']})")
    else:
        follows = f"the reported rows do not tell them apart ({c['khat']} of {c['rows']} agree on either)"
    return (f"**Which k̂.** The thesis's text states PSIS with a tail of min(S/5, 3√S) weights (ArviZ's rule: 212 of "
            "5000 draws); its code (the bundled 2015 psis.py, `wcpp=20`) fits Zhang & Stephens's generalized Pareto "
            f"to the top 20 % (1000 draws), without a prior. Every row here carries both, from the same draws; "
            f"{follows}. ArviZ's k̂ (k also shrunk towards 0.5) is {direction}: by {diff.mean():+.2f} on average, "
            f"from {diff.min():+.2f} to {diff.max():+.2f}, over {plural(len(rows), 'distinct row')} (each set of "
            "trainings once).\n")


def differences_text(rows):
    """Which rows differ from the thesis (|z| >= Z_AGREE), and which way."""
    reported = [r for r in _default(rows) if r.get("thesis")]
    elbo = [r for r in reported if not agreement.agrees(agreement.z_thesis(r, "elbo"))]
    khat = [r for r in reported if not agreement.agrees(agreement.z_thesis(r, "khat"))]
    if not elbo and not khat:
        return "Every reported row agrees with the thesis on both quantities.\n"
    text = ""
    if elbo:
        higher = [r for r in elbo if r["elbo_mean"] > r["thesis"]["elbo_mean"]]
        gaps = [r["log_evidence"] - r["thesis"]["elbo_mean"] for r in elbo]
        ours = [r["log_evidence"] - r["elbo_mean"] for r in elbo]
        text += (f"Of the {plural(len(elbo), 'row')} whose ELBO differs, ours is the higher in {len(higher)}: the "
                 f"study's ELBOs there lie {_span(gaps)} its target's log Z, ours {_span(ours)}. ")
        if higher and all(r["elbo_mean"] <= r["log_evidence"] for r in higher):
            text += ("A higher ELBO that stays under log Z, with the same family, K, steps, S and learning rate, "
                     "is a tighter fit, not an error. ")
    if khat:
        higher = [r for r in khat if r["khat_thesis_mean"] > r["thesis"]["khat_mean"]]
        text += (f"Of the {plural(len(khat), 'row')} whose k̂ differs, ours is the higher in {len(higher)}: "
                 + "; ".join(f"{r['key']} {r['khat_thesis_mean']:.2f} against {r['thesis']['khat_mean']:.2f} "
                             f"(z = {agreement.format_z(agreement.z_thesis(r, 'khat'))})" for r in khat) + ". ")
    text += ("`python -m experiments.ablations` reruns each of these rows under each of the study's choices, from the "
             "same seeds. ")
    return text.strip() + "\n"


def study_failures_text(rows):
    """The thesis's means that include a failed training of the study's own (``agreement.failed_trainings``):
    what they would be without it."""
    parts = []
    for r in _default(rows):
        thesis = r.get("thesis")
        if not thesis:
            continue
        failed = agreement.failed_trainings([r["log_evidence"] - e for e in thesis["elbo_runs"]])
        if not failed:
            continue
        kept = [i for i in range(len(thesis["elbo_runs"])) if i not in failed]
        values = ", ".join(f"ELBO {thesis['elbo_runs'][i]:.2f}, k̂ {thesis['khat_runs'][i]:.2f}" for i in failed)
        without = (sum(thesis["khat_runs"][i] for i in kept) / len(kept), sum(thesis["elbo_runs"][i] for i in kept) / len(kept))
        parts.append(f"{r['key']}'s mean (k̂ {thesis['khat_mean']:.2f}, ELBO {thesis['elbo_mean']:.2f}) includes "
                     f"{plural(len(failed), 'failed training')} ({values}); without it, k̂ {without[0]:.2f} and ELBO "
                     f"{without[1]:.2f}")
    if not parts:
        return "None of the study's trainings behind the thesis's means failed (by the rule of `agreement.failed_trainings`).\n"
    return ("The study's own trainings (its code/diagnostic.txt) show what its printed Std hides: " + "; ".join(parts)
            + ". The figure of every training below shows them beside ours.\n")


def _span(gaps):
    """Gaps to log Z as a phrase: "0.12 nats below", "from 0.12 to 0.80 nats below", or mixed signs."""
    low, high = min(gaps), max(gaps)
    if low >= 0:
        return f"{low:.2f} nats below" if high - low < 0.005 else f"{low:.2f} to {high:.2f} nats below"
    if high < 0:
        return f"{-high:.2f} nats above" if high - low < 0.005 else f"{-high:.2f} to {-low:.2f} nats above"
    return f"from {-low:.2f} nats above to {high:.2f} nats below"


def table_differences(rows, table):
    differ = []
    for r in _default(rows):
        if r["table"] != table or not r.get("thesis"):
            continue
        bad = [name for q, name in (("elbo", "ELBO"), ("khat", "k̂")) if not agreement.agrees(agreement.z_thesis(r, q))]
        if bad:
            differ.append(f"{r['key']} ({' and '.join(bad)})")
    return f"Differs from the thesis (|z| ≥ {agreement.Z_AGREE:g}): {', '.join(differ)}.\n" if differ else ""


# ------------------------------------------------------------------ NUTS


def nuts_diagnostics_text(diagnostics, num_schools):
    d = diagnostics.get(num_schools)
    if d is None:
        return "no convergence diagnostics recorded for this NUTS run"
    return (f"NUTS on {num_schools} school{'s' if num_schools > 1 else ''}: {d['chains']} chains × {d['draws']} "
            f"draws, target_accept {d['target_accept']:g}, R-hat ≤ {d['r_hat_max']:.3f}, bulk ESS ≥ "
            f"{d['ess_bulk_min']:.0f}, {plural(d['divergences'], 'divergence')} ({nuts_verdict(d)})")


def nuts_verdict(d):
    """R-hat and ESS against our rule, and whether divergences remain: a run with divergences is not called
    converged, whatever R-hat says (its draws may miss the funnel's neck)."""
    rule = f"R-hat ≤ {vinf.mcmc.R_HAT_MAX}, ESS ≥ {vinf.mcmc.ESS_BULK_MIN}"
    if not d["converged"]:
        return f"NOT converged by our rule: {rule}"
    if d["divergences"]:
        return (f"R-hat and ESS meet our rule ({rule}), but {plural(d['divergences'], 'divergence')} remain: "
                "the draws near the neck are to be read with care")
    return f"converged: {rule}, no divergence"


def nuts_table(diagnostics):
    lines = ["| schools | chains × draws | target_accept | max R-hat | min bulk ESS (μ, τ, θ₁) | divergences | R-hat and ESS met |",
             "|" + " --- |" * 7]
    for j, d in sorted(diagnostics.items(), reverse=True):
        lines.append(f"| {j} | {d['chains']} × {d['draws']} | {d['target_accept']:g} | {d['r_hat_max']:.3f} "
                     f"| {d['ess_bulk_min']:.0f} | {d['divergences']} | {'yes' if d['converged'] else 'no'} |")
    return "\n".join(lines)


def nuts_sentence(diagnostics):
    """How the NUTS reference was run, and whether divergences remain, from its diagnostics."""
    accepts = inspect.signature(vinf.mcmc.eight_schools_reference).parameters["target_accepts"].default
    divergent = {j: d["divergences"] for j, d in sorted(diagnostics.items(), reverse=True) if d["divergences"]}
    unconverged = [j for j, d in sorted(diagnostics.items(), reverse=True) if not d["converged"]]
    text = ("NUTS runs on the non-centered true model (the same posterior in (θ, μ, τ) as the centered one, without "
            f"its funnel), with target_accept tried at {', '.join(f'{a:g}' for a in accepts)} in turn until no "
            "divergence remains, keeping the attempt with the fewest: ")
    text += ("none remains." if not divergent else "divergences remain in " + ", ".join(
        f"{plural(j, 'school')} ({n})" for j, n in divergent.items()) + ".")
    text += (f" Every run meets R-hat ≤ {vinf.mcmc.R_HAT_MAX} and bulk ESS ≥ {vinf.mcmc.ESS_BULK_MIN}." if not unconverged
             else f" Not converged by that rule: {', '.join(plural(j, 'school') for j in unconverged)}.")
    return text + "\n"


def _nuts_summary(idata):
    mu, tau = posterior_values(idata, "mu"), posterior_values(idata, "tau")
    return f"posterior mean μ = {mu.mean():.2f}, τ = {tau.mean():.2f}"


# ------------------------------------------------------------------ figure notes

# What the study said each figure shows, and whether it saw theta_1's skewness captured.
STUDY_SAYS = {
    "fig41": ("a Gaussian with θ₁ as privileged direction that cannot learn the dependence on τ; no skewness", False),
    "fig42": ("the scaling captures part of the dependence between τ and θ₁; no skewness", False),
    "fig43": ("a small improvement in capturing the dependence between τ and θ₁", None),
    "fig44": ("the skewness of θ₁ more accurately captured", True),
    "fig45": ("samples that match the MCMC samples closely; the skewness captured", True),
    "fig46": ("samples that match the MCMC samples so closely that these are hardly visible", True),
}


def _neck(log_tau):
    """How far into the funnel's neck draws reach: the 1 % quantile of log tau."""
    return float(np.quantile(log_tau, 0.01))


def outside2(x, y, xlim, ylim):
    """The fraction of points ``(x, y)`` outside the rectangle ``xlim`` x ``ylim``."""
    return float(np.mean((x < xlim[0]) | (x > xlim[1]) | (y < ylim[0]) | (y > ylim[1])))


SKEW_PART = 0.25  # q carrying less than this share of NUTS's skewness carries none of it


def skew_share(ours, nuts):
    """How much of NUTS's skewness of theta_1 q carries: "all" (within ``SKEW_MATCH`` of max(1, |NUTS's|)),
    "part" (at least ``SKEW_PART`` of it, same sign) or "none"; and the share."""
    share = ours / nuts if nuts else 0.0
    if abs(ours - nuts) <= SKEW_MATCH * max(1.0, abs(nuts)):
        return "all", share
    return ("part" if share >= SKEW_PART else "none"), share


def skew_sentence(ours, nuts, study_saw):
    """How much of NUTS's skewness of theta_1 q carries, set against what the study saw (True: captured, False:
    none, None: the study did not say)."""
    kind, share = skew_share(ours, nuts)
    said = {"all": f"it carries all of it (within {SKEW_MATCH:.0%} of max(1, |NUTS's|))",
            "part": f"it carries part of it ({share:.0%})",
            "none": f"it carries none of it ({share:.0%})"}[kind]
    text = f"θ₁'s skewness is {ours:.2f} under q and {nuts:.2f} under NUTS: {said}"
    if study_saw is None:
        return text + "."
    if (kind == "all") == study_saw and kind != "part":
        return text + ", as the study saw."
    if study_saw:
        return text + ", where the study saw it captured."
    return text + (", more than the study saw (none)." if kind == "part" else ", where the study saw none.")


def _window_sentence(q_log_tau, q_theta, ref_log_tau, ref_theta):
    xlim, ylim = window(q_log_tau, ref_log_tau), window(q_theta, ref_theta)
    q, ref = outside2(q_log_tau, q_theta, xlim, ylim), outside2(ref_log_tau, ref_theta, xlim, ylim)
    return (f"The top panel leaves out {q:.2%} of q's draws and {ref:.2%} of NUTS's (its window holds the central "
            f"{WINDOW_MASS:.1%} of each axis, pooled).")


def comparison_note(run, fid, rows, idata, deep, diagnostics):
    table, method, centered, num_schools, title = COMPARISONS[fid]
    key = row_key(table, method, centered, num_schools, deep if method != "mean_field" else 0)
    row = next(r for r in rows if r["key"] == key)
    best = row["best_run"]
    theta, _, log_tau, _ = load_draws(run.draws, key, centered, num_schools)
    ref_theta, ref_tau = posterior_values(idata, "theta")[:, 0], posterior_values(idata, "tau")
    said, saw_skew = STUDY_SAYS[fid]
    _, mu, _, _ = load_draws(run.draws, key, centered, num_schools)
    extra = mu_centered_sentence(mu, posterior_values(idata, "mu")) if num_schools == 1 else ""
    return (
        f"{title}, fitted to the true model and set beside NUTS on the true model. (The thesis's Figures 41-46 set q "
        "fitted to its J-fold target beside NUTS on the true model, per its code: a q and a reference of two "
        f"different posteriors; Tables II-IV give ours on its target.) The draws are those of training {best + 1} of "
        f"{len(row['khat_runs'])}, the best by k̂ (2015 PSIS, as the study chose): its k̂ is "
        f"{row['khat_thesis_runs'][best]:.2f} (ArviZ "
        f"{row['khat_runs'][best]:.2f}) and its ELBO {row['elbo_runs'][best]:.2f}, against the row's mean k̂ "
        f"{row['khat_thesis_mean']:.2f} ± {row['khat_thesis_std']:.3f} and ELBO {row['elbo_mean']:.2f}; log p(y) = "
        f"{row['log_evidence']:.2f}. q reaches log τ = {_neck(log_tau):.1f} (1 % quantile) where NUTS reaches "
        f"{_neck(np.log(ref_tau)):.1f}; θ₁ has sd {theta[:, 0].std():.1f} under q and {ref_theta.std():.1f} under "
        f"NUTS. {skew_sentence(stats.skew(theta[:, 0]), stats.skew(ref_theta), saw_skew)} The study saw {said}. "
        f"{_window_sentence(log_tau, theta[:, 0], np.log(ref_tau), ref_theta)} {extra}"
        f"Reference: {nuts_diagnostics_text(diagnostics, num_schools)}."
    )


CENTERED_SHIFT = 0.1  # a mean within this many sds of the prior's 0 "stays centered"


def mu_centered_sentence(q_mu, nuts_mu):
    """The thesis (one school): "the approximated distribution of μ stays centered", against NUTS's of 8 schools.
    Here both are of the one-school posterior: how far each mean sits from the prior's 0, in its own sd."""
    shift, ref = q_mu.mean() / q_mu.std(), nuts_mu.mean() / nuts_mu.std()
    verdict = (f"stays centered (within {CENTERED_SHIFT} sd of the prior's 0)" if abs(shift) < CENTERED_SHIFT
               else f"moves {shift:+.2f} sd from the prior's 0")
    agree = "as" if (abs(shift) < CENTERED_SHIFT) == (abs(ref) < CENTERED_SHIFT) else "unlike"
    return (f"μ under q {verdict}, {agree} NUTS on the same one-school posterior ({ref:+.2f} sd); the thesis saw μ "
            "stay centered, against NUTS on eight schools. ")


def skew_claim_sentence(draws, ess, school, sign):
    """The thesis: θ_school's NUTS draws are skewed with ``sign`` (section VI.B, Figure 38). The sample skewness
    against its standard error sqrt(6 / ESS)."""
    skew = stats.skew(draws)
    se = math.sqrt(6.0 / ess)
    word = {1: "positively", -1: "negatively"}
    if abs(skew) < agreement.Z_AGREE * se:
        found = f"no skewness beyond its noise ({skew:+.2f} ± {se:.2f})"
    else:
        found = f"{word[int(np.sign(skew))]} skewed ({skew:+.2f} ± {se:.2f})"
    return (f"θ{school}'s posterior is {found}; the thesis saw it {word[sign]} skewed"
            + (", as here." if abs(skew) >= agreement.Z_AGREE * se and np.sign(skew) == sign else "."))


def depth_note(rows, deep, depths):
    def series(method, compat, field="khat_thesis_mean"):
        return ", ".join(f"{r[field]:.2f} (K = {r['num_flows']})" for r in depth_rows(rows, method, compat))

    reported = [r for r in depth_rows(rows, "planar", True) if r.get("thesis")]
    thesis = ", ".join(f"{r['thesis']['khat_mean']:.2f}" for r in reported)
    checked = {c["claim"]: c for c in claims.checked(rows, deep, depths) if "K = " in c["claim"] and "Table V" in c["section"]}
    verdicts = " ".join(f"The study's claim that {name}: {c['verdict']} ({c['thesis_target']} on its target; "
                        f"{c['true_model']} on the true model)." for name, c in checked.items())
    return (f"k̂ (2015 PSIS) of planar flows on the study's target: {series('planar', True)}; the thesis's: "
            f"{thesis or 'none at these depths'}. On the true model: {series('planar', False)}. {verdicts}")


def shrinkage_sentence(theta_means, mu_mean):
    """How many schools' posterior means lie between μ's and their own estimate y_i (partial pooling)."""
    y = np.asarray(vinf.targets.EIGHT_SCHOOLS_Y[: len(theta_means)])
    between = (np.minimum(mu_mean, y) <= theta_means) & (theta_means <= np.maximum(mu_mean, y))
    text = (f"{int(between.sum())} of {len(y)} schools' posterior means θ̄_i lie between μ̄ = {mu_mean:.1f} and their "
            "own estimate y_i")
    extremes = [int(np.argmax(y)), int(np.argmin(y))]
    detail = "; ".join(f"θ̄_{i + 1} = {theta_means[i]:.1f} against y_{i + 1} = {y[i]:g}" for i in extremes)
    return text + (f" (partial pooling: {detail})." if between.all() else f" ({detail}).")


def _ess(diagnostics, num_schools, draws):
    """The smallest bulk ESS of the NUTS run (every draw, if none was recorded)."""
    d = diagnostics.get(num_schools)
    return d["ess_bulk_min"] if d else len(draws)


def figure_notes(run, rows, posteriors, diagnostics, deep, depths, fig48_depths=()):
    """One paragraph per figure, from the numbers behind it, beside what the study said."""
    nuts8, nuts2 = posteriors[8], posteriors[2]
    theta, mu, tau = posterior_values(nuts8, "theta"), posterior_values(nuts8, "mu"), posterior_values(nuts8, "tau")
    sigma1 = vinf.targets.EIGHT_SCHOOLS_SIGMA[0]
    conditional_sd = {lt: (1 / sigma1**2 + math.exp(-2 * lt)) ** -0.5 for lt in (-2.0, 2.0)}
    grid = np.linspace(mu.min(), mu.max(), 512)
    mu_mode = grid[np.argmax(stats.gaussian_kde(mu)(grid))]
    corr = [np.corrcoef(mu, theta[:, i])[0, 1] for i in range(8)]
    sign = ("positively dependent in every school" if min(corr) > 0 else
            "negatively dependent in every school" if max(corr) < 0 else "of mixed dependence across schools")
    reference = f"Reference: {nuts_diagnostics_text(diagnostics, 8)}."
    notes = {
        "fig37": (f"The joint of the first school narrows as τ falls: given log τ = -2 the sd of θ₁ is "
                  f"{conditional_sd[-2.0]:.2f}, given log τ = 2 it is {conditional_sd[2.0]:.1f} (exactly, "
                  "(1/σ₁² + 1/τ²)^-1/2): the neck the study describes, the same at μ = 0 and μ = 5 up to a shift."),
        "fig38": (f"{_nuts_summary(nuts8)}. {shrinkage_sentence(theta.mean(axis=0), mu.mean())} "
                  f"{skew_claim_sentence(theta[:, 0], _ess(diagnostics, 8, theta), 1, +1)} "
                  f"{skew_claim_sentence(theta[:, 2], _ess(diagnostics, 8, theta), 3, -1)} {reference}"),
        "fig39": f"μ and θ_i are {sign} (correlations {min(corr):.2f} to {max(corr):.2f}). {reference}",
        "fig40": (f"μ's posterior mean is {mu.mean():.1f} and its mode {mu_mode:.1f} (the study: a mode around 5); "
                  f"τ's posterior median is {np.median(tau):.1f}, its prior's 5. The τ panel stops at "
                  f"{window(tau)[1]:.0f}, leaving out {outside(tau, (0, window(tau)[1])):.2%} of the draws. {reference}"),
    }
    for fid, (_, _, _, num_schools, _) in COMPARISONS.items():
        notes[fid] = comparison_note(run, fid, rows, posteriors[num_schools], deep, diagnostics)
    notes["fig47"] = depth_note(rows, deep, depths)
    necks, shown, quantiles = [], {}, []
    for depth in sorted({r["num_flows"] for r in rows if r["table"] == "V"}):
        theta2, _, log_tau, _ = load_draws(run.draws, row_key("V", "planar", True, 2, depth), True, 2)
        necks.append(f"{_neck(log_tau):.1f} at K = {depth}")
        quantiles.append(_neck(log_tau))
        if depth in fig48_depths:
            shown[depth] = (log_tau, theta2[:, 0])
    ref_log_tau, ref_theta = np.log(posterior_values(nuts2, "tau")), posterior_values(nuts2, "theta")[:, 0]
    nuts_neck = _neck(ref_log_tau)
    xlim = window(ref_log_tau, *[v[0] for v in shown.values()])
    ylim = window(ref_theta, *[v[1] for v in shown.values()])
    left_out = max(outside2(*v, xlim, ylim) for v in shown.values()) if shown else 0.0
    notes["fig48"] = (f"How far the planar flow's draws reach into the neck (1 % quantile of log τ, two schools, "
                      f"centered true model): {', '.join(necks)}; NUTS reaches {nuts_neck:.1f}. The study saw deeper "
                      f"flows explore the neck further; ours {deeper_sentence(quantiles)}. The panels leave out at most {left_out:.2%} of a flow's draws "
                      f"and {outside2(ref_log_tau, ref_theta, xlim, ylim):.2%} of NUTS's. "
                      f"Reference: {nuts_diagnostics_text(diagnostics, 2)}.")
    return notes


# ------------------------------------------------------------------ the report


def write_report(run, rows, posteriors, diagnostics):
    folder, cmd = run.out.name, f"`{run.command}`"
    deep, depths = run.scale.deep, tuple(run.scale.depths)
    table_text = {t: run.path(f"table{t}.md").read_text() for t in ("I", *TABLE_TITLES)}
    lines = [quick_banner(run, run.scale)] if run.quick else []
    lines += [
        "### The study's target is not the eight-schools posterior\n",
        "The study's code added log p(μ) + log p(τ) + log τ once per school, so its target is "
        "p(y|θ) p(θ|μ,τ) [p(μ) p(τ) τ]^J, whose evidence is not p(y). `thesis_compat=True` reproduces that "
        "target and every table below has its rows on both: the thesis's ELBOs are comparable only with ours "
        "on its target, and each ELBO must stay below the log evidence of its own target (the `log Z` column, "
        f"by quadrature with θ integrated out exactly). {above_log_z(rows)}\n",
    ]
    if not run.quick:
        lines += ["### How our numbers are compared with the thesis's\n", agreement_text(rows),
                  estimator_text(rows), differences_text(rows), study_failures_text(rows)]
    lines += ["### Table I — the data\n", table_text["I"] + "\n", f"Command: {cmd}\n",
              "The study's Figure 36 is a drawing of the model's graph (μ, τ → θ_i → y_i), no data or computation, "
              "so it has no counterpart here; the model it draws is `vinf.targets.eight_schools`.\n"]
    for t in TABLE_TITLES:
        lines += [f"### Table {t}\n", table_text[t] + "\n"]
        if t == "IV":
            lines.append("With one school the study's target is the true model (its hyperprior is counted J = 1 "
                         "time), so the rows of the two targets come from the same trainings.\n")
        if not run.quick:
            lines.append(table_differences(rows, t))
        lines.append(f"Command: {cmd}\n")
    if not run.quick:
        checked = claims.checked(rows, deep, depths)
        counts = {v: sum(c["verdict"] == v for c in checked) for v in dict.fromkeys(c["verdict"] for c in checked)}
        lines += ["### The study's conclusions, checked\n",
                  f"{plural(len(checked), 'claim')} of sections VI.B and VII, each tested on both targets by the rule "
                  "above (k̂: the study's estimator), the verdict computed from the rows: "
                  + "; ".join(f"{v}, {n}" for v, n in counts.items()) + ". They stand, with their evidence, in the "
                  "report's table of the whole study's conclusions.\n"]
    lines += ["### The NUTS reference (Figures 38-48)\n", nuts_sentence(diagnostics), nuts_table(diagnostics) + "\n"]
    fig48 = [d for d in FIG48_DEPTHS if d in depths] or list(depths)
    notes = figure_notes(run, rows, posteriors, diagnostics, deep, depths, fig48)
    for fid in ("fig37", "fig38", "fig39", "fig40", *COMPARISONS, "fig47", "fig48"):
        files = sorted(p.name for p in run.out.glob(f"{fid}_*.png"))
        lines.append(f"### Figure {fid[3:]}\n")
        lines += [f"![Fig. {fid[3:]}]({folder}/{name})\n" for name in files]
        lines += [notes[fid] + "\n", f"Command: {cmd}\n"]
    lines += ["### Every training, traced\n", f"![traces]({folder}/traces.png)\n",
              "Each line is one training's gap log Z − ELBO (a moving average; lower is better), a tick marks the "
              "checkpoint restored. " + checkpoint_sentence(rows, run.scale.num_steps) + "\n",
              f"![k-hat against ELBO]({folder}/khat_vs_elbo.png)\n",
              khat_elbo_sentence(rows) + "\n", f"Command: {cmd}\n"]
    if (run.out / "per_training.png").exists():
        lines += ["### Every training beside the study's\n", f"![per training]({folder}/per_training.png)\n",
                  "Each row of Tables II-V on the study's target, one point per training: ours (colour) and the "
                  "study's (black crosses, from its code/diagnostic.txt). The thesis's means are the means of the "
                  "crosses; its printed Std for Tables II-IV is the noise of the draw sets within a training, not "
                  "their spread.\n", f"Command: {cmd}\n"]
    run.write_text("report.md", "\n".join(lines))


def deeper_sentence(quantiles, margin=0.1):
    """Whether the deepest flow reaches further into the neck than the shallowest (by ``margin`` in log tau)."""
    if len(quantiles) < 2:
        return "have one depth only"
    change = quantiles[-1] - quantiles[0]
    if change < -margin:
        return f"do too (the deepest reaches {-change:.1f} further in log τ than the shallowest)"
    if change > margin:
        return f"do not: the deepest stops {change:.1f} short of the shallowest in log τ"
    return f"do not: the deepest and the shallowest reach the same depth within {margin} in log τ"


def checkpoint_sentence(rows, num_steps):
    steps = np.array([s for r in _distinct(rows) for s in r.get("best_steps", [])])
    if steps.size == 0:
        return ""
    late = float(np.mean(steps >= 0.9 * num_steps))
    return (f"{late:.0%} of the {steps.size} checkpoints fall in the last tenth of training (median step "
            f"{np.median(steps):.0f})" + (": most trainings were still improving when they stopped." if late > 0.5
                                           else "."))


RANK_RELATION = 0.3  # |Spearman's rho| above this counts as a rank relation


def khat_elbo_sentence(rows):
    """The rank correlation of k-hat and the ELBO gap across the trainings of every row, per target."""
    parts = []
    for compat, name in ((True, "the study's target"), (False, "the true model")):
        gaps, khats = [], []
        for r in _default(rows):
            if r["thesis_compat"] == compat:
                gaps += list(r["log_evidence"] - np.asarray(r["elbo_runs"]))
                khats += list(r["khat_thesis_runs"])
        if len(gaps) <= 2:
            continue
        rho = stats.spearmanr(gaps, khats)[0]
        if not np.isfinite(rho):
            relation = "no defined rank relation"
        elif rho > RANK_RELATION:
            relation = "a smaller gap goes with a smaller k̂"
        elif rho < -RANK_RELATION:
            relation = "a smaller gap goes with a larger k̂"
        else:
            relation = "no clear rank relation"
        parts.append(f"on {name}, Spearman's ρ = {rho:+.2f} over {len(gaps)} trainings: {relation}")
    if not parts:
        return "Too few trainings to relate k̂ and the gap to log Z."
    return ("Across trainings of every row (|ρ| > " + f"{RANK_RELATION:g} counts as a relation): " + "; ".join(parts)
            + ".")
