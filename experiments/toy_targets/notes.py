"""The notes of Figures 17-35: what each figure shows, measured, and (left out of quick runs) how it stands
against the study; each computed from the numbers in ``results.json``."""
import math

import numpy as np

from experiments.common.agreement import Z_AGREE, format_z, z_between
from experiments.common.claims import rate_bound
from experiments.common.prose import Note, percent, plural
from experiments.common.toys import ONE_MODE_SHARE
from experiments.toy_targets.config import (BANANA_NUTS_TOLERANCE, COLLAPSE, ENERGIES, ENERGY_WINDOW, FAMILIES, FLOWS,
                                            LOBES, RING_SIDES, SECTOR_DEGREES, TAIL_FRACTION)
from experiments.toy_targets.figures import figure_eight_phrase
from experiments.toy_targets.phrases import (LINE_SHARE, SHARE_TOLERANCE, arm_z, arms_verdict, collapse_steps, collapses_fall,
                                             cut_sentence, gaussian_gap, halves, hills_phrase, modes_sentence, names,
                                             noise_falls, number_text, orientation, share_verdict, study_hills_verdict)
from vinf.fit import CHECKPOINT_DECAY
from vinf.targets.toy import CAPTION_SIGMA, TWO_HILLS_SIGMA

FAMILY_NAMES = dict(planar="planar", radial="radial", mean_field="mean-field")
CLOSE_KL = 0.05  # nats: a fit this close to p "follows" it
EQUAL_PEAKS = 0.9  # two peaks of q_K are "equal" when the lower is at least this share of the higher
PEAK_SD = 1.0  # a peak of q_K lies "at" a component's mean within this Mahalanobis distance
BEND_DISTANCE = 0.5  # q_K peaks "at the bend" of the banana within this distance of it
SIDE_BY_SIDE = 0.9  # quarters lie side by side along the ring when this share of a sector is of one quarter
HOLLOW = 0.01  # the circle's centre is "empty" when p puts less than this mass there
LOBE_TOLERANCE = 0.15  # Figure 32: q_K's lobes "match" p's when their contrast is within this share of p's


def _kl_phrase(kl, target, families=FAMILIES):
    return ", ".join(f"{FAMILY_NAMES[f]} {kl[target][f]:.3f}" for f in families)


def _peak(x):
    return -math.inf if x["peak"] is None else x["peak"]


def _at_mean(x, sd=PEAK_SD):
    """Whether the highest q_K among a component's draws lies within ``sd`` of its mean."""
    return x["peak_distance"] is not None and x["peak_distance"] < sd


def mixture_failures(components, mixture):
    """What keeps Figure 20 from the study's reading (both components recovered, with their orientations, the
    lower one denser): one phrase per failure, none when it holds; and which component q_K is highest in, per flow,
    and for p."""
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
    return failures, dict(wrong_sign=wrong_sign, off_share=off_share, denser=denser, true_denser=true_denser,
                          away=away)


def note_mixture(kl, components, mixture):
    """Figures 20-21: per flow, each component's share of the draws, their correlation and the peak of q_K."""
    lower = int(np.argmin(np.asarray(mixture["locs"])[:, 1]))
    upper = 1 - lower
    truth = components[FLOWS[0]]
    failures, checks = mixture_failures(components, mixture)
    wrong_sign, off_share, denser, true_denser, away = (checks[k] for k in (
        "wrong_sign", "off_share", "denser", "true_denser", "away"))
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
    peaks = "; ".join(f"{f}: " + ", ".join(f"{number_text(components[f][k]['peak'])} at "
                                           f"{number_text(components[f][k]['peak_distance'], '.2f')} sd from the mean"
                                           for k in (upper, lower)) for f in FLOWS)
    fig21 = Note(f"Highest q_K among the draws nearest each component (upper, lower): {peaks}; the true density at "
                 f"the means: {truth[upper]['true_peak']:.4f}, {truth[lower]['true_peak']:.4f}. One colour scale for "
                 "both panels.",
                 "As in the study's 3-D plot (here a colour map), q_K peaks at the two component means."
                 if not away else f"Unlike the study's 3-D plot, q_K of {names(away)} does not peak at both component "
                                  f"means (a peak more than {PEAK_SD:g} sd away, or no draw near a mean).")
    return fig20, fig21


