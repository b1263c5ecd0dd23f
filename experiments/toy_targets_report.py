"""The report fragment of the toy-targets experiment (Figures 17-35, the KL table, the mode study).

Every sentence is computed from the numbers in ``results.json``: each count,
comparison and judgement has a branch for each outcome, in the small functions
below (the tests flip their inputs). A figure's note has two parts: what we
measured, and how it stands against the study; a quick run states its reduced
scale first (``_study.quick_banner``) and leaves the second part out.
"""
import math

import numpy as np

from experiments import _study
from experiments._study import Note, percent, plural
from experiments.agreement import P_AGREE, Z_AGREE, counts_p, format_z, z_between
from experiments.toy_targets import (ANNEAL_FRACTION, BOTH_MODES_KL, FAMILIES, LEARNING_RATE, LONGER,
                                     MEAN_FIELD_STEPS, ONE_MODE_SHARE, OPTIMUM_STARTS, PLATEAU, SAMPLE_SIZE,
                                     VARIANT_LABELS, VARIANTS, best_member)
from experiments.toy_targets_figures import (COLLAPSE, ENERGIES, ENERGY_WINDOW, FLOWS, LOBES, MASS_LEVELS, RING_SIDES,
                                             SECTOR_DEGREES, TAIL_FRACTION, figure_eight_phrase)

FAMILY_NAMES = dict(planar="planar", radial="radial", mean_field="mean-field")
CLOSE_KL = 0.05  # nats: a fit this close to p "follows" it
SHARE_TOLERANCE = 0.03  # a share of draws within this of the target's mass matches it
OPTIMUM_TOLERANCE = 0.05  # relative: mean field's best start "reaches" the quadrature optimum within this
DEPARTURES = ("thesis_init", "thesis_checkpoint", "thesis_all", "longer")  # our choices switched (steps: ours too)
ORIGIN_MARGIN = 0.1  # nats: the start near the origin "ends worse" than the best start beyond this
SADDLE_DISTANCE = 0.1  # a mean-field mean this close to the origin (each coordinate) sits on the saddle
SADDLE_MARGIN = 0.05  # nats: and its KL this close to that of the best Gaussian centred on the origin
EQUAL_PEAKS = 0.9  # two peaks of q_K are "equal" when the lower is at least this share of the higher
PEAK_SD = 1.0  # a peak of q_K lies "at" a component's mean within this Mahalanobis distance
LINE_SHARE = 0.95  # one straight line "cuts" q_0 when it separates this share of the draws by their mode
BEND_DISTANCE = 0.5  # q_K peaks "at the bend" of the banana within this distance of it
SIDE_BY_SIDE = 0.9  # quarters lie side by side along the ring when this share of a sector is of one quarter
HOLLOW = 0.01  # the circle's centre is "empty" when p puts less than this mass there
MC_ERRORS = 3  # an ELBO above log Z by more than this many Monte-Carlo errors is a bug


# ------------------------------------------------------------------ phrases with a branch per outcome


def sentence(text):
    """``text`` with its first letter capitalised (``str.capitalize`` would lower the rest)."""
    return text[:1].upper() + text[1:]


def names(items):
    """``a``, ``a and b``, ``a, b and c`` (``none`` for no item)."""
    items = list(items)
    if len(items) < 2:
        return items[0] if items else "none"
    return ", ".join(items[:-1]) + " and " + items[-1]


def _number(value, spec=".4f"):
    return "–" if value is None else format(value, spec)


def fit_phrase(kl, close=CLOSE_KL):
    return f"within {close:g} nats of p" if kl < close else f"{kl:.3f} nats from p"


def hills_phrase(kl, both=BOTH_MODES_KL, plateau=PLATEAU):
    """What a fit of a symmetric two-mode target covers, read from its KL (one mode of two: KL ~ log 2)."""
    if kl < both:
        return "both hills"
    if abs(kl - math.log(2.0)) < plateau:
        return "one hill"
    return "neither hill cleanly"


def share_verdict(share, exact, tolerance=SHARE_TOLERANCE):
    """How a share of draws stands against the target's mass in the same region."""
    if abs(share - exact) <= tolerance:
        return "matches"
    if share < exact / 3:
        return "misses"
    return "under-fills" if share < exact else "over-fills"


def orientation(angle, tolerance=20.0):
    """A line's direction from its angle to the z1 axis, in degrees [0, 180)."""
    if min(angle, 180.0 - angle) < tolerance:
        return "horizontally"
    if abs(angle - 90.0) < tolerance:
        return "vertically"
    return f"diagonally ({'rising' if angle < 90.0 else 'falling'}, {angle:.0f}° from the z1 axis)"


def halves(c, tolerance=SHARE_TOLERANCE):
    """Whether Figure 25's cut splits q_0 into halves: the share of draws reaching each mode within
    ``tolerance`` of one half (False when the split was not measured)."""
    return c.get("share") is not None and abs(c["share"] - 0.5) <= tolerance


