"""The eight-schools report (``report.md``): every sentence that compares, counts or judges is computed from
the rows, with a branch for each outcome; quick runs say so and judge nothing."""
import math

import numpy as np
from scipy import stats

import vinf
from experiments import _study, agreement
from experiments._study import plural
from experiments import eight_schools_claims as claims
from experiments.eight_schools_figures import (COMPARISONS, FIG48_DEPTHS, WINDOW_MASS, _depth_rows, _key, _posterior, load_draws,
                                               outside, window)

SKEW_MATCH = 0.1  # skewnesses "match" when they differ by at most this fraction of max(1, |NUTS's|)


def _default(rows):
    return [r for r in rows if r.get("variant", "default") == "default"]


def quick_banner(run):
    s = getattr(run.scale, "protocol", run.scale)
    return _study.quick_banner(run, f"{s.num_runs} trainings of {s.num_steps} steps, {s.num_sets} sets of "
                                    f"{s.num_draws} draws, K = {s.deep}, NUTS {s.nuts_draws} draws")


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
    """What ArviZ's k-hat changes against the study's 2015 estimator, over every row (same draws)."""
    rows = _default(rows)
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
    return (f"**What the modern estimator changes.** On the same draws, ArviZ's k̂ (tail of min(S/5, 3√S) weights, "
            f"k shrunk towards 0.5) is {direction}: by {diff.mean():+.2f} on average, from {diff.min():+.2f} to "
            f"{diff.max():+.2f}.\n")


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
    differing = {r["key"] for r in elbo + khat}
    ablated = differing & ablated_keys()
    if ablated:
        text += (f"`python -m experiments.ablations` switches each of our departures off for "
                 f"{'all of these rows' if ablated == differing else ', '.join(sorted(ablated))}"
                 + ("" if ablated == differing else f"; not for {', '.join(sorted(differing - ablated))}") + ". ")
    elif differing:
        text += "None of these rows is among those `python -m experiments.ablations` reruns. "
    return text.strip() + "\n"


def ablated_keys():
    """The keys of the default rows that ``python -m experiments.ablations`` reruns under the study's choices."""
    from experiments import ablations
    from experiments.eight_schools import FULL

    return {s.key.removesuffix(f"-{s.variant}") for s in ablations.ablated_specs(FULL)}


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
    verdict = "converged" if d["converged"] else "NOT converged by our rule"
    return (f"NUTS on {num_schools} school{'s' if num_schools > 1 else ''}: {d['chains']} chains × {d['draws']} "
            f"draws, target_accept {d['target_accept']:g}, R-hat ≤ {d['r_hat_max']:.3f}, bulk ESS ≥ "
            f"{d['ess_bulk_min']:.0f}, {plural(d['divergences'], 'divergence')} ({verdict}: R-hat ≤ "
            f"{vinf.mcmc.R_HAT_MAX}, ESS ≥ {vinf.mcmc.ESS_BULK_MIN})")


def nuts_table(diagnostics):
    lines = ["| schools | chains × draws | target_accept | max R-hat | min bulk ESS (μ, τ, θ₁) | divergences | converged |",
             "|" + " --- |" * 7]
    for j, d in sorted(diagnostics.items(), reverse=True):
        lines.append(f"| {j} | {d['chains']} × {d['draws']} | {d['target_accept']:g} | {d['r_hat_max']:.3f} "
                     f"| {d['ess_bulk_min']:.0f} | {d['divergences']} | {'yes' if d['converged'] else 'no'} |")
    return "\n".join(lines)


def nuts_sentence(diagnostics):
    """How the NUTS reference was run, and whether divergences remain, from its diagnostics."""
    import inspect

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
    mu, tau = _posterior(idata, "mu"), _posterior(idata, "tau")
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


def skew_sentence(ours, nuts, study_saw):
    """Whether q's skewness of theta_1 matches NUTS's, set against what the study saw."""
    match = abs(ours - nuts) <= SKEW_MATCH * max(1.0, abs(nuts))
    tolerance = f"{SKEW_MATCH:.0%} of max(1, |NUTS's|)"
    text = (f"θ₁'s skewness is {ours:.2f} under q and {nuts:.2f} under NUTS: "
            + (f"a match (within {tolerance})" if match else f"not a match (they differ by more than {tolerance})"))
    if study_saw is None:
        return text + "."
    if match == study_saw:
        return text + ", as the study saw."
    return text + (", where the study saw it captured." if study_saw else ", where the study saw it not captured.")


def _window_sentence(q_log_tau, q_theta, ref_log_tau, ref_theta):
    xlim, ylim = window(q_log_tau, ref_log_tau), window(q_theta, ref_theta)
    q, ref = outside2(q_log_tau, q_theta, xlim, ylim), outside2(ref_log_tau, ref_theta, xlim, ylim)
    return (f"The top panel leaves out {q:.2%} of q's draws and {ref:.2%} of NUTS's (its window holds the central "
            f"{WINDOW_MASS:.1%} of each axis, pooled).")