def symmetric_checks(components):
    """Figures 23-24, per flow: the flows with a mode under ``ONE_MODE_SHARE`` of the draws (``thin``), with
    unequal peaks (``unequal``) or a peak away from its mean (``away``), and each flow's peak ratio."""
    ratios = {f: None if any(x["peak"] is None for x in components[f]) else
              min(x["peak"] for x in components[f]) / max(x["peak"] for x in components[f]) for f in FLOWS}
    return dict(thin=[f for f in FLOWS if any(x["share"] < ONE_MODE_SHARE for x in components[f])],
                unequal=[f for f in FLOWS if ratios[f] is None or ratios[f] < EQUAL_PEAKS],
                away=[f for f in FLOWS if not all(_at_mean(x) for x in components[f])], ratios=ratios)


def note_symmetric(kl, components, cut):
    """Figures 23-25: both modes covered, equal peaks, and the cut of q_0."""
    shares = "; ".join(f"{f} {components[f][0]['share']:.3f} / {components[f][1]['share']:.3f}" for f in FLOWS)
    checks = symmetric_checks(components)
    thin, unequal, away, ratios = (checks[k] for k in ("thin", "unequal", "away", "ratios"))
    fig23 = Note(f"Share of the draws nearest each mode ({figure_eight_phrase(covariance=False)}): {shares}. "
                 "KL(q‖p): " + _kl_phrase(kl, "figure_eight") + ".",
                 "As in the study, both symmetric modes are covered." if not thin else
                 f"Unlike the study, one mode holds less than {percent(ONE_MODE_SHARE, 0)} of the draws of "
                 f"{names(thin)}.")
    failures = ([f"the heights differ by more than {percent(1 - EQUAL_PEAKS, 0)} for {names(unequal)}"] if unequal
                else []) + ([f"a peak lies more than {PEAK_SD:g} sd from its mean for {names(away)}"] if away else [])
    fig24 = Note("Highest q_K near each mode: " + "; ".join(
        f"{f} {number_text(components[f][0]['peak'])} / {number_text(components[f][1]['peak'])} (ratio "
        f"{number_text(ratios[f], '.2f')})" for f in FLOWS)
        + f"; the true density at the means: {components[FLOWS[0]][0]['true_peak']:.4f}. One colour scale.",
        f"As in the study, q_K is highest at the two means, with equal heights (within {percent(1 - EQUAL_PEAKS, 0)})."
        if not failures else "The study's q_K is highest at the two means with equal heights; here "
                             + " and ".join(failures) + ".")
    crooked = [f for f, c in cut.items() if c["accuracy"] is None or c["accuracy"] < LINE_SHARE]
    uneven = [f for f, c in cut.items() if not halves(c)]
    slanted = [f for f, c in cut.items() if c["angle"] is None or orientation(c["angle"]) != "horizontally"]
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


def same_banana(arms, tolerance=BANANA_NUTS_TOLERANCE):
    """Whether NUTS drew the target's banana: its z2 sd within ``tolerance`` of the target's (None: not
    measured)."""
    if arms.get("NUTS_scale") is None:
        return None
    return abs(arms["NUTS_scale"] / arms["scale"] - 1.0) <= tolerance


