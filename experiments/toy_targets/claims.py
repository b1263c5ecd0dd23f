"""The study's conclusions on its demonstrative targets (section VI.A), each checked against our fits: one row
per claim of the thesis's text that our numbers can test, its verdict computed (``experiments.common.claims``).

The flow the thesis's figures show is planar, so the claims are tested on our planar fits; the radial ones are
in the evidence where they differ."""
import math

import numpy as np

from experiments.common.agreement import Z_AGREE, format_z
from experiments.common.claims import (FAILS, HOLDS, MISSING, NOT_SHOWN, UNDECIDED, by_flag, by_majority, by_z, claim,
                                       rate_bound, sometimes)
from experiments.common.prose import percent
from experiments.common.toys import ONE_MODE_SHARE
from experiments.toy_targets.notes import (MATCHED, banana_z, centre_empty, energy_findings,
                                           energy_misses, lobe_shape, mixture_failures, same_banana, symmetric_checks)
from experiments.toy_targets.phrases import (LINE_SHARE, arm_z, collapse_steps, count_change, noise_falls,
                                             orientation)

STUDY_FLOW = "planar"  # the flow of the thesis's figures


def stability(traces):
    """Fig. 17: the per-step noise falls with S; the collapses are fewer at larger S."""
    sizes = sorted(traces, key=int)
    if len(sizes) < 2:
        return [claim("the larger S, the more stable training", "VI.A, Fig. 17", "one S traced", MISSING)]
    noise = ", ".join(f"{traces[s]['noise']:.3f} (S = {s})" for s in sizes)
    change = count_change(traces[sizes[0]]["collapses"], traces[sizes[-1]]["collapses"])
    fewer = {"fewer": HOLDS, "more": FAILS, "within chance": UNDECIDED, "none": NOT_SHOWN}[change]
    return [claim("the larger S, the less noisy the per-step ELBO estimate (sd ∝ 1/√S)", "VI.A, Fig. 17",
                  f"robust sd of the per-step estimate {noise}", by_flag(noise_falls(traces))),
            claim("the larger S, the fewer collapses of training", "VI.A, Fig. 17",
                  f"one training per S; {collapse_steps(traces)}", fewer)]


def two_hills(modes, optimum):
    """Fig. 18: the flow covers both hills, and fits them better than any Gaussian could."""
    row = modes.get("two_hills")
    if row is None:
        return [claim("the planar flow turns q_0 into two modes on both hills", "VI.A, Fig. 18", "not trained",
                      MISSING)]
    runs, kl = row["num_runs"], np.asarray(row["kl"])
    counts = (f"{row['both_modes']} of {runs} seeds cover both hills (mass on both sides and KL < log 2), "
              f"{row['one_mode']} one, {row['spread']} spread; median KL {np.median(kl):.3f}")
    out = [claim("the planar flow turns q_0 into two modes on both hills (x = 0.5, the study's σ² = 0.1)",
                 "VI.A, Fig. 18", counts, by_majority(row["both_modes"], runs))]
    best = optimum.get("two_hills")
    if best is None or runs < 2:
        z, evidence = None, "no best Gaussian, or one seed"
    else:
        se, gap = kl.std(ddof=1) / math.sqrt(runs), best - kl.mean()
        z = gap / se if se else math.copysign(math.inf, gap) if gap else 0.0
        evidence = (f"KL over the seeds {kl.mean():.3f} ± {se:.3f} against the best diagonal Gaussian's {best:.3f} "
                    f"(z {format_z(z)})")
    out.append(claim("the flow fits the two hills closely: more closely than any Gaussian", "VI.A, Fig. 18", evidence,
                     by_z(z)))
    return out


def mixture(components, mix):
    """Figs. 20-21: both components recovered with their shapes, the lower one denser."""
    failures, _ = mixture_failures(components, mix)
    return [claim("both Gaussians of the mixture appear, with matching shapes, the bottom one with the higher mode",
                  "VI.A, Figs. 20-21", "; ".join(failures) or "shares, correlations' signs and the denser component "
                                                                 "as p's, for both flows", by_flag(not failures))]


def symmetric(components, cut):
    """Figs. 23-25: both symmetric modes covered with equal heights; q_0 split horizontally."""
    checks = symmetric_checks(components)
    planar = [text for key, text in (("thin", f"a mode under {percent(ONE_MODE_SHARE, 0)} of the draws"), ("unequal", "unequal heights"),
                                     ("away", "a peak away from its mean")) if STUDY_FLOW in checks[key]]
    c = cut[STUDY_FLOW]
    horizontal = c["angle"] is not None and c["accuracy"] >= LINE_SHARE and orientation(c["angle"]) == "horizontally"
    line = ("no cut: the draws reach one mode" if c["angle"] is None else
            f"the planar flow's cut: {c['angle']:.0f}° from the z1 axis, {percent(c['accuracy'])} of the draws "
            "separated by one line")
    return [claim("planar flows capture the symmetric two-mode mixture: both modes, equal heights", "VI.A, Figs. 23-24",
                  f"planar's peak ratio {checks['ratios'][STUDY_FLOW]:.2f}" + (f"; {', '.join(planar)}" if planar
                                                                                else ""), by_flag(not planar)),
            claim("the flow splits q_0's draws horizontally between the two modes", "VI.A, Fig. 25",
                  line, by_flag(horizontal))]


