"""The amortised-inference (NPE) section of the beyond-the-study report: q(z | y) at the observed y against
log p(y), the per-y fits of Table VI and NUTS; its calibration by SBC; its costs. Every sentence that compares or
judges is computed from the rows, with a branch for each outcome."""
import math

import numpy as np

from experiments.beyond.config import LABELS, MOONSHOT_FAMILY
from experiments.beyond.npe_jobs import true_model_row
from experiments.beyond.npe_figures import CAPTION, FIGURE_FILE, FIGURE_ID, coordinate
from experiments.beyond.report import ERRORS, MOONSHOT_GAP, _error
from experiments.common import agreement
from experiments.common.prose import plural
from experiments.common.schools import SAMPLE_SIZE

PER_Y = (LABELS[("planar", "default")], MOONSHOT_FAMILY)  # the per-y fits NPE is set beside (Table VI families)
KHAT_GOOD, KHAT_BAD = 0.5, 0.7  # PSIS's thresholds: reliable below 0.5, unreliable above 0.7 (Vehtari et al.)
SYMBOLS = dict(mu="μ", tau="τ", log_tau="log τ", theta_1="θ₁")


def parameterisation(row):
    return "centered" if row["centered"] else "non-centered"


def _runs(row):
    return len(row["elbo_runs"])


def _word(z, higher="higher", lower="lower"):
    return higher if z >= agreement.Z_AGREE else lower if z <= -agreement.Z_AGREE else "the same within the noise"


def per_y_fits(rows6, centered):
    """``[(label, row)]``: the per-y fits ``PER_Y`` of Table VI on the true model, of one parameterisation."""
    rows = [true_model_row(rows6, family, centered) for family in PER_Y]
    return [(f"{r['family']} K = {r['num_flows']}", r) for r in rows if r is not None]


# ------------------------------------------------------------------ at the observed y


SPREAD_FACTOR, SPREAD_FLOOR = 10.0, 1.0  # trainings disagree: the largest gap is 10x the smallest, and 1 nat beyond


def _gaps(row):
    return [row["log_evidence"] - e for e in row["elbo_runs"]]


def trainings_disagree(row):
    """Whether the trainings' gaps to log Z at the observed y differ by more than ``SPREAD_FACTOR`` times and
    ``SPREAD_FLOOR`` nats: then their mean and sd describe no training, and the z rule (which trusts them) is off."""
    gaps = sorted(_gaps(row))
    return gaps[-1] > SPREAD_FACTOR * max(gaps[0], 0.0) and gaps[-1] - gaps[0] > SPREAD_FLOOR


def nats(x):
    """A gap or an ELBO, readable from hundredths of a nat to a hundred million."""
    return f"{x:.2f}" if abs(x) < 1e4 else f"{x:.3g}"


def disagreeing_text(row, fits):
    """The ELBO at the observed y when the trainings disagree: each training's, and each against the per-y fits
    (how many of the R trainings are above a fit's mean), not the mean and the z rule."""
    gaps, runs = _gaps(row), _runs(row)
    within = sum(g <= MOONSHOT_GAP for g in gaps)
    text = (f"{parameterisation(row).capitalize()}: the {runs} trainings disagree at the observed y. Their ELBOs are "
            f"{', '.join(nats(e) for e in row['elbo_runs'])} against log p(y) = {row['log_evidence']:.2f}: gaps from "
            f"{nats(min(gaps))} to {nats(max(gaps))} nats (median {nats(float(np.median(gaps)))}), so the mean "
            f"({nats(row['elbo_mean'])}) and sd in Table VI describe none of them; {within} of {runs} "
            f"{'is' if within == 1 else 'are'} within the moonshot's {MOONSHOT_GAP:g} nats. No training's ELBO lies "
            "above log p(y). A q(z | y) whose draws at this y reach where the posterior density all but vanishes has "
            "such an ELBO, whatever its k̂ (which reads the other tail of the weights, where q is too small).")
    parts = [f"{sum(e > fit['elbo_mean'] for e in row['elbo_runs'])} of {runs} are above {label}'s "
             f"{fit['elbo_mean']:.3f}" for label, fit in fits]
    return text + (" Against the per-y fits of Table VI on the same model: " + "; ".join(parts) + "." if parts else "")