def cut_sentence(cut, line_share=LINE_SHARE):
    """Figure 25: along which line the flow cuts q_0, per flow, whether one straight line does it, and how
    evenly it splits q_0."""
    parts = []
    for flow, c in cut.items():
        straight = c["accuracy"] >= line_share
        split = ("" if c.get("share") is None else
                 f"; {percent(c['share'])} / {percent(1 - c['share'])} of the draws reach the two modes "
                 + ("(halves)" if halves(c) else "(not halves)"))
        parts.append(f"the {flow} flow cuts z_0 {orientation(c['angle'])}"
                     + (f", one straight line separating {percent(c['accuracy'])} of the draws by the mode they reach"
                        if straight else f", but no straight line does it (the best separates only "
                                         f"{percent(c['accuracy'])} of the draws by the mode they reach)") + split)
    return "; ".join(parts)


def arms_verdict(arms):
    flows = [arms[f] for f in FLOWS]
    if max(flows) < arms["exact"]:
        return "our flows' arms fall short of the posterior's rather than extending beyond them"
    if min(flows) > arms["exact"]:
        return "our flows' arms extend beyond the posterior's too"
    return "our two flows bracket the posterior's arms"


def _trend(values):
    """``"falls"``, ``"rises"`` or ``"neither"``: how ``values`` move with every step."""
    pairs = list(zip(values, values[1:]))
    if pairs and all(a > b for a, b in pairs):
        return "falls"
    if pairs and all(a < b for a, b in pairs):
        return "rises"
    return "neither"


def noise_falls(traces):
    """Whether the per-step noise of Figure 17 falls with every increase of S."""
    return _trend([traces[s]["noise"] for s in sorted(traces, key=int)]) == "falls"


def collapses_fall(traces):
    """Whether Figure 17's collapses never rise with S and are fewer at the largest S than at the smallest."""
    counts = [traces[s]["collapses"] for s in sorted(traces, key=int)]
    return len(counts) > 1 and all(a >= b for a, b in zip(counts, counts[1:])) and counts[0] > counts[-1]


def variant_sentence(name, by_variant, variants=DEPARTURES):
    """Whether any departure changes how many of the seeds cover both modes of ``name``, and how far the
    median KL moves: ``by_variant`` maps a variant to its mode-study entry (``both_sides``, ``kl``)."""
    base = by_variant.get("default")
    if base is None:
        return f"{name}: no run under our choices, so no departure is compared with them."
    runs, ours, kl0 = base["num_runs"], base["both_sides"], float(np.median(base["kl"]))
    parts, changes = [], []
    for v in variants:
        r = by_variant.get(v)
        if r is None:
            continue
        kl = float(np.median(r["kl"]))
        parts.append(f"{VARIANT_LABELS[v]} {r['both_sides']} (median KL {kl:.3f}, {kl - kl0:+.3f})")
        if r["both_sides"] != ours:
            p = counts_p(r["both_sides"], ours, runs)
            changes.append(f"{VARIANT_LABELS[v]} {'raises' if r['both_sides'] > ours else 'lowers'} it to "
                           f"{r['both_sides']} (Fisher's exact p = {p:.2f}: "
                           f"{'beyond' if p < P_AGREE else 'within'} chance)")
    head = (f"{name}: under our choices {ours} of {plural(runs, 'seed')} cover both modes (≥ "
            f"{100 * ONE_MODE_SHARE:.0f} % of q on each side of z1 = 0; median KL {kl0:.3f})")
    if not parts:
        return head + "; no departure was run."
    verdict = "No departure changes that number." if not changes else sentence("; ".join(changes)) + "."
    return head + "; " + "; ".join(parts) + f". {verdict}"


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
                f"there ({_number(origin['saddle_kl'], '.3f')})")
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


# ------------------------------------------------------------------ the figures' notes


def _kl_phrase(kl, target, families=FAMILIES):
    return ", ".join(f"{FAMILY_NAMES[f]} {kl[target][f]:.3f}" for f in families)


def _peak(x):
    return -math.inf if x["peak"] is None else x["peak"]


def _at_mean(x, sd=PEAK_SD):
    """Whether the highest q_K among a component's draws lies within ``sd`` of its mean."""
    return x["peak_distance"] is not None and x["peak_distance"] < sd


