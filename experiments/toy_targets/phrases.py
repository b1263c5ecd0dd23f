"""The phrases of the toy-targets report that compare, count or judge: each has a branch for every outcome
(the tests flip their inputs)."""
import math

import numpy as np
from scipy.stats import binomtest

from experiments.common.agreement import P_AGREE, Z_AGREE
from experiments.common.prose import percent, plural
from experiments.common.toys import ONE_MODE_KL, ONE_MODE_SHARE, OUTCOMES, seed_outcomes
from experiments.toy_targets.config import FLOWS

SHARE_TOLERANCE = 0.03  # a share of draws within this of the target's mass matches it
LINE_SHARE = 0.95  # one straight line "cuts" q_0 when it separates this share of the draws by their mode
HILLS = dict(zip(OUTCOMES, ("one hill", "both hills", "neither hill cleanly (a broad q over the valley)")))


def sentence(text):
    """``text`` with its first letter capitalised (``str.capitalize`` would lower the rest)."""
    return text[:1].upper() + text[1:]


def names(items):
    """``a``, ``a and b``, ``a, b and c`` (``none`` for no item)."""
    items = list(items)
    if len(items) < 2:
        return items[0] if items else "none"
    return ", ".join(items[:-1]) + " and " + items[-1]


def number_text(value, spec=".4f"):
    """``value`` formatted by ``spec``, or a dash for a value not measured."""
    return "–" if value is None else format(value, spec)


def hills_phrase(share, kl):
    """What a fit of the two hills covers, from its share of q on the smaller side of z = 0 and its KL
    (``common.toys.seed_outcomes``: both hills takes mass on both sides and a KL below one hill's log 2)."""
    return HILLS[seed_outcomes([share], [kl])[0]]


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
        if c["angle"] is None:
            parts.append(f"the {flow} flow sends {percent(max(c['share'], 1 - c['share']))} of the draws to one mode, "
                         "so there is no cut to find")
            continue
        straight = c["accuracy"] >= line_share
        split = ("" if c.get("share") is None else
                 f"; {percent(c['share'])} / {percent(1 - c['share'])} of the draws reach the two modes "
                 + ("(halves)" if halves(c) else "(not halves)"))
        parts.append(f"the {flow} flow cuts z_0 {orientation(c['angle'])}"
                     + (f", one straight line separating {percent(c['accuracy'])} of the draws by the mode they reach"
                        if straight else f", but no straight line does it (the best separates only "
                                         f"{percent(c['accuracy'])} of the draws by the mode they reach)") + split)
    return "; ".join(parts)


def arm_z(arms, flow):
    """``z`` of a flow's share of draws in the banana's arm against the exact mass ``p``, with the binomial standard
    error ``sqrt(p (1 - p) / n)`` of its ``n`` independent draws; None when that error is 0 (p is 0 or 1)."""
    p, n = arms["exact"], arms["draws"]
    se = math.sqrt(p * (1 - p) / n) if n else 0.0
    return (arms[flow] - p) / se if se else None


def arm_reach(arms):
    """``{flow: "beyond", "short", "as far" or "unjudged"}``: whether each flow's arms hold more or less mass than
    the posterior's beyond ``Z_AGREE`` standard errors."""
    reach = {}
    for f in FLOWS:
        z = arm_z(arms, f)
        reach[f] = "unjudged" if z is None else "beyond" if z >= Z_AGREE else "short" if z <= -Z_AGREE else "as far"
    return reach


def arms_verdict(arms):
    """Figure 27 against the study, whose flow's arms extended beyond the posterior's."""
    reach = arm_reach(arms)
    if "unjudged" in reach.values():
        return "ours cannot be judged: the exact mass beyond the threshold is 0 or 1, so the draws have no error"
    if set(reach.values()) == {"beyond"}:
        return "our flows' arms extend beyond the posterior's too (|z| ≥ 2)"
    if set(reach.values()) == {"short"}:
        return "our flows' arms fall short of the posterior's rather than extending beyond them (|z| ≥ 2)"
    if set(reach.values()) == {"as far"}:
        return "our flows' arms reach as far as the posterior's, within the draws' noise (|z| < 2)"
    return "ours differ by flow: " + ", ".join(
        f"{f}'s {dict(beyond='extend beyond', short='fall short of', **{'as far': 'reach as far as'})[r]} the "
        f"posterior's" for f, r in reach.items())


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


def count_change(before, after):
    """How a count of events over equally long trainings changes (two Poisson counts: the exact conditional
    binomial test of ``after`` among ``before + after`` against one half, at ``P_AGREE``): ``"none"`` (no event
    in either), ``"fewer"`` or ``"more"`` beyond chance, else ``"within chance"``."""
    if before + after == 0:
        return "none"
    if binomtest(after, before + after, 0.5).pvalue >= P_AGREE:
        return "within chance"
    return "fewer" if after < before else "more"


def collapses_fall(traces):
    """Whether Figure 17's collapses are fewer at the largest S than at the smallest beyond chance
    (``count_change``), and never more beyond chance from one S to the next."""
    counts = [traces[s]["collapses"] for s in sorted(traces, key=int)]
    steps = [count_change(a, b) for a, b in zip(counts, counts[1:])]
    return len(counts) > 1 and count_change(counts[0], counts[-1]) == "fewer" and "more" not in steps


def collapse_steps(traces):
    """Figure 17's collapses from each S to the next: ``S = 10 to 100: 9 against 0, fewer (p = 0.004)``."""
    sizes = sorted(traces, key=int)
    parts = []
    for a, b in zip(sizes, sizes[1:]):
        before, after = traces[a]["collapses"], traces[b]["collapses"]
        change = count_change(before, after)
        p = "" if change == "none" else f", p = {binomtest(after, before + after, 0.5).pvalue:.2g}"
        word = {"none": "none at either, so nothing to compare", "within chance": "no more apart than chance",
                "fewer": "fewer beyond chance", "more": "more beyond chance"}[change]
        parts.append(f"S = {a} to {b}: {before} against {after}, {word}{p}")
    return "; ".join(parts)


def modes_sentence(name, row):
    """What R seeds of a two-mode target under our choices end as (``common.toys.mode_outcome``'s counts)."""
    if row is None:
        return f"{name}: not trained."
    kl = float(np.median(row["kl"]))
    return (f"{name}: {row['both_modes']} of {plural(row['num_runs'], 'seed')} cover both modes (≥ "
            f"{percent(ONE_MODE_SHARE, 0)} of q on each side of z1 = 0 and KL < log 2 = {ONE_MODE_KL:.3f}), "
            f"{row['one_mode']} one mode, {row['spread']} spread over both sides with KL ≥ log 2; "
            f"{row['close']} within log 2 / 2 of log Z; median KL {kl:.3f}.")


def study_hills_verdict(ours, runs):
    """Figure 18 against the study, whose figure shows q_K on both hills: how many of our ``runs`` seeds under our
    choices cover both (``ours``)."""
    if ours == runs:
        return "so do ours, in every seed"
    if ours == 0:
        return f"ours cover both in none of {runs} seeds"
    return f"ours cover both in {ours} of {runs} seeds"


def gaussian_gap(kl, optimum):
    """How the flows' KL on the two hills stands against the best diagonal Gaussian's (``optimum``): a flow that
    only spreads one Gaussian over both hills gets no lower."""
    if optimum is None:
        return "no best Gaussian was computed to compare with"
    if kl < optimum:
        return f"below the best Gaussian's {optimum:.3f} (which covers both hills too: the flow shapes them)"
    return f"not below the best Gaussian's {optimum:.3f}: no more than a Gaussian spread over both hills"