def elbo_text(row, fits):
    """The ELBO at the observed y against log p(y) (a bug above it) and against the per-y fits (the z rule)."""
    gap = row["log_evidence"] - row["elbo_mean"]
    se = agreement.standard_error(row["elbo_std"], _runs(row))
    head = (f"{parameterisation(row).capitalize()}: the ELBO at the observed y is {row['elbo_mean']:.3f} ± "
            f"{row['elbo_std']:.3f} (sd over {_runs(row)} trainings) against log p(y) = {row['log_evidence']:.2f}")
    bugs = row.get("above_log_z_runs", [])
    if not (gap < -3 * se or bugs) and trainings_disagree(row):
        return disagreeing_text(row, fits)
    if gap < -3 * se or bugs:
        where = (f"training{'s' if len(bugs) > 1 else ''} {', '.join(str(i + 1) for i in bugs)} above it beyond three "
                 "standard errors of its draw sets" if bugs else f"the mean {-gap:.3f} nats above it")
        text = f"{head}: **an ELBO above log p(y), a bug, not a result** ({where})."
    else:
        moonshot = "within" if gap <= MOONSHOT_GAP else "beyond"
        noise = f" (not distinguishable from it over the trainings: standard error {se:.3f})" if gap <= 3 * se else ""
        text = (f"{head}: {gap:.3f} nats below it{noise}, {moonshot} the moonshot's {MOONSHOT_GAP:g} nats. No "
                "training's ELBO lies above log p(y) (each against three standard errors of its draw sets).")
    if not fits:
        return text + " No per-y fit of Table VI on this parameterisation to set it beside."
    parts = []
    for label, fit in fits:
        z = agreement.z_rows(row, fit, "elbo")
        parts.append(f"{_word(z)} than {label}'s {fit['elbo_mean']:.3f} (z {agreement.format_z(z)})"
                     if abs(z) >= agreement.Z_AGREE else
                     f"the same as {label}'s {fit['elbo_mean']:.3f} within the noise (z {agreement.format_z(z)})")
    return text + " Against the per-y fits of Table VI on the same model it is " + "; ".join(parts) + "."


def _khat_band(mean, sd, runs):
    """Where a mean k-hat stands against 0.5 and 0.7, by the z rule on its standard error."""
    se = agreement.standard_error(sd, runs)
    z = lambda t: (mean - t) / se if se > 0 else (0.0 if mean == t else math.copysign(math.inf, mean - t))  # noqa: E731
    if z(KHAT_GOOD) <= -agreement.Z_AGREE:
        return f"below {KHAT_GOOD:g}"
    if z(KHAT_BAD) >= agreement.Z_AGREE:
        return f"above {KHAT_BAD:g}"
    if z(KHAT_GOOD) >= agreement.Z_AGREE and z(KHAT_BAD) <= -agreement.Z_AGREE:
        return f"between {KHAT_GOOD:g} and {KHAT_BAD:g}"
    near = KHAT_GOOD if abs(z(KHAT_GOOD)) < agreement.Z_AGREE else KHAT_BAD
    return f"not distinguishable from {near:g}"


def khat_good(row):
    """Both estimators' mean k-hat below 0.5 beyond the noise."""
    return all(_khat_band(row[m], row[s], _runs(row)) == f"below {KHAT_GOOD:g}"
               for m, s in (("khat_mean", "khat_std"), ("khat_thesis_mean", "khat_thesis_std")))


def khat_text(row, fits):
    """k-hat on both estimators, placed against 0.5 and 0.7 and against the per-y fits."""
    runs = _runs(row)
    arviz, study = (_khat_band(row["khat_mean"], row["khat_std"], runs),
                    _khat_band(row["khat_thesis_mean"], row["khat_thesis_std"], runs))
    where = f"both {arviz}" if arviz == study else f"{arviz} on ArviZ's and {study} on the 2015 PSIS"
    text = (f"Its k̂ is {row['khat_mean']:.2f} ± {row['khat_std']:.2f} (ArviZ) and {row['khat_thesis_mean']:.2f} ± "
            f"{row['khat_thesis_std']:.2f} (2015 PSIS): {where}")
    if arviz == study == f"below {KHAT_GOOD:g}":
        text += ", where importance sampling from q at y is reliable"
    elif f"above {KHAT_BAD:g}" in (arviz, study):
        text += ", where importance sampling from q at y is not to be trusted"
    parts = []
    for label, fit in fits:
        za, zs = agreement.z_rows(row, fit, "khat_arviz"), agreement.z_rows(row, fit, "khat")
        words = (_word(za, "higher (worse)", "lower (better)"), _word(zs, "higher (worse)", "lower (better)"))
        verdict = (f"{words[0]} on both" if words[0] == words[1] else f"{words[0]} on ArviZ's, {words[1]} on the 2015")
        parts.append(f"{verdict} against {label}'s {fit['khat_mean']:.2f} and {fit['khat_thesis_mean']:.2f} "
                     f"(z {agreement.format_z(za)}, {agreement.format_z(zs)})")
    return text + ("; " + "; ".join(parts) if parts else "") + "."


