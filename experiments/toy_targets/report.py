"""The toy-targets report (``report.md``): every figure 17-35 with its note and command, the KL table against
the exact log normaliser, and the mode study. A quick run states its reduced scale first and judges nothing.
"""
import numpy as np

from experiments.common.prose import percent, plural, quick_banner
from experiments.common.toys import (CLOSE_KL, LEARNING_RATE, MEAN_FIELD_STEPS, ONE_MODE_KL, ONE_MODE_SHARE, PLATEAU,
                                     SAMPLE_SIZE, SPECS, TARGETS)
from experiments.toy_targets.config import FAMILIES, OPTIMUM_STARTS
from experiments.toy_targets.figures import MASS_LEVELS, MODE_TITLES
from experiments.toy_targets.notes import FAMILY_NAMES, figure_notes
from experiments.toy_targets.phrases import modes_sentence, names, number_text

OPTIMUM_TOLERANCE = 0.05  # relative: mean field's best start "reaches" the quadrature optimum within this
ORIGIN_MARGIN = 0.1  # nats: the start near the origin "ends worse" than the best start beyond this
SADDLE_DISTANCE = 0.1  # a mean-field mean this close to the origin (each coordinate) sits on the saddle
SADDLE_MARGIN = 0.05  # nats: and its KL this close to that of the best Gaussian centred on the origin
MC_ERRORS = 3  # an ELBO above log Z by more than this many Monte-Carlo errors is a bug


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


def optimum_sentence(rows, optimum, tolerance=OPTIMUM_TOLERANCE):
    """How mean field's best start compares with the best diagonal Gaussian by quadrature, target by target."""
    optimum = optimum or {}
    compared = [r for r in rows if r["target"] in optimum]
    missing = [r["target"] for r in rows if r["target"] not in optimum]
    gap = f" No quadrature optimum for {names(missing)}." if missing else ""
    if not compared:
        return "No quadrature optimum to compare mean field's best start with." if rows else ""
    far = []
    for r in compared:
        best, opt = r["kl"][best_member(r)], optimum[r["target"]]["kl"]
        if best > opt * (1 + tolerance):
            far.append(f"{r['target']} ({best:.3f} against {opt:.3f})")
    if not far:
        return (f"Mean field's best start comes within {percent(tolerance, 0)} of the quadrature optimum on every "
                f"target compared ({len(compared)}).{gap}")
    return (f"Mean field's best start comes within {percent(tolerance, 0)} of the quadrature optimum on "
            f"{len(compared) - len(far)} of {len(compared)} targets; not on {', '.join(far)}.{gap}")


def on_saddle(origin, distance=SADDLE_DISTANCE, margin=SADDLE_MARGIN):
    """Why a start near the origin ended where it did: ``"saddle"`` when the target is point-symmetric, the
    fit's mean within ``distance`` of the origin and its KL within ``margin`` of the best Gaussian centred
    there; else a phrase saying which of these fails."""
    if not origin:
        return "where it ended was not measured"
    if not origin["symmetric"]:
        return "the target is not point-symmetric"
    mean = ", ".join(f"{m:.2f}" for m in origin["mean"])
    if max(abs(m) for m in origin["mean"]) >= distance:
        return f"its mean ends at ({mean}), away from the origin"
    if origin["saddle_kl"] is None or abs(origin["kl"] - origin["saddle_kl"]) >= margin:
        return (f"its mean ends at ({mean}) but its KL is not within {margin:g} nats of the best Gaussian centred "
                f"there ({number_text(origin['saddle_kl'], '.3f')})")
    return "saddle"


def origin_sentence(rows, origin=None, margin=ORIGIN_MARGIN):
    """What starting near the origin alone (the study's initialisation) would have given: on which targets it
    ends worse than the best start, and whether there it sits on the saddle of a point-symmetric target."""
    if not rows:
        return ""
    origin = origin or {}
    worse = [r for r in rows if r["kl"][0] > r["kl"][best_member(r)] + margin]
    if not worse:
        return (f"The start near the origin (the study's initialisation) ends within {margin:g} nats of the best "
                "start on every target.")
    why = {r["target"]: on_saddle(origin.get(r["target"])) for r in worse}
    stuck = [f"{r['target']} ({r['kl'][0]:.3f} against {r['kl'][best_member(r)]:.3f}; the best Gaussian centred on "
             f"the origin {origin[r['target']]['saddle_kl']:.3f})" for r in worse if why[r["target"]] == "saddle"]
    other = [f"{r['target']} ({r['kl'][0]:.3f} against {r['kl'][best_member(r)]:.3f}: {why[r['target']]})"
             for r in worse if why[r["target"]] != "saddle"]
    text = (f"From the start near the origin alone (the study's initialisation) mean field ends more than {margin:g} "
            f"nats above the best start's KL on {len(worse)} of {plural(len(rows), 'target')}")
    if stuck:
        text += (f"; on {names(stuck)} it stays on the saddle between mirrored modes (the target is point-symmetric, "
                 f"so the gradient in the mean vanishes at the origin; the mean ends within {SADDLE_DISTANCE:g} of "
                 f"it and the KL within {SADDLE_MARGIN:g} nats of the best Gaussian centred there)")
    if other:
        text += f"; {'on' if not stuck else 'and on'} {names(other)}"
    return text + "."


