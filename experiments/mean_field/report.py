"""The mean-field experiment's report (``report.md``): each figure inline, what it shows and, at full scale, how it
stands against the study; every sentence is computed from ``results.json``."""
import numpy as np

from experiments.common.data import NUM_COMPONENTS
from experiments.common.prose import Note, quick_banner
from experiments.mean_field.config import FULL
from experiments.mean_field.figures import vector_text
from experiments.mean_field.jobs import never_decreases

ON_MODE_SD = 1.0  # Figure 2: q sits "on" a mode when its mean lies within this many of the mode's sd
SPAN_SD = 2.0  # and "spans" a mode when the mode lies within this many of q's sd from q's mean
FAR_KL = 0.1  # nats: the best Gaussian stays "far" from the bimodal posterior beyond this
MEAN_TOLERANCE = 0.05  # Figure 3: mean field "finds the mean" when every training is this close to it
VARIANCE_TOLERANCE = 0.05  # relative: and "the optimum variances" when their mean is this close to 1/Lambda_ii
ELBO_ERRORS = 3  # an ELBO "matches" a value within this many standard errors over the trainings
ELBO_FLOOR = 0.01  # or within this, the evaluation's Monte-Carlo error
GAP_TOLERANCE = 0.02  # nats: Figure 7's best start "reaches" the quadrature optimum within this (Monte-Carlo error)


def _image(run, name, caption):
    return f"![{caption}]({run.out.name}/{name})\n"


def _captured(index):
    return {0: "the top component", 1: "the bottom component", None: "neither component but between them"}[index]


def placement(mean, sd, post, on=ON_MODE_SD, span=SPAN_SD):
    """Where Figure 2's Gaussian ``N(mean, sd^2)`` sits on the mixture ``post``: on a mode (its mean within ``on``
    of that mode's sd), in the valley between the modes, or beyond them; and which modes it spans (each within
    ``span`` of its own sd)."""
    locs, scales = np.asarray(post["locs"], float), np.asarray(post["scales"], float)
    nearest = int(np.argmin(np.abs(locs - mean)))
    spanned = [f"{m:g}" for m in locs if abs(m - mean) <= span * sd]
    if abs(locs[nearest] - mean) <= on * scales[nearest]:
        where = (f"sits on the mode at {locs[nearest]:g} (its mean within {on:g} sd of it), with "
                 f"{sd / scales[nearest]:.2f} times that mode's sd")
    elif locs.min() < mean < locs.max():
        where = "puts its peak in the valley between the modes"
    else:
        where = "puts its peak beyond the modes"
    if len(spanned) == len(locs):
        width = f"broad enough to span both modes (each within {span:g} sd of its mean)"
    elif spanned:
        width = f"spanning only the mode at {spanned[0]} (within {span:g} sd of its mean)"
    else:
        width = f"spanning neither mode (none within {span:g} sd of its mean)"
    return f"{where}, {width}"


def _section_fig2(f2):
    best = f2["best_run"]
    q_mean, q_sd = f2["mean"][best][0], float(np.sqrt(f2["cov"][best][0][0]))
    post, mm = f2["posterior"], f2["moment_matched"]
    mixture = " + ".join(f"{w} N({m}, {s}²)" for w, m, s in zip(post["weights"], post["locs"], post["scales"]))
    far = f2["kl"] >= FAR_KL
    return Note(f"Posterior p = {mixture}. The best of {len(f2['elbo'])} ADVI trainings is N({q_mean:.2f}, "
                f"{q_sd:.2f}²) with KL(q‖p) = {f2['kl']:.3f} nats (log Z = 0); it {placement(q_mean, q_sd, post)}. "
                f"The moment-matched Gaussian (the KL(p‖q) optimum) is N({mm['mean']:.2f}, {mm['sd']:.2f}²). "
                "A Gaussian has one mode, so none reproduces the two.",
                f"As the study's Figure 2 argues, the Gaussian family cannot come close to this posterior (KL ≥ "
                f"{FAR_KL:g} nats)." if far else
                f"Unlike the study's argument, the best Gaussian comes within {FAR_KL:g} nats of this posterior.")