def nuts_mcse(draws):
    """``{quantity: (mcse of the mean, mcse of the sd)}`` of NUTS's eight-schools draws (chains kept apart), by
    ArviZ's effective sample sizes and its formulas (computed here: ``az.mcse(method="sd")`` fails under
    numba with NumPy 2)."""
    import arviz as az

    with np.load(draws / "nuts_J8.npz") as data:
        values = dict(mu=data["mu"], tau=data["tau"], log_tau=np.log(data["tau"]), theta_1=data["theta"][..., 0])
    out = {}
    for name, x in values.items():
        square = (x - x.mean()) ** 2
        var = square.mean()
        varvar = ((square ** 2).mean() - var ** 2) / float(az.ess(square, method="mean"))
        out[name] = (float(x.std() / np.sqrt(float(az.ess(x, method="mean")))), float(np.sqrt(varvar / var / 4)))
    return out


def error_noise(row, name, nuts, mcse, runs_draws):
    """Twice the Monte-Carlo error of a row's (mean, sd) error on ``name``, in NUTS's sd: NUTS's mcse and that of
    q's ``runs_draws`` draws (R trainings of S each, as Gaussian draws of q's own sd)."""
    ref = nuts[name]["sd"]
    sd_q = row["posterior"][name]["sd"]
    q_mean, q_sd = sd_q / math.sqrt(runs_draws), sd_q / math.sqrt(2 * runs_draws)
    return tuple(agreement.Z_AGREE * math.hypot(m, q) / ref for m, q in zip(mcse[name], (q_mean, q_sd)))


def beyond_noise(row, nuts, mcse, runs_draws):
    """``[(quantity, "mean" | "sd", error)]``: the posterior errors beyond twice their Monte-Carlo error."""
    out = []
    for name in ERRORS:
        errors = _error(row, name, nuts, False)
        if errors is None:
            continue
        for kind, error, noise in zip(("mean", "sd"), errors, error_noise(row, name, nuts, mcse, runs_draws)):
            if abs(error) > noise:
                out.append((name, kind, error))
    return out


def _largest(row, nuts):
    """The largest absolute posterior error of a row, and which it is."""
    errors = [(abs(e), kind, name) for name in ERRORS if _error(row, name, nuts, False)
              for kind, e in zip(("mean", "sd"), _error(row, name, nuts, False))]
    if not errors:
        return "none recorded"
    size, kind, name = max(errors)
    return f"{size:.2f}, the {kind} of {SYMBOLS[name]}"


def error_text(row, fits, nuts, mcse, num_draws):
    """NPE's posterior errors against NUTS at the observed y, which exceed their noise, and the per-y fits'."""
    errs = "; ".join(f"{SYMBOLS[n]} {e[0]:+.2f}, {e[1]:+.2f}" for n in ERRORS
                     if (e := _error(row, n, nuts, False)) is not None)
    total = 2 * len(ERRORS)
    off = beyond_noise(row, nuts, mcse, _runs(row) * num_draws)
    named = ", ".join(f"the {kind} of {SYMBOLS[name]} ({error:+.2f})" for name, kind, error in off)
    count = ("all" if len(off) == total else f"{len(off)} of these") + f" {total} exceed"
    text = (f"Against NUTS at the observed y, in NUTS's posterior sd (mean error, sd error of q's draws): {errs}; "
            + (f"{count} twice their Monte-Carlo error (NUTS's and q's draws'): {named}"
               if off else f"none of these {total} exceeds twice its Monte-Carlo error (NUTS's and q's draws')")
            + f"; the largest is {_largest(row, nuts)}.")
    if not fits:
        return text
    parts, order = [], []
    for label, fit in fits:
        n = len(beyond_noise(fit, nuts, mcse, _runs(fit) * num_draws))
        order.append("more such errors than" if len(off) > n else "fewer such errors than" if len(off) < n
                     else "as many such errors as")
        parts.append(f"{label} {n} of {total} (largest {_largest(fit, nuts)})")
    compared = (f"{order[0]} each per-y fit" if len(set(order)) == 1
                else " and ".join(f"{o} {label}" for o, (label, _) in zip(order, fits)))
    return text + f" Beyond the noise, the per-y fits have: {'; '.join(parts)}. NPE has {compared}."


