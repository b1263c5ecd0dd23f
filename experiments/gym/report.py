"""The Inference Gym report: a table per target and, computed from the numbers, on how many targets each of the
thesis's conclusions holds."""
import numpy as np
from scipy import stats

from experiments.common import agreement, prose
from experiments.gym import figures
from experiments.gym.config import BASELINE, DEPTHS, FAMILIES, FLOWS, HIDDEN, LEFT_OUT, MODEL_INFORMED

RANK_RELATION = 0.3  # |Spearman's rho| above this counts as a rank relation (as in the eight-schools report)


def _values(row, field):
    return [v for v in row.get(field) or () if v is not None and np.isfinite(v)]


def _mean_sd(values):
    return (float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0) if values else (np.nan, 0.0)


def _cell(values, digits=2):
    mean, sd = _mean_sd(values)
    return "" if np.isnan(mean) else f"{mean:.{digits}f} ± {sd:.{digits}f}"


def khat_cell(row, field):
    """A k-hat column's cell: infinite when any training's is (its weights spread beyond floating point, or a
    diverged fit's are undefined), never the mean of the others."""
    runs = [np.inf if v is None else v for v in row.get(field) or ()]
    infinite = sum(1 for v in runs if not np.isfinite(v))
    return f"∞ ({infinite} of {len(runs)})" if infinite else _cell(runs)


def _median(values, digits=2):
    return f"{np.median(values):.{digits}f}" if values else ""


def above_log_z(row):
    """An ELBO above the target's log Z beyond three standard errors of its mean: a bug, never a result."""
    if row["log_evidence"] is None:
        return False
    elbo = _values(row, "elbo_runs")
    mean, sd = _mean_sd(elbo)
    return bool(elbo) and mean > row["log_evidence"] + 3 * max(sd, 1e-3) / np.sqrt(len(elbo))


def target_table(rows, target, refused):
    """One target's rows: the budget, then each family."""
    own = [r for r in rows if r["target"] == target]
    if not own:
        return ""
    first = own[0]
    log_z = "" if first["log_evidence"] is None else (
        f"; log Z = {first['log_evidence']:.2f} ({'normalised' if first['log_evidence'] == 0 else 'by quadrature'})")
    lines = [f"**{target}** ({first['dim']} dimensions): {first['steps']} steps, S = {first['sample_size']}, learning "
             f"rate {first['learning_rate']:g}, R = {first['runs']} trainings for every family{log_z}.\n",
             "| family | ELBO | k̂ ArviZ | k̂ 2015 | max \\|err\\| / sd | median \\|err\\| / sd | min sd ratio "
             "| median sd ratio | s per training | s per 1000 steps |", "|" + " --- |" * 10]
    for family in FAMILIES:
        r = next((r for r in own if r["family"] == family.label), None)
        if r is None:
            reason = next((x.reason for x in refused if x.target == target and x.family == family.label), "not run")
            lines.append(f"| {family.label} | {reason} |" + " |" * 8)
            continue
        flag = " **above log Z: a bug**" if above_log_z(r) else ""
        flag += " (diverged)" if r.get("diverged") else ""
        lines.append(
            f"| {family.label} | {_cell(_values(r, 'elbo_runs'))}{flag} | {khat_cell(r, 'khat_runs')} "
            f"| {khat_cell(r, 'khat_thesis_runs')} | {_median(_values(r, 'max_error_runs'))} "
            f"| {_median(_values(r, 'median_error_runs'))} | {_median(_values(r, 'min_sd_ratio_runs'))} "
            f"| {_median(_values(r, 'median_sd_ratio_runs'))} | {r['seconds'] / r['runs']:.0f} "
            f"| {r['seconds_per_1000_steps']:.1f} |")
    return "\n".join(lines)


def _z_elbo(a, b):
    """z of a's mean ELBO over b's (independent trainings)."""
    ea, eb = _values(a, "elbo_runs"), _values(b, "elbo_runs")
    if len(ea) < 2 or len(eb) < 2:
        return None
    (ma, sa), (mb, sb) = _mean_sd(ea), _mean_sd(eb)
    return agreement.z_between(ma, sa, len(ea), mb, sb, len(eb))


def _outcome(z):
    if z is None:
        return "untested"
    return "holds" if z >= agreement.Z_AGREE else "fails" if z <= -agreement.Z_AGREE else "undecided"


