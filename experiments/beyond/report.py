"""The beyond-the-study report: Table VI, the moonshot, the depth question and sticking the landing, every
sentence computed from the rows with a branch for each outcome."""
import numpy as np

from experiments.beyond import figures
from experiments.beyond.jobs import depth_rows, tanh_series
from experiments.beyond.config import (FAMILIES, FROM_EIGHT_SCHOOLS, HIDDEN, LABELS, MOONSHOT_FAMILY, NEURAL, SLOW,
                                       SMALL_LR, STL, STL_PLAIN, TRAINED_AS, depth)
from experiments.common import agreement
from experiments.common.schools import LEARNING_RATE, SAMPLE_SIZE, Spec, load_draws, quick_banner
from vinf.surrogates import LOG_SCALE_BOUND


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
        table = FROM_EIGHT_SCHOOLS.get((method, variant.name)) or TRAINED_AS.get((method, variant.name), "VI")
        for compat in (True, False):
            for centered in (True, False):
                key = Spec(table, method, centered, 8, depth(scale, k), compat, variant).key
                row = (baseline if (method, variant.name) in FROM_EIGHT_SCHOOLS else own).get(key)
                if row is not None:
                    rows.append(dict(row, family=LABELS[(method, variant.name)]))
    return rows


def _error(row, name, nuts, weighted):
    p = row.get("posterior", {}).get(name)
    if p is None:
        return None
    tail = "_weighted" if weighted else ""
    ref = nuts[name]
    return (p["mean" + tail] - ref["mean"]) / ref["sd"], (p["sd" + tail] - ref["sd"]) / ref["sd"]


def table6_markdown(rows, nuts, params):
    head = ("| family | target | centered | K | parameters | k̂ ArviZ | k̂ 2015 | ELBO | gap to log Z "
            "| μ mean, sd err (raw / PSIS) | τ | log τ | θ₁ | train s |")
    lines = [head, "|" + " --- |" * 14]
    for r in rows:
        errs = []
        for name in ERRORS:
            raw, weighted = _error(r, name, nuts, False), _error(r, name, nuts, True)
            errs.append("" if raw is None else f"{raw[0]:+.2f}, {raw[1]:+.2f} / {weighted[0]:+.2f}, {weighted[1]:+.2f}")
        lines.append(
            f"| {r['family']} | {'study' if r['thesis_compat'] else 'true'} | {'yes' if r['centered'] else 'no'} "
            f"| {r['num_flows'] or '–'} | {params[(r['method'], r['num_flows'], r['variant'])]} "
            f"| {r['khat_mean']:.2f} ± {r['khat_std']:.3f} | {r['khat_thesis_mean']:.2f} "
            f"| {r['elbo_mean']:.2f} ± {r['elbo_std']:.3f} | {r['log_evidence'] - r['elbo_mean']:.3f} "
            f"| {' | '.join(errs)} | {r['group_train_seconds']:.0f} |")
    return "\n".join(lines)


ERRORS = ("mu", "tau", "log_tau", "theta_1")  # Table VI's posterior errors against NUTS