# ------------------------------------------------------------------ calibration


def sbc_level(row):
    """``(tests, level)``: the chi-square tests of one parameterisation (coordinates x trainings) and the z rule's
    two-sided level Bonferroni-corrected over them."""
    tests = len(row["sbc_p_values"]) * len(row["sbc_names"])
    return tests, agreement.P_AGREE / tests


def sbc_rejected(row):
    """``{coordinate: [trainings (from 1)]}`` whose rank histogram SBC rejects at the corrected level, in the
    coordinates' order."""
    _, level = sbc_level(row)
    out = {}
    for j, name in enumerate(row["sbc_names"]):
        trainings = [r + 1 for r, p_values in enumerate(row["sbc_p_values"]) if p_values[j] < level]
        if trainings:
            out[name] = trainings
    return out


def sbc_text(row):
    tests, level = sbc_level(row)
    rejected = sbc_rejected(row)
    count = sum(len(v) for v in rejected.values())
    smallest = min(min(p) for p in row["sbc_p_values"])
    head = (f"SBC, {parameterisation(row)}: {count} of {tests} rank histograms ({len(row['sbc_names'])} coordinates "
            f"× {len(row['sbc_p_values'])} trainings) rejected at p < {level:.1e}")
    if not rejected:
        return head + f" (smallest p {smallest:.2g}): no coordinate's ranks depart from uniform."
    which = "; ".join(f"{coordinate(n)} in training{'s' if len(t) > 1 else ''} {', '.join(map(str, t))}"
                      for n, t in rejected.items())
    return head + f": {which}."


def sbc_verdict(row):
    """SBC (over the prior predictive) set against k-hat (at the observed y): each outcome its sentence."""
    calibrated, good = not sbc_rejected(row), khat_good(row)
    label = parameterisation(row).capitalize()
    if calibrated and good:
        return (f"{label}, both checks pass: no rank histogram is rejected, and k̂ at the observed y is below "
                f"{KHAT_GOOD:g} (q covers the posterior there; the ELBO's gap says how closely it fits).")
    if calibrated:
        return (f"{label}, SBC passes yet k̂ at the observed y is not below {KHAT_GOOD:g} on both estimators: "
                "calibration on average over the prior predictive does not make q right at this y.")
    if good:
        return (f"{label}, SBC rejects some coordinates while k̂ at the observed y is below {KHAT_GOOD:g}: q errs "
                "elsewhere in the prior predictive, not at this y.")
    return (f"{label}, both checks find fault: SBC rejects some coordinates and k̂ at the observed y is not below "
            f"{KHAT_GOOD:g}.")


CAVEAT = ("Uniform ranks do not prove q right: a q that returned the prior whatever y would pass as well (Talts et al. "
          "2018, section 4), and SBC averages over the prior predictive's data sets, not Table I's; the ELBO and k̂ "
          "above judge q at the observed y.")


# ------------------------------------------------------------------ costs


def seconds_per_training(row, rows):
    """A row's group training time over the trainings its group held (``rows``: every row of the group)."""
    members = sum(_runs(r) for r in rows if r["group"] == row["group"])
    return row["group_train_seconds"] / members


def cost_text(rows, rows6, num_steps):
    """Simulations used and seconds per training, against a per-y fit's (and when amortisation pays)."""
    sims = ", ".join(f"{r['steps']} steps × {r['batch_size']} = {millions(r['simulations_per_training'])} "
                     f"({parameterisation(r)})" for r in rows)
    total = sum(r["simulations"] for r in rows)
    text = [f"Costs: an NPE training draws fresh prior-predictive simulations at every step, {sims}, and its SBC "
            f"{rows[0]['sbc_datasets']} more: {millions(total)} in all over the {sum(_runs(r) for r in rows)} "
            f"trainings. A per-y fit draws no simulation but evaluates the model's density {num_steps} × "
            f"{SAMPLE_SIZE} = {millions(num_steps * SAMPLE_SIZE)} times."]
    for r in rows:
        mine = r["group_train_seconds"] / _runs(r)
        head = (f"{parameterisation(r).capitalize()}: {mine:.0f} s per NPE training (one core), and "
                f"{r['group_evaluate_seconds'] / _runs(r):.1f} s to score it at y by the protocol")
        fits = per_y_fits(rows6, r["centered"])
        if not fits:
            text.append(head + ".")
            continue
        theirs = [seconds_per_training(fit, rows6) for _, fit in fits]
        against = " and ".join(f"{t:.0f} s of {label}" for t, (label, _) in zip(theirs, fits))
        worth = " and ".join(f"{mine / t:.1f} of {label}'s ({pays(mine / t)})" for t, (label, _) in zip(theirs, fits))
        text.append(f"{head}, against {against} per training (a group's batched training time over the trainings it "
                    f"held): one NPE training costs as much as {worth}.")
    return " ".join(text)