def note_mixture(kl, components, mixture):
    """Figures 20-21: per flow, each component's share of the draws, their correlation and the peak of q_K."""
    lower = int(np.argmin(np.asarray(mixture["locs"])[:, 1]))
    upper = 1 - lower
    truth = components[FLOWS[0]]
    wrong_sign = [f for f in FLOWS if not all(
        x["correlation"] is not None and np.sign(x["correlation"]) == np.sign(x["true_correlation"])
        for x in components[f])]
    off_share = [f for f in FLOWS if not all(abs(x["share"] - x["weight"]) <= SHARE_TOLERANCE for x in components[f])]
    denser = {f: "lower" if _peak(components[f][lower]) > _peak(components[f][upper]) else "upper" for f in FLOWS}
    true_denser = "lower" if truth[lower]["true_peak"] > truth[upper]["true_peak"] else "upper"
    upper_denser = [f for f in FLOWS if denser[f] != "lower"]
    away = [f for f in FLOWS if not all(_at_mean(x) for x in components[f])]
    failures = [text for fails, text in (
        (wrong_sign, f"the draws' correlation has the wrong sign for {names(wrong_sign)}"),
        (off_share, f"the shares miss the weights by more than {SHARE_TOLERANCE:g} for {names(off_share)}"),
        (upper_denser, f"q_K is highest in the upper component for {names(upper_denser)}"),
        (true_denser != "lower", "the true density is higher at the upper mean")) if fails]
    fig20 = Note(
        "Share of the draws nearest each component (upper / lower): " + "; ".join(
            f"{f} {components[f][upper]['share']:.3f} / {components[f][lower]['share']:.3f}" for f in FLOWS)
        + f", against the weights {truth[upper]['weight']:.3f} / {truth[lower]['weight']:.3f} ("
        + ("within" if not off_share else "not all within") + f" {SHARE_TOLERANCE:g}); the draws' correlation within "
        "each component has " + ("the component’s sign for every flow" if not wrong_sign else
                                 f"the wrong sign for {names(wrong_sign)}") + "; the highest q_K lies in the "
        + ", ".join(f"{d} component ({f})" for f, d in denser.items())
        + f", the true density being higher at the {true_denser} mean. KL(q‖p): " + _kl_phrase(kl, "gaussian_mixture")
        + ".",
        "As in the study, both components are recovered with their orientations and the lower one denser."
        if not failures else "The study saw both components recovered with their orientations and the lower one "
                             "denser; here " + "; ".join(failures) + ".")
    peaks = "; ".join(f"{f}: " + ", ".join(f"{_number(components[f][k]['peak'])} at "
                                           f"{_number(components[f][k]['peak_distance'], '.2f')} sd from the mean"
                                           for k in (upper, lower)) for f in FLOWS)
    fig21 = Note(f"Highest q_K among the draws nearest each component (upper, lower): {peaks}; the true density at "
                 f"the means: {truth[upper]['true_peak']:.4f}, {truth[lower]['true_peak']:.4f}. One colour scale for "
                 "both panels.",
                 "As in the study's 3-D plot (here a colour map), q_K peaks at the two component means."
                 if not away else f"Unlike the study's 3-D plot, q_K of {names(away)} does not peak at both component "
                                  f"means (a peak more than {PEAK_SD:g} sd away, or no draw near a mean).")
    return fig20, fig21


def note_symmetric(kl, components, cut):
    """Figures 23-25: both modes covered, equal peaks, and the cut of q_0."""
    shares = "; ".join(f"{f} {components[f][0]['share']:.3f} / {components[f][1]['share']:.3f}" for f in FLOWS)
    thin = [f for f in FLOWS if any(x["share"] < ONE_MODE_SHARE for x in components[f])]
    ratios = {f: None if any(x["peak"] is None for x in components[f]) else
              min(x["peak"] for x in components[f]) / max(x["peak"] for x in components[f]) for f in FLOWS}
    unequal = [f for f in FLOWS if ratios[f] is None or ratios[f] < EQUAL_PEAKS]
    away = [f for f in FLOWS if not all(_at_mean(x) for x in components[f])]
    fig23 = Note(f"Share of the draws nearest each mode ({figure_eight_phrase(covariance=False)}): {shares}. "
                 "KL(q‖p): " + _kl_phrase(kl, "figure_eight") + ".",
                 "As in the study, both symmetric modes are covered." if not thin else
                 f"Unlike the study, one mode holds less than {percent(ONE_MODE_SHARE, 0)} of the draws of "
                 f"{names(thin)}.")
    failures = ([f"the heights differ by more than {percent(1 - EQUAL_PEAKS, 0)} for {names(unequal)}"] if unequal
                else []) + ([f"a peak lies more than {PEAK_SD:g} sd from its mean for {names(away)}"] if away else [])
    fig24 = Note("Highest q_K near each mode: " + "; ".join(
        f"{f} {_number(components[f][0]['peak'])} / {_number(components[f][1]['peak'])} (ratio "
        f"{_number(ratios[f], '.2f')})" for f in FLOWS)
        + f"; the true density at the means: {components[FLOWS[0]][0]['true_peak']:.4f}. One colour scale.",
        f"As in the study, q_K is highest at the two means, with equal heights (within {percent(1 - EQUAL_PEAKS, 0)})."
        if not failures else "The study's q_K is highest at the two means with equal heights; here "
                             + " and ".join(failures) + ".")
    crooked = [f for f, c in cut.items() if c["accuracy"] < LINE_SHARE]
    uneven = [f for f, c in cut.items() if not halves(c)]
    slanted = [f for f, c in cut.items() if orientation(c["angle"]) != "horizontally"]
    if crooked:
        study = (f"The study's q_0 was cut along one (horizontal) line; ours is not cut by one straight line for "
                 f"{names(crooked)}.")
    else:
        study = ("As in the study, q_0 is cut along one line, each side carried to one mode, "
                 + ("into two halves" if not uneven else f"though not into halves for {names(uneven)}")
                 + "; the study's cut was horizontal (along the red/blue and green/yellow demarcation)"
                 + (", as ours." if not slanted else f"; ours is not horizontal for {names(slanted)}."))
    fig25 = Note(
        "Each draw z_0 is labelled by the mode its image reaches (the side of z1 + z2 = 0) and Fisher's "
        f"discriminant finds the line of z_0's plane that separates the labels: {cut_sentence(cut)}.", study)
    return fig23, fig24, fig25