def conclusions(rows, targets):
    """Per target, the thesis's three conclusions tested on the numbers: flows beat ADVI (planar K=64, and the
    best flow by ELBO), depth helps (planar K=64 over K=16) and k-hat ranks the fits as the errors do."""
    out = {}
    for target in targets:
        own = {r["family"]: r for r in rows if r["target"] == target and _values(r, "elbo_runs")}
        base = own.get(BASELINE)
        entry = {}
        if base is not None:
            entry["planar beats ADVI"] = _outcome(_z_elbo(own[DEPTHS[-1]], base)) if DEPTHS[-1] in own else "untested"
            flows = [own[f] for f in FLOWS if f in own]
            best = max(flows, key=lambda r: _mean_sd(_values(r, "elbo_runs"))[0], default=None)
            entry["the best flow beats ADVI"] = "untested" if best is None else _outcome(_z_elbo(best, base))
            entry["best flow"] = None if best is None else best["family"]
        if all(d in own for d in DEPTHS):
            entry["depth helps"] = _outcome(_z_elbo(own[DEPTHS[1]], own[DEPTHS[0]]))
        ranked = [(np.median(_values(r, "khat_runs")), np.median(_values(r, "median_error_runs")))
                  for r in own.values() if _values(r, "khat_runs") and _values(r, "median_error_runs")]
        ranked = [(k, e) for k, e in ranked if np.isfinite(k) and np.isfinite(e)]
        if len(ranked) >= 4:
            rho = stats.spearmanr(*zip(*ranked))[0]
            entry["k̂ ranks as the errors"] = ("holds" if rho > RANK_RELATION else "fails" if rho < -RANK_RELATION
                                               else "undecided")
            entry["rho"] = float(rho)
        else:
            entry["k̂ ranks as the errors"] = "untested"
        if base is not None and _values(base, "median_sd_ratio_runs"):
            entry["ADVI shrinks"] = "holds" if np.median(_values(base, "median_sd_ratio_runs")) < 1 else "fails"
        out[target] = entry
    return out


CLAIMS = (
    ("planar beats ADVI", "planar flows (K = 64) reach a higher ELBO than mean-field ADVI"),
    ("the best flow beats ADVI", "the best flow by ELBO reaches a higher ELBO than mean-field ADVI"),
    ("depth helps", "a deeper planar flow (K = 64 over K = 16) reaches a higher ELBO"),
    ("k̂ ranks as the errors", f"k̂ ranks the families as their standardized errors do (Spearman's ρ > {RANK_RELATION:g})"),
    ("ADVI shrinks", "mean-field ADVI underestimates the posterior sds (median sd / sd_truth < 1)"),
)


def conclusions_text(found):
    """How many targets each conclusion holds on, fails on, or leaves undecided within the noise of R trainings."""
    lines = ["| the thesis's conclusion | holds | does not hold | undecided (within the noise) | untested | "
             "targets where it holds |", "| --- | ---: | ---: | ---: | ---: | --- |"]
    sentences = []
    for claim, text in CLAIMS:
        outcomes = {t: e.get(claim, "untested") for t, e in found.items()}
        count = {k: sum(v == k for v in outcomes.values()) for k in ("holds", "fails", "undecided", "untested")}
        where = ", ".join(t for t, v in outcomes.items() if v == "holds") or "none"
        lines.append(f"| {text} | {count['holds']} | {count['fails']} | {count['undecided']} | {count['untested']} "
                     f"| {where} |")
        tested = len(outcomes) - count["untested"]
        if tested:
            verdict = ("on every target tested" if count["holds"] == tested else "on none of the targets tested"
                       if count["holds"] == 0 else f"on {count['holds']} of {tested} targets tested")
            sentences.append(f"That {text}: holds {verdict}"
                             + (f", fails on {count['fails']}" if count["fails"] else "")
                             + (f", undecided on {count['undecided']}" if count["undecided"] else "") + ".")
    return "\n".join(lines) + "\n\n" + " ".join(sentences) + "\n"


FOUND = 1.0  # a family whose median |mean - truth| / sd_truth is below this has found the posterior's bulk


def unfound_text(rows, targets):
    """The targets on which no family came within ``FOUND`` sd of the ground truth's means: the budget did not
    find the posterior there, so the conclusions on them compare failures."""
    missed = []
    for target in targets:
        errors = [np.median(_values(r, "median_error_runs")) for r in rows
                  if r["target"] == target and _values(r, "median_error_runs")]
        if errors and min(errors) >= FOUND:
            missed.append(f"{target} (the smallest median error {min(errors):.1f} sd)")
    if not missed:
        return f"On every target some family comes within {FOUND:g} sd of the ground truth's means.\n"
    return (f"On {len(missed)} of {len(targets)} targets no family comes within {FOUND:g} sd of the ground truth's "
            f"means: {', '.join(missed)}. The budget did not find the posterior there, and the conclusions on those "
            "targets compare fits that all missed it.\n")


