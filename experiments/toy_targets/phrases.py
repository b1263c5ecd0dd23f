"""The phrases of the toy-targets report that compare, count or judge: each has a branch for every outcome
(the tests flip their inputs)."""
import math

import numpy as np

from experiments.common.agreement import P_AGREE, counts_p
from experiments.common.prose import percent, plural
from experiments.common.variants import STUDY
from experiments.toy_targets.config import (BOTH_MODES_KL, FLOWS, LONGER_TRAINING, ONE_MODE_SHARE, PLATEAU,
                                            VARIANT_LABELS)

SHARE_TOLERANCE = 0.03  # a share of draws within this of the target's mass matches it
LINE_SHARE = 0.95  # one straight line "cuts" q_0 when it separates this share of the draws by their mode
DEPARTURES = tuple(v.name for v in (*STUDY, LONGER_TRAINING))  # our choices switched (steps: ours too)


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