def elbo_matches(elbos, expected, errors=ELBO_ERRORS, floor=ELBO_FLOOR):
    """Whether the mean of ``elbos`` (one per training) matches ``expected`` within ``errors`` standard errors
    (at least ``floor``, the evaluation's Monte-Carlo error)."""
    elbos = np.asarray(elbos, dtype=float)
    se = elbos.std(ddof=1) / np.sqrt(len(elbos)) if len(elbos) > 1 else 0.0
    return abs(elbos.mean() - expected) <= max(errors * se, floor)


def _section_fig3(f3):
    mf, fr = f3["mean_field"], f3["full_rank"]
    cov = np.asarray(f3["cov"])
    mf_var = np.diagonal(np.asarray(mf["cov"]), axis1=1, axis2=2)
    optimum = np.asarray(f3["mean_field_variance"])
    fr_error = np.max(np.abs(np.asarray(fr["cov"]) - cov) / np.abs(cov))
    mean_error = np.max(np.abs(np.asarray(mf["mean"]) - f3["loc"]))
    variance_error = float(np.max(np.abs(mf_var.mean(0) / optimum - 1.0)))
    compact = np.all(mf_var.max(0) < np.diag(cov))
    mean_right, variance_right = mean_error < MEAN_TOLERANCE, variance_error < VARIANCE_TOLERANCE
    bound = f"{ELBO_ERRORS} standard errors over the trainings, or {ELBO_FLOOR:g}"
    matches = (f"matches −KL = {-f3['mean_field_kl']:.3f} (within {bound})"
               if elbo_matches(mf["elbo"], -f3["mean_field_kl"]) else
               f"does not match −KL = {-f3['mean_field_kl']:.3f} (it differs by more than {bound})")
    failures = ([] if mean_right else [f"the mean is off by {mean_error:.3f} (beyond {MEAN_TOLERANCE:g})"]) + (
        [] if variance_right else [f"the variances miss 1/Λ_ii by up to {100 * variance_error:.1f} % (beyond "
                                   f"{100 * VARIANCE_TOLERANCE:g} %)"])
    spread = ("the mean is right and the variances are the mean-field optimum 1/Λ_ii, set by the direction of "
              "smallest variance" if not failures else "; ".join(failures))
    return Note(f"p = N({vector_text(f3['loc'])}, Σ), Σ = {np.round(cov, 2).tolist()}. Mean-field ADVI ({len(mf['elbo'])} "
                f"trainings) finds the mean within {mean_error:.3f} and variances {vector_text(mf_var.mean(0), 3)} ± "
                f"{vector_text(mf_var.std(0), 3)}, against the exact mean-field optimum 1/Λ_ii = {vector_text(optimum, 3)} (within "
                f"{100 * variance_error:.1f} %) and the true marginal variances {vector_text(np.diag(cov), 3)}: "
                + ("narrower along both axes" if compact else "not narrower along both axes")
                + f". Its mean ELBO {np.mean(mf['elbo']):.3f} {matches}. The full-rank surrogate recovers Σ within "
                f"{100 * fr_error:.1f} % per entry (worst training; mean ELBO {np.mean(fr['elbo']):.4f}, log Z = 0).",
                ("This agrees with the study: mean field is too compact; " if compact else
                 "Unlike the study, mean field is not too compact here; ")
                + (spread + "." if not failures else "but " + spread + "."))


def _section_fig4(cavi, seed):
    gen = cavi["generating"]
    upper, lower = np.argsort(-np.asarray(gen["locs"])[:, 1])
    apart = gen["locs"][upper][1] - gen["locs"][lower][1]
    return Note(f"{cavi['num_points']} points drawn (seed {seed}) from the mixture `vinf.targets.THESIS_MIXTURE`: "
                f"π = {vector_text(gen['weights'])}, μ₁ = {vector_text(gen['locs'][0], 4)}, Σ₁ = "
                f"{np.asarray(gen['covs'][0]).tolist()}, μ₂ = {vector_text(gen['locs'][1], 4)}, Σ₂ = "
                f"{np.asarray(gen['covs'][1]).tolist()}. The study prints no parameters for its Figure 4 (nor for "
                f"the same mixture in its Figure 19); these are vinf's. Their means lie {apart:.1f} apart in x₂.",
                "One component above, one below, as in the study's Figure 4." if apart > 0 else
                "Unlike the study's Figure 4, the components do not lie one above the other.")


def _section_fig5():
    return ("The study's Figure 5 is a drawing of the Gaussian mixture's probabilistic graphical model (nodes x, z, "
            "π, μ, Λ and their edges), not a plot of data or of a computation, so there is nothing to reproduce; "
            "the model it draws is the one CAVI fits for Figure 6 (eqs. 14-48). The same holds for Figure 1, the "
            "graphical model of a linear regression in the introduction.\n")