def note_banana(kl, arms, peaks, nuts):
    close = all(kl["banana"][f] < CLOSE_KL for f in FLOWS)
    fig27 = Note(
        f"KL(q‖p): {_kl_phrase(kl, 'banana')}: the flows' draws are "
        + ("within " if close else "not all within ") + f"{CLOSE_KL:g} nats of the banana (z2's sd "
        f"{arms['scale']:g}, as the study's code). Share of draws with z1 > {arms['threshold']:g}: "
        + ", ".join(f"{arms[k]:.4f} ({k}, z = {format_z(arm_z(arms, k))})" for k in FLOWS)
        + f" against {arms['exact']:.4f} exactly (quadrature; z with the binomial standard error of "
        f"{arms['draws']} draws).",
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
    same = same_banana(arms)
    drawn = ("" if same is None else f" Its draws' z2 sd is {arms['NUTS_scale']:.2f} against the target's "
             f"{arms['scale']:g}" + (" (the same banana)." if same else
                                     ": `vinf.mcmc.banana_nuts` draws another banana than `vinf.targets.banana`, "
                                     "so its arms are not compared."))
    agree = z is not None and abs(z) < Z_AGREE
    fig29 = Note(
        f"NUTS (PyMC, {nuts['tune']} tuning steps, {plural(chains, 'chain')}): share with z1 > {arms['threshold']:g} "
        f"{arms['NUTS']:.4f} against {arms['exact']:.4f} exactly, z = {format_z(z) or '–'} with the binomial "
        f"standard error of {error}; the sampler reports {plural(nuts['divergences'], 'divergence')} in "
        f"{nuts['draws']} draws." + drawn,
        "" if same is False else
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
    "lobes": ("has them, as high", "have them, as high"), "flatter": ("has them, flatter", "have them, flatter"),
    "sharper": ("has them, sharper", "have them, sharper"), "none": ("has none", "have none"),
    "none_as_p": ("has none, as p", "have none, as p"), "extra": ("has lobes p lacks", "have lobes p lacks"),
    "unmeasured": ("was not measured", "were not measured")}
MATCHED = ("lobes", "none_as_p")  # the shapes where q_K's modes match p's


def _positive(value):
    return value is not None and math.isfinite(value) and value > 0


def lobe_shape(ratio, exact, se=0.0, tolerance=LOBE_TOLERANCE):
    """A key of ``LOBE_SHAPES``: how q_K's lobe contrast ``ratio`` (the standard error of its log ``se``) stands
    against p's ``exact`` one: as high when within ``tolerance`` of it or ``Z_AGREE`` standard errors, else
    flatter or sharper; none when q_K is no higher on the lobes than on the ring's sides."""
    if not (_positive(ratio) and _positive(exact)):
        return "unmeasured"
    if exact <= 1:
        return "none_as_p" if ratio <= 1 else "extra"
    if ratio <= 1:
        return "none"
    gap = math.log(ratio / exact)
    if abs(gap) <= max(math.log1p(tolerance), Z_AGREE * (se or 0.0)):
        return "lobes"
    return "flatter" if gap < 0 else "sharper"


def lobes_sentence(lobes):
    """Figure 32's measured note: whether p's density is highest where the ring meets the bumps, and how
    each flow's q_K stands against that."""
    exact, centre = lobes.get("exact"), (LOBES[0] + LOBES[1]) / 2
    where = (f"its mean on the lobes ({LOBES[0]:g} < |z1| < {LOBES[1]:g}) is {number_text(exact, '.2f')} times its "
             f"mean on the ring's sides (|z1| > {RING_SIDES:g}), both weighted by p (quadrature)")
    if not _positive(exact):
        head = f"The circle's lobe contrast could not be measured ({where})."
    elif exact > 1:
        head = (f"The circle's density (Figure 30: the negated printed form) is highest where the ring meets the bumps "
                f"at z1 = ±{centre:g}: {where}.")
    else:
        head = (f"The circle's density (Figure 30: the negated printed form) is not higher where the ring meets the "
                f"bumps at z1 = ±{centre:g}: {where}.")
    errors = lobes.get("se", {})
    shape = {f: lobe_shape(lobes.get(f), exact, errors.get(f)) for f in FLOWS}
    return head + (f" The same ratio for q_K over its draws (as high as p's within {percent(LOBE_TOLERANCE, 0)} or "
                   f"{Z_AGREE:g} standard errors): ") + ", ".join(
        f"{f} {number_text(lobes.get(f), '.2f')} ({LOBE_SHAPES[shape[f]][0]})" for f in FLOWS) + ".", shape


def centre_empty(centre, flow):
    """Whether a flow leaves the circle's centre as empty as p does (at most twice p's share, or ``HOLLOW``)."""
    return centre[flow] <= max(2 * centre["exact"], centre["exact"] + HOLLOW)


def note_circle(kl, centre, lobes, quarters):
    hollow = centre["exact"] < HOLLOW
    fig30 = Note(f"{CIRCLE_CODE}. It puts {centre['exact']:.4f} of its mass within |z| < {centre['radius']:g}.",
                 "The negated form is the ring the study's text describes, with no mass in its middle." if hollow else
                 "Unlike the ring the study's text describes, the negated form has mass in its middle.")
    empty = all(centre_empty(centre, f) for f in FLOWS)
    fig31 = Note(f"KL(q‖p): {_kl_phrase(kl, 'circle')}. Share of draws with |z| < {centre['radius']:g}: "
                 + ", ".join(f"{centre[f]:.4f} ({f})" for f in FLOWS) + f" against {centre['exact']:.4f} for p.",
                 "As in the study, the ring is followed and its centre stays empty." if empty else
                 "Unlike the study, draws fill the ring's centre.")
    measured, shape = lobes_sentence(lobes)
    groups = {}
    for f in FLOWS:
        groups.setdefault(shape[f], []).append(f)
    fig32 = Note(measured + " One colour scale for both panels.",
                 "As in the study, the modes of q_K match the target's, where and how high." if set(groups) <= set(
                     MATCHED) else "The study's modes matched the target's closely; here " + "; ".join(
                     f"{names(fl)} {LOBE_SHAPES[key][len(fl) > 1]}" for key, fl in groups.items()) + ".")
    layout = {f: "side by side" if quarters[f]["purity"] >= SIDE_BY_SIDE else "partly in layers" for f in FLOWS}
    fig33 = Note("Colouring z_0 by quadrant shows each quarter of q_0 laid along the ring: "
                 + "; ".join(f"{f}: {quarters[f]['arcs']} arcs in all (4 would be one a quarter), "
                             f"{percent(quarters[f]['purity'])} of draws from their {SECTOR_DEGREES}° sector's "
                             "commonest quarter "
                             f"({layout[f]})" for f in FLOWS) + ".",
                 "The study found its map hard to read.")
    return fig30, fig31, fig32, fig33


def energy_misses(flow, misses, far):
    """What keeps one flow from matching the energies (its phrases among ``misses``, the branches whose mass it
    misses, and ``far``, the energies it is not within ``CLOSE_KL`` of); empty when it matches them closely."""
    return [m for m in misses + far if m.startswith(f"{flow} ")]


def arcs_sentence(row):
    """Figure 35's energy 1 against the study, which found it sometimes fitted on one arc only: the mode study's
    seeds under our choices (``row``: its energy-1 row)."""
    if row is None:
        return "The mode study did not train energy 1, so how often one arc alone is fitted is not measured."
    runs, one = row["num_runs"], row["one_mode"]
    spread = f", {row['spread']} neither (spread over both sides, KL ≥ log 2)" if row["spread"] else ""
    head = (f"The study found energy 1 sometimes fitted on one arc only (a local optimum); of our {runs} planar seeds "
            f"under our choices (the mode study), {row['both_modes']} cover both arcs{spread} and {one} one arc")
    if one:
        return head + ": as the study found, one arc alone happens."
    return head + (f": the failure did not occur here (a rate up to {percent(rate_bound(runs), 0)} is still "
                   "plausible from so few seeds).")


def energy_findings(kl, branches):
    """Figure 35: each branch's mass per flow beside p's (``findings``), the branches a flow misses beyond
    ``SHARE_TOLERANCE`` (``misses``) and the energies a flow is not within ``CLOSE_KL`` of (``far``)."""
    findings, misses = [], []
    for name, by_branch in branches.items():
        for branch, share in by_branch.items():
            findings.append(f"{name.replace('energy', 'energy ')}'s {branch}: p {percent(share['exact'])}, "
                            + ", ".join(f"{f} {percent(share[f])}" for f in FLOWS))
            misses += [f"{f} {share_verdict(share[f], share['exact'])} {name.replace('energy', 'energy ')}'s {branch}"
                       for f in FLOWS if share_verdict(share[f], share["exact"]) != "matches"]
    far = [f"{f} on {t.replace('energy', 'energy ')} (KL {kl[t][f]:.3f} ≥ {CLOSE_KL:g})" for t in ENERGIES
           for f in FLOWS if kl[t][f] >= CLOSE_KL]
    return findings, misses, far


def note_energies(kl, branches, window_mass, arcs):
    fig34 = Note(
        "The four energies of eq. 87 as the study's code has them (energy 2 with the ½ that eq. 87 omits); energies "
        "2-4 carry a wall at |z1| = 4 that makes them proper densities. "
        f"The window z1 ∈ [{ENERGY_WINDOW[0][0]:g}, {ENERGY_WINDOW[0][1]:g}], z2 ∈ [{ENERGY_WINDOW[1][0]:g}, "
        f"{ENERGY_WINDOW[1][1]:g}] holds " + ", ".join(f"{percent(window_mass[n])} ({n})" for n in ENERGIES)
        + " of each energy's mass.")
    findings, misses, far = energy_findings(kl, branches)
    worst_kl, worst_target, worst_family = max((kl[t][f], t, f) for t in ENERGIES for f in FLOWS)
    measured = ("KL(q‖p): " + "; ".join(f"{t.replace('energy', 'energy ')}: " + _kl_phrase(kl, t) for t in ENERGIES)
                + f". The largest gap is {worst_family} on {worst_target.replace('energy', 'energy ')} "
                f"(KL {worst_kl:.3f}). Mass of the draws on each branch against p's: " + "; ".join(findings) + ". "
                + ("Every flow puts its mass on the branches as p does (within "
                   f"{100 * SHARE_TOLERANCE:.0f} points)." if not misses else
                   f"Beyond {100 * SHARE_TOLERANCE:.0f} points: " + "; ".join(misses) + ".")
                + " " + arcs_sentence(arcs))
    planar, radial = (energy_misses(f, misses, far) for f in FLOWS)
    study = ("The study's figure shows planar flows matching the energies closely: " + (
        "so do ours." if not planar else f"ours do not everywhere: {'; '.join(planar)}.")
        + " Radial flows, which the study did not show: " + (
            "they match them closely too." if not radial else f"not everywhere: {'; '.join(radial)}."))
    return fig34, Note(measured, study)


def note_traces(traces, log_z):
    """Figure 17: the per-step noise and the collapses against S (one training each), and the fits' final ELBOs."""
    sizes = sorted(traces, key=int)
    if not sizes:
        return Note("No ELBO trace was saved.")
    noise = (f"the per-step ELBO estimate's noise (robust sd over the last {percent(TAIL_FRACTION, 0)} of steps) is "
             + ", ".join(f"{traces[s]['noise']:.3f} (S = {s})" for s in sizes))
    counts = (f"Collapses of the smoothed ELBO (its moving average with decay {CHECKPOINT_DECAY:g}, about "
              f"{1 / (1 - CHECKPOINT_DECAY):.0f} steps, falling more than {COLLAPSE:g} nats below its settled level; "
              "right panels), one training per S: " + ", ".join(f"{traces[s]['collapses']} (S = {s})" for s in sizes))
    ends = ("The trained fits end at ELBOs of " + ", ".join(f"{traces[s]['elbo']:.3f} (S = {s})" for s in sizes)
            + f" against log Z = {log_z:.3f}.")
    if len(sizes) < 2:
        return Note(f"Only S = {sizes[0]} was traced, so nothing is compared: {noise}. {counts}. {ends}")
    last, falls, fewer = sizes[-1], noise_falls(traces), collapses_fall(traces)
    measured = (("Fewer draws per step make training noisier: " if falls else
                 "The noise does not fall with every increase of S: ") + noise + ", against " + ", ".join(
        f"{traces[last]['noise'] * math.sqrt(int(last) / int(s)):.3f}" for s in sizes[:-1])
        + f" predicted from S = {last} by the 1/√S law the study cites. {counts}; as equally long trainings' "
        f"counts (the exact test of two Poisson counts): {collapse_steps(traces)}. {ends}")
    if falls and fewer:
        study = ("As in the study, fewer draws per step make training less stable: noisier, and with more collapses "
                 f"at S = {sizes[0]} than at S = {last} beyond chance.")
    elif falls:
        study = ("As in the study, fewer draws per step make training noisier; fewer collapses at larger S, though, "
                 "are not shown beyond chance by one training per S.")
    else:
        study = "Unlike the study, the noise does not fall steadily with S" + (
            ", though the collapses are fewer at larger S beyond chance." if fewer else
            "; nor are the collapses fewer at larger S beyond chance.")
    return Note(measured, study)


def note_two_hills(kl, hills, modes, optimum, log_z):
    """Figure 18: what the table's fits cover, the mode study's seeds on the study's target and on the caption's
    narrower one, and the best Gaussian beside them (``optimum``: ``{target: its KL}``)."""
    study, narrow = modes.get("two_hills"), modes.get("two_hills_narrow")
    measured = (f"The target is the study's code's, σ² = 0.1 (σ = {TWO_HILLS_SIGMA:.3f}; its caption prints σ = "
                f"{CAPTION_SIGMA:g}), whose valley between the hills is about 1 nat deep. Our fits at the figure's "
                "settings cover " + ", ".join(f"{hills_phrase(hills[f], kl['two_hills'][f])} ({f}, "
                                              f"{percent(hills[f])} of q on the smaller side)" for f in FLOWS)
                + f": KL(q‖p) = {_kl_phrase(kl, 'two_hills')}; one hill of two, well apart, would give log 2 = 0.693. "
                + modes_sentence("Over the seeds of the mode study, the study's target", study) + " "
                + (f"The best Gaussian has KL {optimum['two_hills']:.3f}: on this target one Gaussian over the valley "
                   "covers both hills, so what the flow adds is a KL "
                   + gaussian_gap(float(np.median(study["kl"])), optimum["two_hills"]) + ". "
                   if study and optimum.get("two_hills") is not None else "")
                + modes_sentence(f"With σ = {CAPTION_SIGMA:g} (the caption read as an sd, a valley about 12 nats "
                                 "deep)", narrow)
                + " These are our choices; the same seeds under the study's initialisation and checkpoint, annealed "
                "and trained longer are `python -m experiments.ablations`'s."
                + f" The posterior is normalised here (log Z by 1-D quadrature = {log_z:.3f}), not left unnormalised "
                "as in the study, so q and p share one scale.")
    if study is None:
        return Note(measured)
    return Note(measured, f"The study's Fig. 18 shows q_K on both hills; "
                          f"{study_hills_verdict(study['both_modes'], study['num_runs'])}.")


def figure_notes(f):
    """One note per thesis figure 17-35, from the facts of ``facts``."""
    kl, m = f["kl"], f["measured"]
    weights = ", ".join(f"{w:g}" for w in f["mixture"]["weights"])
    locs = "; ".join("(" + ", ".join(f"{v:.4f}" for v in loc) + ")" for loc in f["mixture"]["locs"])
    notes = dict(
        fig17=note_traces(f["traces"], f["log_z"]["circle"]),
        fig18=note_two_hills(kl, m["hills"], f["modes"], f["optimum"], f["log_z"]["two_hills"]),
        fig19=Note("The mixture of section II as the study's code fits it (its `demo_gmm`, "
                   "code/target_distributions.py l.19-22, 88-92: `vinf.targets.THESIS_MIXTURE`, weights "
                   f"{weights}, means {locs}): the parameters that generated its Figure 4 data, not a fit to them."),
        fig22=Note(f"The symmetric mixture of eqs. 83-84, {figure_eight_phrase()} (the study's code: sd 0.45, where "
                   "the caption prints Σ = 0.45 I)."),
        fig26=Note(f"The banana of eq. 85 as the study's code has it: z2's sd {f['arms']['scale']:g} (eq. 85 prints "
                   "N(z2 | 0, 4), which we had read as a variance)."),
    )
    notes["fig20"], notes["fig21"] = note_mixture(kl, m["components"]["gaussian_mixture"], f["mixture"])
    notes["fig23"], notes["fig24"], notes["fig25"] = note_symmetric(kl, m["components"]["figure_eight"], m["cut"])
    notes["fig27"], notes["fig28"], notes["fig29"] = note_banana(kl, f["arms"], m["banana_peak"], f["nuts"])
    notes["fig30"], notes["fig31"], notes["fig32"], notes["fig33"] = note_circle(kl, m["circle_centre"], m["lobes"],
                                                                                 m["quarters"])
    notes["fig34"], notes["fig35"] = note_energies(kl, m["branches"], m["window_mass"], f["modes"].get("energy1"))
    return notes