def model_informed_text(rows, targets):
    """Where the model-informed flow ran (the targets with a hierarchy), how its ELBO ranks against the best of
    the other families: higher, within the noise, or lower (the z rule on the trainings' ELBOs)."""
    outcomes = {}
    for target in targets:
        own = {r["family"]: r for r in rows if r["target"] == target and _values(r, "elbo_runs")}
        mif = own.pop(MODEL_INFORMED, None)
        if mif is None or not own:
            continue
        best = max(own.values(), key=lambda r: _mean_sd(_values(r, "elbo_runs"))[0])
        z = _z_elbo(mif, best)
        outcomes[target] = (_outcome(z), best["family"], z)
    if not outcomes:
        return ""
    phrase = {"holds": "above", "undecided": "level with (within the noise)", "fails": "below",
              "untested": "not comparable with"}
    parts = [f"{t}: {phrase[o]} {best} (z = {z:+.1f})" if z is not None else f"{t}: {phrase[o]} {best}"
             for t, (o, best, z) in outcomes.items()]
    count = sum(o == "holds" for o, _, _ in outcomes.values())
    return (f"The model-informed flow ran on the {len(outcomes)} targets whose model has a hierarchy; its ELBO is "
            f"above the best other family's on {count} of them. Against the best other family by ELBO: "
            + "; ".join(parts) + ".\n")


def headline(found):
    """README's line: on how many of the targets tested each of the first three conclusions holds, and where not."""
    parts = []
    for claim, text in CLAIMS[:3]:
        outcomes = [e.get(claim, "untested") for e in found.values()]
        tested = [o for o in outcomes if o != "untested"]
        others = [f"{label} on {n}" for label, n in (("fails", tested.count("fails")),
                                                     ("undecided", tested.count("undecided"))) if n]
        parts.append(f"{text} on {tested.count('holds')} of {len(tested)} targets"
                     + (f" ({', '.join(others)})" if others else ""))
    return "**Inference Gym** (`python -m experiments.gym`): " + "; ".join(parts) + ".\n"


def write_report(run, rows, refused, dims):
    targets = [t.name for t in run.scale.targets]
    found = conclusions(rows, targets)
    run.set_extra("conclusions", found)
    bugs = [r["key"] for r in rows if above_log_z(r)]
    lines = [prose.quick_banner(run, f"{run.scale.num_runs} trainings, {run.scale.step_factor:g} of each budget's "
                                     f"steps, {', '.join(targets)}")] if run.quick else []
    lines += [
        "Every family of `vinf.surrogates` on every offline target of TensorFlow Probability's Inference Gym with "
        f"ground truth, R = {run.scale.num_runs} trainings each, scored on {run.scale.eval_draws} draws per training: "
        "the ELBO, both k̂ estimators, and each posterior mean and sd against the gym's (in units of the gym's sd: "
        "|mean − truth| / sd_truth, and sd / sd_truth, under 1 the mode-seeking shrinkage the thesis describes). "
        f"The neural flows have two hidden layers of {' and '.join(map(str, HIDDEN))} units. Left out: "
        + "; ".join(f"{k} ({v})" for k, v in LEFT_OUT.items()) + ".\n",
        ("No ELBO exceeds its target's log Z where that is known (the normalised densities', and the eight "
         "schools' by quadrature)." if not bugs else
         f"ELBOs above log Z (bugs, not results): {', '.join(bugs)}.") + "\n",
        f"![gym overview]({run.out.name}/gym_overview.png)\n",
        "### The thesis's conclusions, target by target\n", unfound_text(rows, targets), conclusions_text(found),
        model_informed_text(rows, targets),
    ]
    if refused:
        lines += ["### Refused before any work\n", *[f"- {x.reason}." for x in refused], ""]
    lines.append("### Every target\n")
    lines += [target_table(rows, t, refused) + "\n" for t in targets]
    lines.append(f"Command: `{run.command}`\n")
    run.write_text("report.md", "\n".join(lines))
    run.write_text("headline.md", headline(found))
    figures.overview_figure(run, rows, targets, dims)