def facts(run, rows, measured, mixture):
    """The numbers the report's sentences and the claims quote, all saved in ``results.json``."""
    table = {r["target"]: {r2["family"]: r2 for r2 in rows if r2["target"] == r["target"]} for r in rows}
    optimum = run.cached_extra("gaussian_optimum") or {}
    return dict(
        kl={t: {f: r["kl"][best_member(r)] for f, r in by.items()} for t, by in table.items()},
        log_z={t: next(iter(by.values()))["log_evidence"] for t, by in table.items()},
        setting={t: (by["planar"]["num_flows"], by["planar"]["num_steps"]) for t, by in table.items() if "planar" in by},
        traces=measured["fig17_traces"],
        arms=measured["banana_arms"],
        measured=measured["measured"],
        nuts=run.cached_row("nuts-banana"),
        mixture=mixture,
        modes={r["target"]: r for r in measured["mode_study"]["runs"]},
        optimum={t: o["kl"] for t, o in optimum.items()},
    )


def _median(values):
    values = [v for v in values if v is not None]
    return f"{np.median(values):.0f}" if values else "–"


def modes_markdown(runs):
    """The mode study's rows: per target, how the seeds ended and when they came close to p."""
    lines = ["| target | K, steps | seeds | both modes (mass on both sides, KL < log 2) | one mode | spread over both "
             "sides, KL ≥ log 2 | within log 2 / 2 of log Z | first step within log 2 / 2: median (max) | steps on "
             "the one-mode plateau: median | KL(q‖p): min / median / max |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in runs:
        reached = [v for v in r["first_step_close"] if v is not None]
        kl = np.asarray(r["kl"])
        lines.append(f"| {MODE_TITLES.get(r['target'], r['target'])} | {r['num_flows']}, {r['num_steps']} "
                     f"| {r['num_runs']} | {r['both_modes']} | {r['one_mode']} | {r['spread']} | {r['close']} "
                     f"| {_median(reached)} ({max(reached) if reached else '–'}) | {_median(r['one_mode_steps'])} "
                     f"| {kl.min():.3f} / {np.median(kl):.3f} / {kl.max():.3f} |")
    return "\n".join(lines)


def _banner(run):
    s = run.scale
    return quick_banner(run, f"K ≤ {s.max_flows}, at most {s.max_steps} steps, {s.mode_runs} seeds per "
                                    f"mode-study target, {s.starts} mean-field starts, {s.eval_draws} draws per ELBO, NUTS "
                                    f"{s.nuts_draws} draws")


def _setting_sentence(f, quick):
    """The report's opening: how every target is fitted and drawn, from the experiment's constants."""
    setting = "the K and epochs of each caption" if not quick else "K and steps capped as the banner says"
    hills = f["setting"].get("two_hills")
    hills = (f"; two hills: K = {hills[0]} and {hills[1]} steps: its caption says K = 3 and gives no epochs, the "
             f"study's code trained K = {SPECS['two_hills'].num_flows} (parameters.py, and its saved fit), for 10000 "
             "or 2000 epochs at its last two commits" if hills else "")
    levels = ", ".join(f"{100 * m:g}" for m in sorted(MASS_LEVELS)[:-1]) + f" and {100 * max(MASS_LEVELS):g}"
    return (f"Each target, as the study's code defines it (`vinf.targets`, each docstring citing its lines), is "
            f"fitted by planar and radial flows with `vinf.fit` (S = {SAMPLE_SIZE} draws per step, "
            f"Adam {LEARNING_RATE:g}, {setting}{hills}). Draws are shown as hexbins, Gaussian KDEs (Scott's rule) "
            f"and colour maps of q_K(z_K) (the study's 3-D plots); the true density's contours enclose {levels} % of "
            "its mass. Targets that share a family, K and number of steps train as one batched surrogate.\n")


def _baseline_paragraph(rows, mean_field, optimum, origin):
    """The KL table's paragraph: how the ELBOs, mean field's starts and the quadrature optimum were made, and
    what they show."""
    above = [f"{r['target']} ({FAMILY_NAMES[r['family']]})" for r in rows
             if max(np.asarray(r["elbo"]) - r["log_evidence"] - MC_ERRORS * np.asarray(r["elbo_se"])) > 0]
    draws = f"{rows[0]['eval_draws']} draws" if rows else "draws"
    starts = f"{mean_field[0]['num_runs']} starts each" if mean_field else "several starts each"
    check = [abs(o["kl_check"] - o["kl"]) for o in (optimum or {}).values()]
    moved = f"its KL moves by at most {max(check):.1e}" if check else "no optimum was computed"
    return (
        "log Z by quadrature on a grid (`target.log_evidence()`; 1-D for two hills), each family's ELBO from "
        f"{draws} ± its Monte-Carlo standard error, and KL(q‖p) = log Z − ELBO. Mean-field "
        f"Gaussians train for at most {MEAN_FIELD_STEPS} steps (the flows' number, if fewer) from {starts}: the "
        "surrogate's own, near the origin with sd near 1 (the study's initialisation), and the rest a Latin "
        "hypercube over the target's box (each axis cut into equal strata, one start in each, sd half a stratum); "
        "the table gives the start with the highest ELBO and the spread of KL over the starts. Beside it, the best "
        f"diagonal Gaussian by quadrature (`experiments.common.baselines`: Gauss-Hermite, L-BFGS over mean and log-scale "
        f"from {OPTIMUM_STARTS} times as many starts spread the same way; recomputed on twice the nodes, {moved}). "
        + (f"ELBOs above log Z beyond {MC_ERRORS} MC errors (a bug): {', '.join(above)}." if above
           else f"No ELBO exceeds log Z beyond {MC_ERRORS} Monte-Carlo errors.")
        + " " + optimum_sentence(mean_field, optimum) + " " + origin_sentence(mean_field, origin) + "\n")


def mode_paragraph(runs, optimum):
    """How the mode study was run and what counts as covering both modes; the best Gaussian of each target."""
    seeds = runs[0]["num_runs"] if runs else 0
    best = "; ".join(f"{MODE_TITLES.get(name, name)} {optimum[name]:.3f}" for name in (r["target"] for r in runs)
                     if optimum.get(name) is not None)
    return (
        "The study remarks that energy 1 is sometimes fitted on one arc only, and its Figure 18 shows both hills of "
        f"the two-hills target captured. For the targets with two mirrored modes either side of z1 = 0 we trained "
        f"{plural(seeds, 'seed')} each as one batched planar surrogate at the figures' K and steps, under our "
        "choices: two hills as the study's code has it, two hills with the caption's σ = 0.1 read as an sd, and "
        f"energy 1. A seed *covers both modes* when at least {percent(ONE_MODE_SHARE, 0)} of q's mass lies on each "
        f"side of z1 = 0 AND its KL is below log 2 = {ONE_MODE_KL:.3f}, what q on one of two equal, well-separated "
        "modes has: a q spread over the valley with a larger KL covers neither (*spread*). Among those that cover "
        f"both, some come within log 2 / 2 = {CLOSE_KL:.3f} of log Z. Along training, the smoothed ELBO gives the "
        f"first step within log 2 / 2 and the steps spent on the one-mode plateau (KL within {PLATEAU:g} of log 2). "
        + (f"The best diagonal Gaussian by quadrature has KL {best}: where it is below log 2, one Gaussian over "
           "the valley covers both modes by this rule, and only a KL below the Gaussian's shows the flow's shape. "
           if best else "")
        + "The same seeds under the study's choices (its planar initialisation, its checkpoint, both), annealed "
        "and trained three times longer are the ablations' (`python -m experiments.ablations`).\n")


def write_report(run, rows, measured, mixture):
    """The report fragment: every figure 17-35 with its note and command, the KL table, the mode study under our
    choices. Returns the facts it quoted (the claims are checked on them)."""
    folder, cmd, quick = run.out.name, f"`{run.command}`", run.quick
    f = facts(run, rows, measured, mixture)
    notes = figure_notes(f)
    mean_field = [r for r in rows if r["family"] == "mean_field"]
    runs = measured["mode_study"]["runs"]
    lines = [_banner(run)] if quick else []
    lines.append(_setting_sentence(f, quick))
    for number in range(17, 36):
        fid = f"fig{number}"
        lines.append(f"### Figure {number}\n")
        lines += [f"![Fig. {number}]({folder}/{p.name})\n" for p in sorted(run.out.glob(f"{fid}_*.png"))]
        lines += [notes[fid].text(quick) + "\n", f"Command: {cmd}\n"]
    lines += [
        "### Beyond the study: ELBO against the exact log normaliser\n",
        _baseline_paragraph(rows, mean_field, run.cached_extra("gaussian_optimum"), f["measured"].get("origin")),
        run.path("kl_table.md").read_text() + "\n",
        "### Beyond the study: one mode or two\n",
        mode_paragraph(runs, f["optimum"]),
        *[modes_sentence(MODE_TITLES.get(r["target"], r["target"]), r) + "\n" for r in runs],
        modes_markdown(runs) + "\n",
        f"![Mode study]({folder}/mode_study.png)\n",
        f"Command: {cmd}\n",
    ]
    run.write_text("report.md", "\n".join(lines))
    return f