def banana(arms, nuts):
    """Figs. 27 and 29: the flow's arms extend beyond the posterior's; NUTS draws a banana like the flows'."""
    z = arm_z(arms, STUDY_FLOW)
    out = [claim("the flow's banana arms extend beyond the posterior's", "VI.A, Fig. 27",
                 f"share of draws with z1 > {arms['threshold']:g}: planar {arms[STUDY_FLOW]:.4f}, exact "
                 f"{arms['exact']:.4f} (z {format_z(z)})", by_z(z))]
    z_nuts, _ = banana_z(arms, nuts)
    if same_banana(arms) is False:
        verdict, evidence = MISSING, (f"NUTS drew another banana (z2 sd {arms['NUTS_scale']:.2f} against "
                                      f"{arms['scale']:g}): `vinf.mcmc.banana_nuts` is not the target")
    elif z_nuts is None:
        verdict, evidence = MISSING, "no NUTS draw counts"
    else:
        verdict = HOLDS if abs(z_nuts) < Z_AGREE else FAILS
        evidence = f"NUTS's share beyond the arm {arms['NUTS']:.4f} against {arms['exact']:.4f} (z {format_z(z_nuts)})"
    return out + [claim("NUTS (3000 tuning steps) draws the same banana", "VI.A, Fig. 29", evidence, verdict)]


def circle(centre, lobes):
    """Figs. 31-32: no draws in the circle's middle; q_K's modes match p's."""
    shape = lobe_shape(lobes.get(STUDY_FLOW), lobes.get("exact"), lobes.get("se", {}).get(STUDY_FLOW))
    return [claim("no samples in the middle of the circle", "VI.A, Fig. 31",
                  f"share with |z| < {centre['radius']:g}: planar {centre[STUDY_FLOW]:.4f}, p {centre['exact']:.4f}",
                  by_flag(centre_empty(centre, STUDY_FLOW))),
            claim("the modes of q_K match the target's closely", "VI.A, Fig. 32",
                  f"lobe contrast: planar {lobes.get(STUDY_FLOW, float('nan')):.2f}, p "
                  f"{lobes.get('exact', float('nan')):.2f}", MISSING if shape == "unmeasured" else
                  by_flag(shape in MATCHED))]


def energies(kl, branches, arcs):
    """Fig. 35: the samples match the energies; energy 1 is sometimes fitted on one arc only; energy 4 overflows."""
    _, misses, far = energy_findings(kl, branches)
    planar = energy_misses(STUDY_FLOW, misses, far)
    out = [claim("the samples match the four energies closely", "VI.A, Fig. 35",
                 "; ".join(planar) or "planar's branches within the tolerance and every KL below it",
                 by_flag(not planar))]
    if arcs is None:
        out.append(claim("energy 1 is sometimes fitted on one arc only (a local minimum)", "VI.A, Fig. 35",
                         "not trained", MISSING))
    else:
        runs = arcs["num_runs"]
        bound = "" if arcs["one_mode"] else f" (a rate up to {percent(rate_bound(runs), 0)} remains plausible)"
        out.append(claim("energy 1 is sometimes fitted on one arc only (a local minimum)", "VI.A, Fig. 35",
                         f"of {runs} planar seeds under our choices, {arcs['both_modes']} cover both arcs, "
                         f"{arcs['one_mode']} one arc, {arcs['spread']} neither{bound}",
                         sometimes(arcs["one_mode"], runs)))
    out.append(claim("energy 4's exponentials sometimes overflow without the log-sum-exp trick", "VI.A, eq. 89",
                     "vinf writes every sum of exponentials with log-sum-exp from the start", MISSING))
    return out


def checked(f):
    """Every claim of section VI.A that our numbers test, from the report's facts (``report.facts``)."""
    m = f["measured"]
    return (stability(f["traces"]) + two_hills(f["modes"], f["optimum"])
            + mixture(m["components"]["gaussian_mixture"], f["mixture"])
            + symmetric(m["components"]["figure_eight"], m["cut"]) + banana(f["arms"], f["nuts"])
            + circle(m["circle_centre"], m["lobes"]) + energies(f["kl"], m["branches"], f["modes"].get("energy1")))