def banana_z(arms, nuts):
    """Figure 29: ``z`` of NUTS's share of draws in the arm against the exact mass ``p``, with the standard error
    ``sqrt(p (1 - p) / ESS)`` of the indicator's effective sample size (ArviZ; all draws if it is undefined),
    and the number of draws that error counts."""
    p = arms["exact"]
    effective = arms.get("NUTS_ess") or nuts["draws"]
    if not effective:
        return None, 0
    return z_between(arms["NUTS"], math.sqrt(p * (1 - p)), effective, p, 0.0, 1), effective


def note_banana(kl, arms, peaks, nuts):
    close = all(kl["banana"][f] < CLOSE_KL for f in FLOWS)
    fig27 = Note(
        f"KL(q‖p): {_kl_phrase(kl, 'banana')}: the flows' draws are "
        + ("within " if close else "not all within ") + f"{CLOSE_KL:g} nats of the banana. Share of draws with "
        f"z1 > {arms['threshold']:g}: " + ", ".join(f"{arms[k]:.4f} ({k})" for k in FLOWS)
        + f" against {arms['exact']:.4f} exactly (quadrature).",
        f"The study saw the flow's arms extend beyond the posterior; {arms_verdict(arms)}.")
    at_bend = {f: math.hypot(*peaks[f]) < BEND_DISTANCE for f in FLOWS}
    fig28 = Note("Highest q_K among the draws: " + "; ".join(
        f"{f} at ({peaks[f][0]:.2f}, {peaks[f][1]:.2f})" for f in FLOWS)
        + "; the true density peaks at the bend, (0, 0).",
        "As in the study, q_K peaks at the bend of the banana." if all(at_bend.values()) else
        f"Unlike the study's, q_K peaks away from the bend (more than {BEND_DISTANCE:g} from it) for "
        + names([f for f in FLOWS if not at_bend[f]]) + ".")
    z, effective = banana_z(arms, nuts)
    chains = nuts.get("chains", arms.get("NUTS_chains", 1))
    error = (f"{effective:.0f} effective draws (ArviZ's ESS of the indicator over the {plural(chains, 'chain')})"
             if arms.get("NUTS_ess") else f"all {nuts['draws']} draws as if independent (the indicator's ESS is "
                                          "undefined or was not measured)")
    agree = z is not None and abs(z) < Z_AGREE
    fig29 = Note(
        f"NUTS (PyMC, {nuts['tune']} tuning steps, {plural(chains, 'chain')}): share with z1 > {arms['threshold']:g} "
        f"{arms['NUTS']:.4f} against {arms['exact']:.4f} exactly, z = {format_z(z) or '–'} with the binomial "
        f"standard error of {error}; the sampler reports {plural(nuts['divergences'], 'divergence')} in "
        f"{nuts['draws']} draws.",
        f"As in the study, NUTS draws the same banana (|z| < {Z_AGREE:g})." if agree else
        "The study found NUTS's banana like the flows'; here " + (
            "no draw counts, so nothing is compared." if z is None else
            "NUTS's arms hold " + ("more" if z > 0 else "less")
            + f" mass than the exact banana (|z| ≥ {Z_AGREE:g})."))
    return fig27, fig28, fig29


CIRCLE_CODE = ("vinf's circle is log p(z) = −½((‖z‖ − 4)/0.4)² + log(e^{−0.2((z1−2)/0.8)²} + "
               "e^{−0.2((z1+2)/0.8)²}); eq. 86 as printed, e^{+½((‖z‖−4)/0.4)²} / (e^{−0.2((z1−2)/0.8)²} + "
               "e^{−0.2((z1+2)/0.8)²}), is its reciprocal: the code negates the whole printed log-density, the ring "
               "term and the bump term alike (the printed form grows without bound away from the ring)")


LOBE_SHAPES = {  # Figure 32: what q_K has where p's lobes are (or are not), singular and plural
    "lobes": ("has them", "have them"), "flatter": ("is flatter along the ring", "are flatter along the ring"),
    "none": ("has none", "have none"), "none_as_p": ("has none, as p", "have none, as p"),
    "extra": ("has lobes p lacks", "have lobes p lacks"), "unmeasured": ("was not measured", "were not measured")}


def _positive(value):
    return value is not None and math.isfinite(value) and value > 0