def _section_fig6(cavi):
    prior, fitted = cavi["prior"], cavi["mixture"]
    shift = np.abs(np.subtract(fitted["locs"], cavi["generating"]["locs"])).max()
    rises = never_decreases(cavi)
    if rises is None:
        monotone = "one iteration, so no step between iterations to check"
    elif rises:
        monotone = f"the bound never decreased (smallest step between iterations {cavi['min_elbo_step']:.2e})"
    else:
        monotone = f"THE BOUND DECREASED (by {-cavi['min_elbo_step']:.2e}), a bug"
    iterations = (f"converges in {cavi['num_iterations']} iterations" if cavi["converged"] else
                  f"stops without converging after {cavi['num_iterations']} iterations")
    at_means, between = cavi["predictive_at_means"], cavi["predictive_between"]
    both = between < min(at_means)
    return Note(
        f"CAVI (K = {NUM_COMPONENTS}, α₀ = {prior['alpha0']:g}, β₀ = {prior['beta0']:g}, ν₀ = {prior['nu0']:g}, "
        f"m₀ = data mean, W₀ = inverse data covariance) {iterations} ({cavi['seconds'] * 1e3:.0f} ms) to ELBO = "
        f"{cavi['elbo'][-1]:.3f}; {monotone}. It assigns {100 * cavi['accuracy']:.1f} % of the points to their "
        "generating component. Fitted mixture (weights E[π], means m_k, covariances (ν_k W_k)⁻¹): "
        f"π = {vector_text(fitted['weights'])}, μ₁ = {vector_text(fitted['locs'][0])}, "
        f"Σ₁ = {np.round(fitted['covs'][0], 2).tolist()}, "
        f"μ₂ = {vector_text(fitted['locs'][1])}, Σ₂ = {np.round(fitted['covs'][1], 2).tolist()}; its means are within "
        f"{shift:.2f} of the generating ones. The predictive density (eq. 47, a mixture of Student-t) is "
        f"{at_means[0]:.2e} and {at_means[1]:.2e} at the two means and {between:.2e} halfway between them: "
        + ("two components, " if both else "no dip between them, ")
        + f"with a mean log density on the data of {cavi['mean_log_predictive']:.3f}. This fitted mixture is the "
        "posterior of Figure 7 and of the toy-targets Figures 19-21 (`experiments.common.data.fitted_mixture`).",
        "As in the study, the predictive density shows both components." if both else
        "Unlike the study, the predictive density does not show the two components apart.")


def _section_sklearn(sk):
    converged = sk.get("sklearn_converged")
    run = {True: f"converged in {sk['sklearn_iterations']} iterations",
           False: f"stopped unconverged after {sk['sklearn_iterations']} iterations",
           None: f"{sk['sklearn_iterations']} iterations"}[converged]
    return ("**Beyond the study: `vinf.cavi` against scikit-learn.** `BayesianGaussianMixture` "
            "(`weight_concentration_prior_type=\"dirichlet_distribution\"`, the same α₀, β₀, m₀, ν₀ and W₀⁻¹, "
            f"`reg_covar=0`) on the same data: the full bound at its solution is {sk['elbo_sklearn']:.4f} against "
            f"{sk['elbo_vinf']:.4f} for `vinf.cavi` (difference {sk['elbo_vinf'] - sk['elbo_sklearn']:.2e}; "
            "scikit-learn's own `lower_bound_` drops constant terms, so both are evaluated with `vinf.cavi.elbo`); "
            f"mean log predictive density {sk['mean_log_predictive_sklearn']:.4f} against "
            f"{sk['mean_log_predictive_vinf']:.4f}; the assignments agree on {100 * sk['agreement']:.1f} % of the "
            f"points and the component means differ by at most {sk['max_mean_difference']:.1e} "
            f"(scikit-learn: {run}).\n")