def headline_markdown(rows):
    """Table VI at a glance on the true model (README): each family's k-hat and gap, centered and not."""
    lines = ["| family (true model) | k̂ centered | k̂ non-centered | gap to log p(y), centered | gap, non-centered |",
             "| --- | --- | --- | --- | --- |"]
    by_family = {}
    for r in rows:
        if not r["thesis_compat"]:
            by_family.setdefault(r["family"], {})[r["centered"]] = r
    for family, pair in by_family.items():
        cells = []
        for field in ("khat", "gap"):
            for centered in (True, False):
                r = pair.get(centered)
                cells.append("" if r is None else f"{r['khat_mean']:.2f} ± {r['khat_std']:.2f}" if field == "khat"
                             else f"{_gap(r):.3f}")
        lines.append(f"| {family} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ------------------------------------------------------------------ sentences


MOONSHOT_KHAT, MOONSHOT_GAP = 0.5, 0.05
NECK = -1.0  # log tau below this is the funnel's neck (the draws Figure 43 shows reaching it or not)


def _gap(row):
    return row["log_evidence"] - row["elbo_mean"]


def _above_log_z(row):
    """An ELBO above log Z beyond three standard errors of its mean: a bug, never a result."""
    return _gap(row) < -3 * agreement.standard_error(row["elbo_std"], len(row["elbo_runs"]))


def _true_pairs(rows):
    """``{family: {centered: row}}`` on the true model, for the families with both parameterisations."""
    by_family = {}
    for r in rows:
        if not r["thesis_compat"]:
            by_family.setdefault(r["family"], {})[r["centered"]] = r
    return {f: p for f, p in by_family.items() if True in p and False in p}


def meets_khat(row):
    """Mean k-hat below ``MOONSHOT_KHAT`` on both estimators."""
    return row["khat_mean"] < MOONSHOT_KHAT and row["khat_thesis_mean"] < MOONSHOT_KHAT


def moonshot_text(rows, neck=None, brief=False):
    """The moonshot, with its result either way: one family with mean k-hat < 0.5 on both estimators on the
    centered true model, and an ELBO within 0.05 nats of log p(y) on both parameterisations, by the study's
    protocol. ``neck``: ``{family: (share of q's draws, share of NUTS's) with log tau < NECK}``; ``brief``: the
    verdict without the list of what was tried (README's headline)."""
    pairs = _true_pairs(rows)
    head = (f"The moonshot: one family with mean k̂ < {MOONSHOT_KHAT} on both estimators (ArviZ's and the 2015 PSIS) "
            f"on the centered true model, and an ELBO within {MOONSHOT_GAP} nats of log p(y) on both "
            "parameterisations.")
    if not pairs:
        return head + " No family has both rows yet.\n"
    bugs = [f for f, p in pairs.items() if _above_log_z(p[False]) or _above_log_z(p[True])]
    reached = [f for f, p in pairs.items() if f not in bugs and meets_khat(p[True])
               and max(_gap(p[True]), _gap(p[False])) <= MOONSHOT_GAP]
    tried = "; ".join(f"{f}: centered k̂ {p[True]['khat_mean']:.2f} (2015 PSIS {p[True]['khat_thesis_mean']:.2f}), "
                      f"gap {_gap(p[True]):.3f} centered and {_gap(p[False]):.3f} non-centered" for f, p in pairs.items())
    best_c = min(pairs.values(), key=lambda p: max(p[True]["khat_mean"], p[True]["khat_thesis_mean"]))[True]
    best_gap = min(pairs.values(), key=lambda p: max(_gap(p[True]), _gap(p[False])))
    if reached:
        verdict = f"**Reached** by {', '.join(reached)}."
    else:
        near_c = [f for f, p in pairs.items() if meets_khat(p[True])]
        near_gap = [f for f, p in pairs.items() if max(_gap(p[True]), _gap(p[False])) <= MOONSHOT_GAP]
        verdict = (f"**Not reached.** The lowest centered k̂ is {best_c['khat_mean']:.2f} (2015 PSIS "
                   f"{best_c['khat_thesis_mean']:.2f}; {best_c['family']}), the smallest larger gap of the two "
                   f"parameterisations {max(_gap(best_gap[True]), _gap(best_gap[False])):.3f} nats "
                   f"({best_gap[True]['family']}). "
                   + (f"The k̂ goal alone is met by {', '.join(near_c)}; " if near_c else "No family meets the k̂ goal; ")
                   + (f"the gap goal alone by {', '.join(near_gap)}." if near_gap else "none meets the gap goal.")
                   + " What stands in the way is the centered funnel: every family's centered k̂ stays above its "
                   "non-centered one." * all(p[True]["khat_mean"] > p[False]["khat_mean"] for p in pairs.values()))
    if bugs:
        verdict += f" An ELBO above log p(y) (a bug, not a result) in: {', '.join(bugs)}."
    text = f"{head} {verdict}" + ("" if brief else f" Tried: {tried}.")
    if neck and not brief:
        text += " Into the neck (log τ < {:g}), on the centered true model: ".format(NECK) + "; ".join(
            f"{f} puts {q:.1%} of its draws there, NUTS {ref:.1%}" for f, (q, ref) in neck.items()) + "."
    return text + "\n"


def neck_shares(run, rows6, own, baseline_draws):
    """``{family: (share of q's draws, share of NUTS's)}`` with log tau below ``NECK`` on the centered true
    model: each family's best training (by k-hat) against NUTS on eight schools."""
    with np.load(baseline_draws / "nuts_J8.npz") as data:
        reference = float(np.mean(np.log(data["tau"]) < NECK))
    out = {}
    for r in rows6:
        if r["thesis_compat"] or not r["centered"] or "stl" in r["variant"]:
            continue
        _, _, log_tau, _ = load_draws(run.draws if r["key"] in own else baseline_draws, r["key"], True, 8)
        out[r["family"]] = (float(np.mean(log_tau < NECK)), reference)
    return out


def ordering_text(rows):
    """Whether the mif's ordering or its prior inputs do the work: the IAF in the hierarchical order beside the
    plain IAF and the mif, on the centered true model (k-hat by ArviZ's estimator, the ELBO)."""
    pairs = _true_pairs(rows)
    names = ("IAF", "IAF, hyperparameters first", MOONSHOT_FAMILY)
    if not all(n in pairs for n in names):
        return "The ordering question needs the IAF in both orders and the mif on the true model: not all ran.\n"
    plain, ordered, mif = (pairs[n][True] for n in names)
    z_order = agreement.z_rows(ordered, plain, "elbo")
    z_inputs = agreement.z_rows(mif, ordered, "elbo")
    word = lambda z: ("higher" if z >= agreement.Z_AGREE else "lower" if z <= -agreement.Z_AGREE  # noqa: E731
                      else "the same within the noise")
    if z_inputs >= agreement.Z_AGREE and abs(z_order) < agreement.Z_AGREE:
        verdict = "the prior inputs do the work, not the ordering"
    elif z_order >= agreement.Z_AGREE and abs(z_inputs) < agreement.Z_AGREE:
        verdict = "the ordering does the work, not the prior inputs"
    elif z_order >= agreement.Z_AGREE and z_inputs >= agreement.Z_AGREE:
        verdict = "both the ordering and the prior inputs add to the fit"
    else:
        verdict = "neither the ordering nor the prior inputs improves the ELBO beyond the noise"
    return (f"Centered true model: putting the hyperparameters first makes the IAF's ELBO {word(z_order)} "
            f"({ordered['elbo_mean']:.3f} against {plain['elbo_mean']:.3f}, z {agreement.format_z(z_order)}; k̂ "
            f"{ordered['khat_mean']:.2f} against {plain['khat_mean']:.2f}); the mif's prior inputs, on top of that "
            f"order, make it {word(z_inputs)} ({mif['elbo_mean']:.3f}, z {agreement.format_z(z_inputs)}; k̂ "
            f"{mif['khat_mean']:.2f}): {verdict}.\n")


REFERENCE_FAMILY = "planar (tanh)"  # the thesis's best on the funnel (Table III, K = 64)
SUITED = ("IAF", "IAF, hyperparameters first", MOONSHOT_FAMILY, "RealNVP", "spline")  # section VII's mappings


def _suited(rows):
    """Section VII's second question: do the "better suited mappings" it names (inverse and masked
    autoregressive flows; here also RealNVP, splines and the model-informed flow, a forward autoregressive one)
    do better on the centered funnel than the study's planar flow? Each family against planar (tanh), centered
    true model, on the ELBO and both k-hat estimators, Holm-corrected over every test. ``(detail, answer)``, or
    ``(None, why not)`` when the rows are missing."""
    centered = {f: p[True] for f, p in _true_pairs(rows).items()}
    if REFERENCE_FAMILY not in centered:
        return None, "The suited-mappings question needs the planar (tanh) row on the centered true model: it did not run."
    planar = centered[REFERENCE_FAMILY]
    families = [f for f in SUITED if f in centered]
    if not families:
        return None, "None of the mappings section VII names ran on the centered true model."
    quantities = ("elbo", "khat", "khat_arviz")
    keys = [(f, q) for f in families for q in quantities]
    zs = {k: agreement.z_rows(centered[k[0]], planar, k[1]) for k in keys}
    significant = dict(zip(keys, agreement.holm([zs[k] for k in keys])))

    def sign(f, q):
        """+1 better than planar, -1 worse, 0 not told apart (a higher ELBO, a lower k-hat is better)."""
        if not significant[(f, q)]:
            return 0
        return (1 if zs[(f, q)] > 0 else -1) * (1 if q == "elbo" else -1)

    verdicts, parts = {}, []
    for f in families:
        signs = [sign(f, q) for q in quantities]
        verdicts[f] = ("better" if max(signs) > 0 and min(signs) >= 0 else "worse" if min(signs) < 0 and max(signs) <= 0
                       else "mixed" if any(signs) else "not told apart")
        r = centered[f]
        parts.append(f"{f} ELBO {r['elbo_mean']:.3f} (z {agreement.format_z(zs[(f, 'elbo')])}), k̂ 2015 "
                     f"{r['khat_thesis_mean']:.2f} (z {agreement.format_z(zs[(f, 'khat')])}), ArviZ "
                     f"{r['khat_mean']:.2f} (z {agreement.format_z(zs[(f, 'khat_arviz')])}): {verdicts[f]}")
    groups = {v: [f for f in families if verdicts[f] == v] for v in ("better", "worse", "mixed", "not told apart")}
    counted = "; ".join(f"{v}: {', '.join(fs)}" for v, fs in groups.items() if fs)
    if groups["better"] and len(groups["better"]) == len(families):
        verdict = "every one of them does better than the study's flow on the funnel, as section VII expected"
    elif groups["better"]:
        verdict = f"{len(groups['better'])} of {len(families)} do better than the study's flow on the funnel"
    elif groups["worse"] and not groups["mixed"]:
        verdict = "none does better than the study's flow on the funnel, and some do worse"
    elif groups["mixed"]:
        verdict = "none is better on every measure: each is worse on one, or not told apart"
    else:
        verdict = "none is told apart from the study's flow on the funnel at these trainings"
    detail = (f"Against planar (tanh) K = {planar['num_flows']} on the centered true model (ELBO "
              f"{planar['elbo_mean']:.3f}, k̂ 2015 {planar['khat_thesis_mean']:.2f}, ArviZ {planar['khat_mean']:.2f};"
              f" {len(keys)} tests, Holm-corrected; better: a higher ELBO or a lower k̂, and no measure worse): "
              + "; ".join(parts) + f". In all, {counted}.")
    return detail, f"**Better-suited mappings (section VII), centered funnel:** {verdict}."


def suited_text(rows, headline=False):
    """The suited-mappings answer with its numbers (``headline``: the answer alone, for README)."""
    detail, answer = _suited(rows)
    return (answer if headline or detail is None else f"{detail} {answer}") + "\n"


def _compare(a, b, label_a, label_b):
    """``(z, phrase)``: k-hat (2015 PSIS) of row a against row b, lower is better."""
    z = agreement.z_rows(a, b, "khat")
    word = ("lower (better)" if z <= -agreement.Z_AGREE else "higher (worse)" if z >= agreement.Z_AGREE
            else "the same within the noise")
    return z, (f"{label_a} {a['khat_thesis_mean']:.2f} against {label_b} {b['khat_thesis_mean']:.2f}: {word} "
               f"(z {agreement.format_z(z)})")


DEEP = 128  # the depths at which the plateau's causes are tested (the study saw it from K = 128)
VANISHING = 0.1  # the first layers' gradient norm below this share of the last layers' counts as vanishing


def vanishing_ratio(norms):
    """Mean gradient norm of the first eighth of the layers over that of the last eighth (at least one layer)."""
    norms = np.asarray(norms)
    n = max(1, len(norms) // 8)
    return float(norms[:n].mean() / norms[-n:].mean())


def diverged_text(diverged):
    """The rows whose every training attempt diverged: a result (the family or depth cannot be trained so at
    the protocol's settings), with the last attempt's error; '' when none did."""
    if not diverged:
        return ""
    parts = [f"{r['key']} ({r['diverged'].split(';')[0]})" for r in diverged]
    return (f"Diverged in each of its {diverged[0]['attempts']} attempts (a new seed each time), so not scored: "
            + "; ".join(parts) + ".")


def depth_text(own, baseline, diverged=(), conclusion_only=False):
    """The depth answer (``depth_answers``): the whole, or (``conclusion_only``) the verdict alone."""
    text, verdict = depth_answers(own, baseline, diverged)
    return verdict if conclusion_only else text


def depth_answers(own, baseline, diverged=()):
    """The study's depth question answered from the numbers: does k-hat stop improving with depth, and is
    that vanishing gradients (first layers' gradients small; a non-vanishing non-linearity helps), optimisation
    (a smaller learning rate helps) or noise (no difference beyond the spread of R trainings)? ``diverged``:
    rows of the sweep that diverged in every attempt, named as such. ``(the whole answer, its verdict)``."""
    tanh, leaky, slow = tanh_series(own, baseline), depth_rows(own, "leaky_relu"), depth_rows(own, SLOW.name)
    if len(tanh) < 2:
        return ("The depth sweep has fewer than two depths.\n",) * 2
    series = lambda sel: ", ".join(f"{r['khat_thesis_mean']:.2f} (K = {r['num_flows']})" for r in sel) or "none"  # noqa: E731
    text = [f"k̂ (2015 PSIS) on the study's two-school centered target, planar tanh: {series(tanh)}; leaky ReLU: "
            f"{series(leaky)}; tanh at learning rate {SMALL_LR:g}: {series(slow)}."]
    swept = [r for r in diverged if r["table"] == "V"]
    if swept:
        text.append(diverged_text(swept))
    a, b = tanh[-2], tanh[-1]
    z_depth, phrase = _compare(b, a, f"K = {b['num_flows']}", f"K = {a['num_flows']}")
    text.append(f"Deepening tanh flows from K = {a['num_flows']} to {b['num_flows']}: {phrase}.")
    evidence = {}
    tanh_at = {r["num_flows"]: r for r in tanh}
    ratios = {}
    for r in own:
        norms = r.get("gradient_norms")
        if norms and r.get("variant") == "default" and r["thesis_compat"]:
            ratios[r["num_flows"]] = (vanishing_ratio(norms["before"]), vanishing_ratio(norms["after"]))
    for k, (before, after) in sorted(ratios.items()):
        text.append(f"At K = {k} (tanh) the first eighth of the layers gets {before:.2f}× the gradient norm of the "
                    f"last eighth before training and {after:.2f}× at the checkpoint.")
    if ratios:
        evidence["vanishing gradients"] = min(min(v) for v in ratios.values()) < VANISHING
    untested = {}  # the tests whose every deep row diverged: {label: depths}
    for label, rows, variant in (("leaky ReLU", leaky, "leaky_relu"), (f"learning rate {SMALL_LR:g}", slow, SLOW.name)):
        matched = [(r, tanh_at[r["num_flows"]]) for r in rows if r["num_flows"] in tanh_at and r["num_flows"] >= DEEP]
        parts = [_compare(r, t, f"{label} at K = {r['num_flows']}", "tanh at 1e-2")
                 for r, t in matched]
        text += [p[0].upper() + p[1:] + "." for _, p in parts]
        if parts:
            evidence[label] = any(z <= -agreement.Z_AGREE for z, _ in parts)
        elif any(r["variant"] == variant and r["num_flows"] >= DEEP for r in swept):
            untested[label] = sorted(r["num_flows"] for r in swept if r["variant"] == variant)
    supported = [name for name, holds in evidence.items() if holds]
    if z_depth <= -agreement.Z_AGREE:
        verdict = "Depth still helps at the deepest K: there is no plateau to explain here."
    elif supported:
        causes = {"vanishing gradients": "vanishing gradients (the first layers' gradients are small)",
                  "leaky ReLU": "the non-linearity (leaky ReLU, whose slope never vanishes, does better)",
                  f"learning rate {SMALL_LR:g}": f"optimisation (a learning rate of {SMALL_LR:g} does better)"}
        verdict = ("The plateau is real and the numbers point to " + " and ".join(causes[s] for s in supported) + ".")
    elif evidence:
        ruled_out = {"vanishing gradients": ("the first layers' gradients do not vanish", "vanishing gradients"),
                     "leaky ReLU": ("leaky ReLU does no better beyond the spread of the trainings", "the non-linearity"),
                     f"learning rate {SMALL_LR:g}": (f"learning rate {SMALL_LR:g} does no better beyond the spread of "
                                                    "the trainings", "optimisation")}
        clauses, causes = zip(*(ruled_out[name] for name in evidence))
        verdict = (f"No test that ran separates the deep flows: {'; '.join(clauses)}. The plateau is within the noise "
                   f"of the k̂ estimate over R trainings, not {' or '.join(causes)}.")
    else:
        verdict = "No test of its cause was run."
    for label, depths in untested.items():
        verdict += (f" {label[0].upper() + label[1:]} could not be tested on deep flows: it diverged in every attempt at "
                    f"K = {', '.join(map(str, depths))}, at the study's learning rate, so whether it would lift "
                    "the plateau stays open.")
    text.append("**Conclusion:** " + verdict)
    return " ".join(text) + "\n", verdict + "\n"


def stl_text(rows):
    """Each STL row beside the plain-gradient row of the same family, target and parameterisation."""
    parts = []
    for method, _, v in STL:
        variant = v.name
        for compat in (False, True):
            for centered in (True, False):
                match = lambda v: next((r for r in rows if r["method"] == method and r.get("variant") == v  # noqa: E731
                                        and r["centered"] == centered and r["thesis_compat"] == compat
                                        and r["num_schools"] == 8), None)
                stl, plain = match(variant), match(STL_PLAIN[variant])
                if stl is None or plain is None:
                    continue
                z = agreement.z_rows(stl, plain, "elbo")
                word = ("higher" if z >= agreement.Z_AGREE else "lower" if z <= -agreement.Z_AGREE
                        else "the same within the noise")
                parts.append(f"{LABELS[(method, STL_PLAIN[variant])]}, {'centered' if centered else 'non-centered'}, "
                             f"{'study target' if compat else 'true model'}: ELBO {stl['elbo_mean']:.3f} with STL "
                             f"against {plain['elbo_mean']:.3f} ({word}, z {agreement.format_z(z)}), k̂ "
                             f"{stl['khat_mean']:.2f} against {plain['khat_mean']:.2f}")
    if not parts:
        return "No STL row has its plain-gradient twin yet.\n"
    higher = sum("(higher" in p for p in parts)
    lower = sum("(lower" in p for p in parts)
    return (f"Of {len(parts)} pairs, STL gives the higher ELBO in {higher}, the lower in {lower}, the same within "
            f"the noise in {len(parts) - higher - lower}. " + "; ".join(parts) + ".\n")


def step_costs(rows, num_steps):
    """Milliseconds per training step per trained member, by family: a group's training time over its steps
    and its members (R trainings of each of its rows)."""
    members = {}
    for r in rows:
        members[r["group"]] = members.get(r["group"], 0) + len(r["elbo_runs"])
    costs = {}
    for r in rows:
        costs.setdefault(r["family"], 1e3 * r["group_train_seconds"] / num_steps / members[r["group"]])
    return costs


def cost_text(rows, num_steps):
    """Why the neural flows train on the true model only: their measured step costs against the study's flows."""
    costs = step_costs(rows, num_steps)
    neural = {f: c for f, c in costs.items() if any(r["family"] == f and r["method"] in NEURAL for r in rows)}
    others = {f: c for f, c in costs.items() if f not in neural}
    if not neural or not others:
        return ""
    fmt = lambda d: ", ".join(f"{f} {c:.1f} ms" for f, c in d.items())  # noqa: E731
    low, high = min(neural.values()) / max(others.values()), max(neural.values()) / min(others.values())
    ratio = (f"{low:.1f}× to {high:.0f}× dearer than the others'" if low >= 1 else
             f"from {low:.1f}× to {high:.0f}× the others' (the dearest of the others costs more per step than the "
             "cheapest neural flow)")
    return (f"One training step of one member costs {fmt(neural)} for the neural flows, against {fmt(others)} for "
            f"the others (group training time over steps and members, this run): a neural flow's step is {ratio}. "
            "The neural flows train on the true model only, whose posterior NUTS samples, so that their errors have a "
            "reference.\n")


def write_report(run, rows6, own, baseline, baseline_draws, table, sections=(), headlines=(), diverged=()):
    """``report.md`` and ``headline.md`` (README's lines) from Table VI's rows, this run's and the baseline's;
    ``sections`` (markdown lines) go after the others, ``headlines`` (one line each) at headline.md's end;
    ``diverged``: this run's rows whose every attempt diverged."""
    scale, p = run.scale, run.scale.protocol
    rows_all = list(own.values()) + list(baseline.values())
    depth_answer, depth_verdict = depth_answers(list(own.values()), list(baseline.values()), diverged)
    family_rows = [r for r in diverged if r["table"] != "V"]
    neck = neck_shares(run, rows6, own, baseline_draws)
    lines = [quick_banner(run, p)] if run.quick else []
    lines += [
        f"Every row follows the study's protocol (Tables II-V): R = {p.num_runs} trainings of {p.num_steps} steps, "
        f"S = {SAMPLE_SIZE} draws a step, learning rate {LEARNING_RATE:g}, k̂ and the ELBO over {p.num_sets} sets "
        f"of {p.num_draws} draws; eight schools (J = 8), centered and non-centered. Mean-field and planar (tanh) "
        "rows are those of `python -m experiments.eight_schools`; the radial rows are trained here (the study trained "
        "radial flows but reported none).\n",
        "### Table VI\n", table + "\n", *([diverged_text(family_rows) + "\n"] if family_rows else []),
        "Errors are in units of NUTS's posterior sd (mean error, sd error), from each training's draws averaged over "
        f"trainings, raw and with PSIS-smoothed importance weights. IAF and RealNVP have {scale.neural_layers} "
        f"layers, the spline flow {scale.spline_layers}, each with a network of two hidden layers of "
        f"{' and '.join(map(str, HIDDEN))} units; the affine flows' per-layer log-scale is held softly in "
        f"(−{LOG_SCALE_BOUND:g}, {LOG_SCALE_BOUND:g}) by B·tanh(s/B) (`vinf.surrogates`), which keeps them finite at "
        f"the study's learning rate. " + cost_text(rows6, p.num_steps),
        "### The moonshot\n", moonshot_text(rows6, neck),
        "### Better-suited mappings on the centered funnel (section VII)\n", suited_text(rows6),
        "### The ordering or the prior inputs?\n", ordering_text(rows6),
        "### The depth question (section VII)\n", depth_answer,
        "### Sticking the landing\n", stl_text(rows_all),
        *sections,
        *figures.markdown(run),
        f"Command: `{run.command}`\n",
    ]
    run.write_text("report.md", "\n".join(lines))
    run.write_text("headline.md", "**Beyond the study: Table VI (k̂ by ArviZ)**\n\n" + headline_markdown(rows6) + "\n\n"
                   + moonshot_text(rows6, neck, brief=True) + "\n" + suited_text(rows6, headline=True) + "\n"
                   + "**The depth question (section VII):** " + depth_verdict
                   + "".join(f"\n{h}\n" for h in headlines))