def lobe_shape(ratio, exact):
    """A key of ``LOBE_SHAPES``: how q_K's lobe contrast ``ratio`` stands against p's ``exact`` one (a flow
    "has them" when its log contrast is at least half p's)."""
    if not (_positive(ratio) and _positive(exact)):
        return "unmeasured"
    if exact > 1:
        if ratio > 1 and math.log(ratio) >= 0.5 * math.log(exact):
            return "lobes"
        return "flatter" if ratio > 1 else "none"
    return "none_as_p" if ratio <= 1 else "extra"


def lobes_sentence(lobes):
    """Figure 32's measured note: whether p's density is highest where the ring meets the bumps, and how
    each flow's q_K stands against that."""
    exact, centre = lobes.get("exact"), (LOBES[0] + LOBES[1]) / 2
    where = (f"its mean over the draws on the lobes ({LOBES[0]:g} < |z1| < {LOBES[1]:g}) is "
             f"{_number(exact, '.2f')} times its mean on the ring's sides (|z1| > {RING_SIDES:g})")
    if not _positive(exact):
        head = f"The circle's lobe contrast could not be measured ({where})."
    elif exact > 1:
        head = (f"The circle's density (Figure 30: the negated printed form) is highest where the ring meets the bumps "
                f"at z1 = ±{centre:g}: {where}.")
    else:
        head = (f"The circle's density (Figure 30: the negated printed form) is not higher where the ring meets the "
                f"bumps at z1 = ±{centre:g}: {where}.")
    shape = {f: lobe_shape(lobes.get(f), exact) for f in FLOWS}
    return head + " The same ratio for q_K: " + ", ".join(
        f"{f} {_number(lobes.get(f), '.2f')} ({LOBE_SHAPES[shape[f]][0]})" for f in FLOWS) + ".", shape


def note_circle(kl, centre, lobes, quarters):
    hollow = centre["exact"] < HOLLOW
    fig30 = Note(f"{CIRCLE_CODE}. It puts {centre['exact']:.4f} of its mass within |z| < {centre['radius']:g}.",
                 "The negated form is the ring the study's text describes, with no mass in its middle." if hollow else
                 "Unlike the ring the study's text describes, the negated form has mass in its middle.")
    empty = all(centre[f] <= max(2 * centre["exact"], centre["exact"] + HOLLOW) for f in FLOWS)
    fig31 = Note(f"KL(q‖p): {_kl_phrase(kl, 'circle')}. Share of draws with |z| < {centre['radius']:g}: "
                 + ", ".join(f"{centre[f]:.4f} ({f})" for f in FLOWS) + f" against {centre['exact']:.4f} for p.",
                 "As in the study, the ring is followed and its centre stays empty." if empty else
                 "Unlike the study, draws fill the ring's centre.")
    measured, shape = lobes_sentence(lobes)
    groups = {}
    for f in FLOWS:
        groups.setdefault(shape[f], []).append(f)
    matched = ("lobes", "none_as_p")
    fig32 = Note(measured + " One colour scale for both panels.",
                 "As in the study, the modes of q_K match the target's." if set(groups) <= set(matched) else
                 "The study's modes matched the target's; here " + "; ".join(
                     f"{names(fl)} {LOBE_SHAPES[key][len(fl) > 1]}" for key, fl in groups.items()
                     if key not in matched) + ".")
    layout = {f: "side by side" if quarters[f]["purity"] >= SIDE_BY_SIDE else "partly in layers" for f in FLOWS}
    fig33 = Note("Colouring z_0 by quadrant shows each quarter of q_0 laid along the ring: "
                 + "; ".join(f"{f}: {quarters[f]['arcs']} arcs in all (4 would be one a quarter), "
                             f"{percent(quarters[f]['purity'])} of draws from their {SECTOR_DEGREES}° sector's "
                             "commonest quarter "
                             f"({layout[f]})" for f in FLOWS) + ".",
                 "The study found its map hard to read.")
    return fig30, fig31, fig32, fig33


def note_energies(kl, branches, window_mass):
    fig34 = Note(
        "The four energies of eq. 87; energies 2-4 carry a wall at |z1| = 4 that makes them proper densities. "
        f"The window z1 ∈ [{ENERGY_WINDOW[0][0]:g}, {ENERGY_WINDOW[0][1]:g}], z2 ∈ [{ENERGY_WINDOW[1][0]:g}, "
        f"{ENERGY_WINDOW[1][1]:g}] holds " + ", ".join(f"{percent(window_mass[n])} ({n})" for n in ENERGIES)
        + " of each energy's mass.")
    findings, misses = [], []
    for name, by_branch in branches.items():
        for branch, share in by_branch.items():
            findings.append(f"{name.replace('energy', 'energy ')}'s {branch}: p {percent(share['exact'])}, "
                            + ", ".join(f"{f} {percent(share[f])}" for f in FLOWS))
            misses += [f"{f} {share_verdict(share[f], share['exact'])} {name.replace('energy', 'energy ')}'s {branch}"
                       for f in FLOWS if share_verdict(share[f], share["exact"]) != "matches"]
    far = [f"{f} on {t.replace('energy', 'energy ')} ({kl[t][f]:.3f})" for t in ENERGIES for f in FLOWS
           if kl[t][f] >= CLOSE_KL]
    worst_kl, worst_target, worst_family = max((kl[t][f], t, f) for t in ENERGIES for f in FLOWS)
    measured = ("KL(q‖p): " + "; ".join(f"{t.replace('energy', 'energy ')}: " + _kl_phrase(kl, t) for t in ENERGIES)
                + f". The largest gap is {worst_family} on {worst_target.replace('energy', 'energy ')} "
                f"(KL {worst_kl:.3f}). Mass of the draws on each branch against p's: " + "; ".join(findings) + ". "
                + ("Every flow puts its mass on the branches as p does (within "
                   f"{100 * SHARE_TOLERANCE:.0f} points)." if not misses else
                   f"Beyond {100 * SHARE_TOLERANCE:.0f} points: " + "; ".join(misses) + "."))
    close = not misses and not far
    study = ("As in the study, the flows match the energies closely." if close else
             "The study found its flows matched the energies closely; ours do not everywhere: "
             + "; ".join(misses + [f"KL ≥ {CLOSE_KL:g} for {', '.join(far)}" if far else ""]).strip("; ") + ".")
    return fig34, Note(measured + " Energy 1's arcs are the hard case the study describes: see the mode study.",
                       study)