def _compactness(q_cov, comp):
    """How the sd of a q that captured ``comp`` compares with the component's: ``(measured, study)``."""
    q_sd, sd = np.sqrt(np.diag(q_cov)), np.asarray(comp["sd"])
    narrower = [f"z{i + 1}" for i in range(len(sd)) if q_sd[i] < sd[i]]
    wider = [f"z{i + 1}" for i in range(len(sd)) if q_sd[i] >= sd[i]]
    text = (f" with sd {vector_text(q_sd)} against the component's marginal sd {vector_text(sd)} and the mean-field optimum "
            f"for that component alone, 1/√Λ_ii = {vector_text(comp['mean_field_sd'])}: ")
    if not wider:
        return text + "too compact along both axes. ", "As the study found, q is too compact."
    if not narrower:
        return text + "not narrower than the component. ", "Unlike the study, q is not too compact."
    return (text + f"too compact along {', '.join(narrower)} but not along {', '.join(wider)}, where the other "
            "component's mass widens q beyond the single-component value. ",
            f"The study found q too compact; here only along {', '.join(narrower)}.")


def gap_phrase(gap, tolerance=GAP_TOLERANCE):
    """How far the best start's ELBO lies below the quadrature optimum's (``gap``): within the Monte-Carlo
    ``tolerance``, below, or above it (the optimiser missed a better Gaussian)."""
    if abs(gap) <= tolerance:
        return f"within {tolerance:g} nats of it ({gap:+.3f})"
    if gap > 0:
        return f"{gap:.3f} nats below it"
    return f"{-gap:.3f} nats above it, beyond the Monte-Carlo error: the quadrature missed a better Gaussian"


def _section_fig7(f7):
    best, captured = f7["best_run"], f7["captured"]
    comp = None if captured[best] is None else f7["components"][captured[best]]
    compact, study = _compactness(f7["cov"][best], comp) if comp else (". ", "")
    text = (f"Mean-field ADVI ({len(f7['elbo'])} starts: the thesis's initialisation near the origin, then a "
            f"Latin hypercube over the central half of the plot) on the fitted mixture. The best start (ELBO "
            f"{f7['elbo'][best]:.3f}) sits on {_captured(captured[best])}" + compact)
    text += (f"Starts ending on the top component: {captured.count(0)}, on the bottom one: {captured.count(1)}, "
             f"between the two: {captured.count(None)}. The thesis's own start ends on {_captured(captured[0])} "
             f"(ELBO {f7['elbo'][0]:.3f}).")
    optimum = f7["optimum"]
    text += (f" The best diagonal Gaussian by quadrature (`experiments.common.baselines`) sits on "
             f"{_captured(optimum['captured'])} with ELBO {-optimum['kl']:.3f}: the best start is "
             + gap_phrase(-optimum["kl"] - f7["elbo"][best]) + ".")
    if None in captured:
        study += (" The study shows one component captured; here reverse KL also has a local optimum between the "
                  "components, so which picture ADVI gives depends on its start.")
    return Note(text, study.strip())


def write_report(run, results):
    """``report.md``: each figure inline, what it shows (and, at full scale, against the study), its command."""
    cmd = f"Command: `{run.command}`\n"
    scale = run.scale
    sections = [
        ("Figure 2 — the family restricts the approximation", "fig2_family_restriction.png",
         [_section_fig2(results["fig2"])]),
        ("Figure 3 — mean-field and full-rank ADVI on a correlated Gaussian", "fig3_mean_field_compactness.png",
         [_section_fig3(results["fig3"])]),
        ("Figure 4 — the mixture data", "fig4_mixture_data.png", [_section_fig4(results["cavi"], run.seed)]),
        ("Figure 5 — not reproduced: a graphical-model drawing", None, [_section_fig5()]),
        ("Figure 6 — CAVI clustering and predictive density", "fig6_cavi_clustering.png",
         [_section_fig6(results["cavi"]), _section_sklearn(results["sklearn"])]),
        ("Figure 7 — mean-field ADVI on the mixture posterior", "fig7_advi_on_mixture.png",
         [_section_fig7(results["fig7"])]),
    ]
    lines = [quick_banner(run, f"{scale.num_steps} Adam steps instead of {FULL.num_steps}, {scale.num_runs} "
                               f"trainings, {scale.num_restarts} starts, {scale.elbo_draws} draws per ELBO")
             ] if run.quick else []
    for title, image, paragraphs in sections:
        lines.append(f"### {title}\n")
        if image:
            lines += [_image(run, image, title.split(" — ")[0])]
        lines += [p.text(run.quick) + "\n" if isinstance(p, Note) else p for p in paragraphs]
        if image:
            lines.append(cmd)
    run.write_text("report.md", "\n".join(lines))