def comparison_note(run, fid, rows, idata, deep, diagnostics):
    table, method, centered, num_schools, title = COMPARISONS[fid]
    key = _key(table, method, centered, num_schools, deep if method != "mean_field" else 0)
    row = next(r for r in rows if r["key"] == key)
    best = row["best_run"]
    theta, _, log_tau, _ = load_draws(run.draws, key, centered, num_schools)
    ref_theta, ref_tau = _posterior(idata, "theta")[:, 0], _posterior(idata, "tau")
    said, saw_skew = STUDY_SAYS[fid]
    return (
        f"{title}, true model (NUTS samples the true model). The draws are those of training {best + 1} of "
        f"{len(row['khat_runs'])}, the best by k̂ (2015 PSIS, as the study chose): its k̂ is "
        f"{row['khat_thesis_runs'][best]:.2f} (ArviZ "
        f"{row['khat_runs'][best]:.2f}) and its ELBO {row['elbo_runs'][best]:.2f}, against the row's mean k̂ "
        f"{row['khat_thesis_mean']:.2f} ± {row['khat_thesis_std']:.3f} and ELBO {row['elbo_mean']:.2f}; log p(y) = "
        f"{row['log_evidence']:.2f}. q reaches log τ = {_neck(log_tau):.1f} (1 % quantile) where NUTS reaches "
        f"{_neck(np.log(ref_tau)):.1f}; θ₁ has sd {theta[:, 0].std():.1f} under q and {ref_theta.std():.1f} under "
        f"NUTS. {skew_sentence(stats.skew(theta[:, 0]), stats.skew(ref_theta), saw_skew)} The study saw {said}. "
        f"{_window_sentence(log_tau, theta[:, 0], np.log(ref_tau), ref_theta)} "
        f"Reference: {nuts_diagnostics_text(diagnostics, num_schools)}."
    )


def depth_note(rows, deep, depths):
    def series(method, compat, field="khat_thesis_mean"):
        return ", ".join(f"{r[field]:.2f} (K = {r['num_flows']})" for r in _depth_rows(rows, method, compat))

    reported = [r for r in _depth_rows(rows, "planar", True) if r.get("thesis")]
    thesis = ", ".join(f"{r['thesis']['khat_mean']:.2f}" for r in reported)
    checked = {c["claim"]: c for c in claims.checked(rows, deep, depths) if "K = " in c["claim"] and "Table V" in c["section"]}
    verdicts = " ".join(f"The study's claim that {name}: {c['verdict']} ({c['thesis_target']} on its target; "
                        f"{c['true_model']} on the true model)." for name, c in checked.items())
    return (f"k̂ (2015 PSIS) of planar flows on the study's target: {series('planar', True)}; the thesis's: "
            f"{thesis or 'none at these depths'}. On the true model: {series('planar', False)}. Radial flows on the "
            f"study's target: {series('radial', True)}. {verdicts}")


def shrinkage_sentence(theta_means, mu_mean):
    """How many schools' posterior means lie between μ's and their own estimate y_i (partial pooling)."""
    y = np.asarray(vinf.targets.EIGHT_SCHOOLS_Y[: len(theta_means)])
    between = (np.minimum(mu_mean, y) <= theta_means) & (theta_means <= np.maximum(mu_mean, y))
    text = (f"{int(between.sum())} of {len(y)} schools' posterior means θ̄_i lie between μ̄ = {mu_mean:.1f} and their "
            "own estimate y_i")
    extremes = [int(np.argmax(y)), int(np.argmin(y))]
    detail = "; ".join(f"θ̄_{i + 1} = {theta_means[i]:.1f} against y_{i + 1} = {y[i]:g}" for i in extremes)
    return text + (f" (partial pooling: {detail})." if between.all() else f" ({detail}).")


def figure_notes(run, rows, posteriors, diagnostics, deep, depths, fig48_depths=()):
    """One paragraph per figure, from the numbers behind it, beside what the study said."""
    nuts8, nuts2 = posteriors[8], posteriors[2]
    theta, mu, tau = _posterior(nuts8, "theta"), _posterior(nuts8, "mu"), _posterior(nuts8, "tau")
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
        "fig38": f"{_nuts_summary(nuts8)}. {shrinkage_sentence(theta.mean(axis=0), mu.mean())} {reference}",
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
        theta2, _, log_tau, _ = load_draws(run.draws, _key("V", "planar", True, 2, depth), True, 2)
        necks.append(f"{_neck(log_tau):.1f} at K = {depth}")
        quantiles.append(_neck(log_tau))
        if depth in fig48_depths:
            shown[depth] = (log_tau, theta2[:, 0])
    ref_log_tau, ref_theta = np.log(_posterior(nuts2, "tau")), _posterior(nuts2, "theta")[:, 0]
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
    from experiments.eight_schools import TABLE_TITLES

    folder, cmd = run.out.name, f"`{run.command}`"
    deep, depths = run.scale.deep, tuple(run.scale.depths)
    table_text = {t: run.path(f"table{t}.md").read_text() for t in ("I", *TABLE_TITLES)}
    lines = [quick_banner(run)] if run.quick else []
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
                  estimator_text(rows), differences_text(rows)]
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
                  "Each claim is tested on both targets by the rule above (k̂: the study's estimator); the verdict "
                  "is computed from the rows. Verdicts: " + "; ".join(f"{v}, {n}" for v, n in counts.items()) + ".\n",
                  claims.markdown(checked) + "\n"]
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
    steps = np.array([s for r in _default(rows) for s in r.get("best_steps", [])])
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