def note_traces(traces, log_z):
    """Figure 17: the per-step noise and the collapses against S, and the fits' final ELBOs."""
    sizes = sorted(traces, key=int)
    if not sizes:
        return Note("No ELBO trace was saved.")
    noise = (f"the per-step ELBO estimate's noise (robust sd over the last {percent(TAIL_FRACTION, 0)} of steps) is "
             + ", ".join(f"{traces[s]['noise']:.3f} (S = {s})" for s in sizes))
    counts = (f"Collapses of the smoothed ELBO (falls of more than {COLLAPSE:g} nats below its settled level, right): "
              + ", ".join(f"{traces[s]['collapses']} (S = {s})" for s in sizes))
    ends = ("The trained fits end at ELBOs of " + ", ".join(f"{traces[s]['elbo']:.3f} (S = {s})" for s in sizes)
            + f" against log Z = {log_z:.3f}.")
    if len(sizes) < 2:
        return Note(f"Only S = {sizes[0]} was traced, so nothing is compared: {noise}. {counts}. {ends}")
    last, falls, fewer = sizes[-1], noise_falls(traces), collapses_fall(traces)
    measured = (("Fewer draws per step make training noisier: " if falls else
                 "The noise does not fall with every increase of S: ") + noise + ", against " + ", ".join(
        f"{traces[last]['noise'] * math.sqrt(int(last) / int(s)):.3f}" for s in sizes[:-1])
        + f" predicted from S = {last} by the 1/√S law the study cites. {counts}: "
        + ("fewer at larger S" if fewer else "not fewer at larger S") + f". {ends}")
    if falls and fewer:
        study = "As in the study, fewer draws per step make training less stable: noisier, with more collapses."
    elif falls:
        study = ("As in the study, fewer draws per step make training noisier; the collapses, though, do not become "
                 "fewer as S grows.")
    else:
        study = "Unlike the study, the noise does not fall steadily with S" + (
            ", though the collapses become fewer as S grows." if fewer else ", nor do the collapses.")
    return Note(measured, study)


def study_hills_verdict(ours, theirs, runs):
    """Figure 18 against the study, which shows both hills captured: how many of our seeds capture both
    under our choices (``ours``) and under the study's initialisation and checkpoint (``theirs``)."""
    if ours == runs:
        return "so do ours, in every seed"
    head = f"ours capture both in {ours} of {runs} seeds; with the study's initialisation and checkpoint"
    if theirs == runs:
        return f"{head}, in every seed: the departures explain the difference"
    if theirs == ours:
        return f"{head}, in as many: the departures do not explain the difference"
    p = counts_p(theirs, ours, runs)
    if p >= P_AGREE:
        return (f"{head}, in {theirs}: no more apart than chance allows (Fisher's exact p = {p:.2f}), so the "
                "departures do not explain the difference")
    if theirs > ours:
        return f"{head}, in {theirs} (Fisher's exact p = {p:.2f}): the departures explain part of it"
    return f"{head}, in only {theirs} (Fisher's exact p = {p:.2f}): the study's choices do worse here"


def note_two_hills(kl, modes, log_z):
    by_variant = {v: r for (t, v), r in modes.items() if t == "two_hills"}
    measured = ("Our fits at the figure's settings cover " + ", ".join(
        f"{hills_phrase(kl['two_hills'][f])} ({f})" for f in FLOWS)
        + f": KL(q‖p) = {_kl_phrase(kl, 'two_hills')} (one hill of two gives log 2 = 0.693). "
        + variant_sentence("Over the seeds of the mode study", by_variant)
        + f" The posterior is normalised here (log Z by 1-D quadrature = {log_z:.3f}), not left unnormalised as "
        "in the study, so q and p share one scale.")
    if "thesis_all" not in by_variant or "default" not in by_variant:
        return Note(measured)
    verdict = study_hills_verdict(by_variant["default"]["both_sides"], by_variant["thesis_all"]["both_sides"],
                                  by_variant["default"]["num_runs"])
    return Note(measured, f"The study's Fig. 18 shows q_K on both hills; {verdict}.")