def millions(n):
    """``5.12 M`` from a million on, ``3,200`` below."""
    return f"{n / 1e6:.2f} M" if n >= 1e6 else f"{n:,}"


def pays(ratio):
    """When NPE's training, ``ratio`` per-y fits' worth, costs less than fitting each data set."""
    if ratio < 1:
        return "NPE pays from the first data set"
    return f"NPE pays from {math.floor(ratio) + 1} data sets on"


# ------------------------------------------------------------------ the section


def settings_text(rows, npe, protocol):
    steps = "; ".join(f"{parameterisation(r)}: {r['steps']} Adam steps of {r['batch_size']} simulations" for r in rows)
    return (f"A conditional masked autoregressive flow q(z | y) (`vinf.npe`: {plural(npe.num_flows, 'MAF layer')}, "
            f"MADE networks of {' and '.join(map(str, npe.hidden_units))} units that also see y, standardised and "
            "squashed by asinh), trained on fresh draws of the eight-schools prior predictive to maximise "
            "E log q(z | y), then used at Table I's y with no further fitting. "
            f"{protocol.num_runs} trainings per parameterisation, each its own seed ({steps}; learning rate "
            f"{npe.learning_rate:g}); each scored at the observed y by the protocol (k̂ and the ELBO over "
            f"{protocol.num_sets} sets of {protocol.num_draws} draws) against the true model, whose log Z is "
            f"log p(y), and checked by simulation-based calibration over {npe.sbc_datasets} simulated data "
            f"sets ({npe.sbc_draws} draws of q each, ranks in {npe.sbc_bins} bins, Pearson's chi-square per "
            f"coordinate, tested at the z rule's two-sided level {agreement.P_AGREE:.4f} Bonferroni-corrected over "
            "coordinates and trainings, per parameterisation). Its rows are Table VI's last.")


def section(run, rows, rows6, nuts, mcse):
    """The report's NPE section as markdown lines (``rows``: the NPE rows; ``nuts``: ``report.nuts_reference``;
    ``mcse``: ``nuts_mcse``)."""
    lines = ["### Amortised inference (NPE)\n"]
    if not rows:
        return lines + ["Not run.\n"]
    scale = run.scale
    lines.append(settings_text(rows, scale.npe, scale.protocol) + "\n")
    for r in rows:
        fits = per_y_fits(rows6, r["centered"])
        lines.append(" ".join([elbo_text(r, fits), khat_text(r, fits),
                               error_text(r, fits, nuts, mcse, scale.protocol.num_draws)]) + "\n")
    lines.append(" ".join([sbc_text(r) for r in rows] + [sbc_verdict(r) for r in rows] + [CAVEAT]) + "\n")
    lines.append(cost_text(rows, rows6, scale.protocol.num_steps) + "\n")
    if run.path(FIGURE_FILE).exists():
        lines += [f"![{FIGURE_ID}]({run.out.name}/{FIGURE_FILE})\n", CAPTION + "\n"]
    return lines


def headline(rows):
    """One line for README's headline."""
    if not rows:
        return "**Amortised inference (NPE)**: not run."
    parts = []
    for r in rows:
        tests, _ = sbc_level(r)
        rejected = sum(len(v) for v in sbc_rejected(r).values())
        gap = r["log_evidence"] - r["elbo_mean"]
        elbo = (f"the trainings' ELBOs disagree (gaps {nats(min(_gaps(r)))} to {nats(max(_gaps(r)))} nats)"
                if trainings_disagree(r) else f"ELBO {r['elbo_mean']:.2f} (gap {gap:.3f})")
        parts.append(f"{parameterisation(r)}: {elbo}, k̂ {r['khat_mean']:.2f} "
                     f"(ArviZ) and {r['khat_thesis_mean']:.2f} (2015), SBC rejects {rejected} of {tests} rank "
                     "histograms")
    return ("**Amortised inference (NPE)**: one conditional flow per parameterisation, trained on the prior "
            f"predictive only, at Table I's y against log p(y) = {rows[0]['log_evidence']:.2f}: " + "; ".join(parts)
            + ".")