def figure_notes(f):
    """One note per thesis figure 17-35, from the facts of ``facts``."""
    kl, m = f["kl"], f["measured"]
    weights = ", ".join(f"{w:.3f}" for w in f["mixture"]["weights"])
    locs = "; ".join("(" + ", ".join(f"{v:.2f}" for v in loc) + ")" for loc in f["mixture"]["locs"])
    notes = dict(
        fig17=note_traces(f["traces"], f["log_z"]["circle"]),
        fig18=note_two_hills(kl, f["modes"], f["log_z"]["two_hills"]),
        fig19=Note("The mixture of section II; the study prints no parameters for it, so here they come from our "
                   f"CAVI fit (`experiments.mean_field.fitted_mixture`: weights {weights}, means {locs})."),
        fig22=Note(f"The symmetric mixture of eqs. 83-84, {figure_eight_phrase()}."),
        fig26=Note("The banana of eq. 85."),
    )
    notes["fig20"], notes["fig21"] = note_mixture(kl, m["components"]["gaussian_mixture"], f["mixture"])
    notes["fig23"], notes["fig24"], notes["fig25"] = note_symmetric(kl, m["components"]["figure_eight"], m["cut"])
    notes["fig27"], notes["fig28"], notes["fig29"] = note_banana(kl, f["arms"], m["banana_peak"], f["nuts"])
    notes["fig30"], notes["fig31"], notes["fig32"], notes["fig33"] = note_circle(kl, m["circle_centre"], m["lobes"],
                                                                                 m["quarters"])
    notes["fig34"], notes["fig35"] = note_energies(kl, m["branches"], m["window_mass"])
    return notes


# ------------------------------------------------------------------ the report


def facts(run, rows, modes, measured, mixture):
    """The numbers the report's sentences quote, all saved in ``results.json``."""
    table = {r["target"]: {r2["family"]: r2 for r2 in rows if r2["target"] == r["target"]} for r in rows}
    return dict(
        kl={t: {f: r["kl"][best_member(r)] for f, r in by.items()} for t, by in table.items()},
        log_z={t: next(iter(by.values()))["log_evidence"] for t, by in table.items()},
        setting={t: (by["planar"]["num_flows"], by["planar"]["num_steps"]) for t, by in table.items() if "planar" in by},
        traces=measured["traces"],
        arms=measured["arms"],
        measured=measured,
        nuts=run.cached_row("nuts-banana"),
        mixture=mixture,
        modes={(r["target"], r["variant"]): r for r in modes["runs"]},
    )


def _median(values):
    values = [v for v in values if v is not None]
    return f"{np.median(values):.0f}" if values else "–"


def _not_yet(result, step):
    """How many runs had not come within log 2 / 2 of log Z by ``step``."""
    return sum(first is None or first > step for first in result["first_step_both"])


def _outcomes(result):
    return (f"{result['both_sides']} of {result['num_runs']} cover both sides ({result['both_modes']} within "
            f"log 2 / 2 of log Z, {result['neither']} farther), {result['one_mode']} one mode")


def modes_markdown(modes):
    lines = ["| target | variant | steps | seeds | cover both sides | both modes (KL < log 2 / 2) | one mode "
             "| first step within log 2 / 2: median (max) | steps on the one-mode plateau: median "
             "| KL(q‖p): min / median / max |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in modes["runs"]:
        label = VARIANT_LABELS[r["variant"]] + (f" (β = 1 after {r['anneal_steps']} steps)" if r["anneal_steps"]
                                                else "")
        reached = [v for v in r["first_step_both"] if v is not None]
        kl = np.asarray(r["kl"])
        lines.append(f"| {r['target']} | {label} | {r['num_steps']} | {r['num_runs']} | {r['both_sides']} "
                     f"| {r['both_modes']} | {r['one_mode']} | {_median(reached)} ({max(reached) if reached else '–'}) "
                     f"| {_median(r['one_mode_steps'])} | {kl.min():.3f} / {np.median(kl):.3f} / {kl.max():.3f} |")
    return "\n".join(lines)


def _banner(run):
    s = run.scale
    return _study.quick_banner(run, f"K ≤ {s.max_flows}, at most {s.max_steps} steps, {s.mode_runs} seeds per "
                                    f"variant, {s.starts} mean-field starts, {s.eval_draws} draws per ELBO, NUTS "
                                    f"{s.nuts_draws} draws")


def _setting_sentence(f, quick):
    """The report's opening: how every target is fitted and drawn, from the experiment's constants."""
    setting = "the K and epochs of each caption" if not quick else "K and steps capped as the banner says"
    hills = f["setting"].get("two_hills")
    hills = (f"; two hills: K = {hills[0]} and {hills[1]} steps, as its caption gives no epochs" if hills else "")
    levels = ", ".join(f"{100 * m:g}" for m in sorted(MASS_LEVELS)[:-1]) + f" and {100 * max(MASS_LEVELS):g}"
    return (f"Each target is fitted by planar and radial flows with `vinf.fit` (S = {SAMPLE_SIZE} draws per step, "
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
        f"diagonal Gaussian by quadrature (`experiments._baseline`: Gauss-Hermite, L-BFGS over mean and log-scale "
        f"from {OPTIMUM_STARTS} times as many starts spread the same way; recomputed on twice the nodes, {moved}). "
        + (f"ELBOs above log Z beyond {MC_ERRORS} MC errors (a bug): {', '.join(above)}." if above
           else f"No ELBO exceeds log Z beyond {MC_ERRORS} Monte-Carlo errors.")
        + " " + optimum_sentence(mean_field, optimum) + " " + origin_sentence(mean_field, origin) + "\n")


def annealing_sentence(hills):
    """Energy 1 under our choices and annealed: the outcomes, the plateau and when each first came within
    log 2 / 2 of log Z."""
    plain, annealed = hills.get("default"), hills.get("annealed")
    if plain is None or annealed is None:
        return "Energy 1: " + ("no annealed run" if plain else "no run under our choices") + ", so none is compared.\n"
    end = annealed["anneal_steps"]
    return (f"Energy 1, our choices: {_outcomes(plain)}; annealed: {_outcomes(annealed)}. On the way, plain runs "
            f"spend a median {_median(plain['one_mode_steps'])} steps on the one-arc plateau and first come within "
            f"log 2 / 2 at a median step {_median(plain['first_step_both'])}; annealed runs "
            f"{_median(annealed['one_mode_steps'])} steps and step {_median(annealed['first_step_both'])} (– when no "
            f"run got there): at step {end}, where annealing ends, {_not_yet(plain, end)} of "
            f"{plural(plain['num_runs'], 'plain run')} had not.\n")


def write_report(run, rows, modes, measured, mixture):
    """The report fragment: every figure 17-35 with its note and command, the KL table, the mode study."""
    from vinf.fit import ANNEAL_START

    folder, cmd, quick = run.out.name, f"`{run.command}`", run.quick
    f = facts(run, rows, modes, measured, mixture)
    notes = figure_notes(f)
    mean_field = [r for r in rows if r["family"] == "mean_field"]
    hills = {v: r for (t, v), r in f["modes"].items() if t == "energy1"}
    seeds = next((r["num_runs"] for r in modes["runs"]), 0)
    w_scale = VARIANTS["thesis_init"]["surrogate"]["w_scale"]
    lines = [_banner(run)] if quick else []
    lines.append(_setting_sentence(f, quick))
    for number in range(17, 36):
        fid = f"fig{number}"
        lines.append(f"### Figure {number}\n")
        lines += [f"![Fig. {number}]({folder}/{p.name})\n" for p in sorted(run.out.glob(f"{fid}_*.png"))]
        lines += [notes[fid].text(quick) + "\n", f"Command: {cmd}\n"]
    lines += [
        "### Beyond the study: ELBO against the exact log normaliser\n",
        _baseline_paragraph(rows, mean_field, run.cached_extra("gaussian_optimum"), measured.get("origin")),
        run.path("kl_table.md").read_text() + "\n",
        "### Beyond the study: one mode or two, and our departures switched off\n",
        "The study remarks that energy 1 is sometimes fitted on one arc only, and its Figure 18 shows both hills "
        f"of the two-hills target captured. For both targets (modes either side of z1 = 0) we trained "
        f"{plural(seeds, 'seed')} as one batched planar surrogate at the figures' K and steps, under our choices and "
        f"under each of: the study's planar initialisation (w at sd {w_scale:g}; ours 1/√D), the study's checkpoint "
        "(the lowest single-step loss; ours its moving average), both, annealing "
        f"as Rezende & Mohamed (β_t = min(1, {ANNEAL_START:g} + t/N) over the first N = 1/{ANNEAL_FRACTION} of the "
        f"steps, the recorded loss staying the true −ELBO), and {LONGER} times the steps; the "
        "same seeds each time: the study's checkpoint follows our training step for step and differs only in the "
        "parameters it restores, and the longer training repeats ours before going on. A seed *covers both "
        f"modes* when at least {100 * ONE_MODE_SHARE:.0f} % of q's mass "
        f"lies on each side of z1 = 0; it is also within log 2 / 2 = {BOTH_MODES_KL:.3f} of log Z or not (a one-mode "
        "fit has KL ≈ log 2). Along training, the smoothed ELBO gives the first step within log 2 / 2 and the steps "
        f"spent on the one-mode plateau (KL within {PLATEAU:g} of log 2).\n",
        variant_sentence("Two hills", {v: r for (t, v), r in f["modes"].items() if t == "two_hills"}) + "\n",
        variant_sentence("Energy 1", hills) + "\n",
        annealing_sentence(hills),
        modes_markdown(modes) + "\n",
        f"![Mode study]({folder}/mode_study_annealing.png)\n",
        f"Command: {cmd}\n",
    ]
    run.write_text("report.md", "\n".join(lines))
