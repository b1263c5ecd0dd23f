"""The mean-field experiment's report (``report.md``): each figure inline, what it shows and, at full scale, how it
stands against the study; every sentence is computed from ``results.json``."""
import numpy as np

from experiments.common.agreement import Z_AGREE, agrees, format_z, z_between
from experiments.common.data import NUM_COMPONENTS
from experiments.common.prose import Note, percent, quick_banner
from experiments.mean_field.config import FULL, SAMPLE_SIZE
from experiments.mean_field.figures import vector_text
from experiments.mean_field.jobs import never_decreases

ON_MODE_SD = 1.0  # Figure 2: q sits "on" a mode when its mean lies within this many of the mode's sd
SPAN_SD = 2.0  # and "spans" a mode when the mode lies within this many of q's sd from q's mean
FAR_KL = 0.1  # nats: the best Gaussian stays "far" from the bimodal posterior beyond this
Z_RULE = (f"the mean over the trainings against the exact value, in standard errors of their spread (sd/√R); "
          f"|z| < {Z_AGREE:g} is the same within it")
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


def z_to(values, expected):
    """Per axis, ``z`` of the mean of ``values`` (one row per training) against the exact ``expected``, with the
    standard error of the trainings' spread (``agreement.z_between`` against a value without error)."""
    values = np.asarray(values, dtype=float)
    runs = len(values)
    sd = values.std(axis=0, ddof=1) if runs > 1 else np.zeros(values.shape[1:])
    return [z_between(m, s, runs, e, 0.0, 1) for m, s, e in zip(values.mean(axis=0), sd, np.ravel(expected))]


def _zs(zs):
    return "z " + " / ".join(format_z(z) for z in zs)


def variance_reason(continued, optimum):
    """Why the variances differ from the optimum, from the trainings continued (``jobs.continued``): the first
    continuation (as many steps again; then a tenth of the learning rate) after which they agree, or neither."""
    after = {name: z_to(c["variances"], optimum) for name, c in continued.items()}
    parts = {name: f"{vector_text(np.mean(c['variances'], axis=0), 3)} ({_zs(after[name])})"
             for name, c in continued.items()}
    longer, smaller = continued.get("longer"), continued.get("smaller_step")
    agree = {name: all(agrees(z) for z in zs) for name, zs in after.items()}
    if longer is None or smaller is None:
        return "not tested"
    text = (f"continued {longer['num_steps']} steps more at the same learning rate they end at {parts['longer']}; "
            f"at a tenth of it ({smaller['learning_rate']:g}), at {parts['smaller_step']}")
    if agree["longer"]:
        return f"too few steps: {text}"
    if agree["smaller_step"]:
        return f"the step size (Adam's noise at {longer['learning_rate']:g} with S = {SAMPLE_SIZE}): {text}"
    return f"neither too few steps nor the step size alone: {text}"


def _section_fig3(f3):
    mf, fr = f3["mean_field"], f3["full_rank"]
    cov = np.asarray(f3["cov"])
    mf_var = np.diagonal(np.asarray(mf["cov"]), axis1=1, axis2=2)
    optimum = np.asarray(f3["mean_field_variance"])
    fr_error = np.max(np.abs(np.asarray(fr["cov"]) - cov) / np.abs(cov))
    runs = len(mf["elbo"])
    z_mean, z_var = z_to(mf["mean"], f3["loc"]), z_to(mf_var, optimum)
    relative = float(np.max(np.abs(mf_var.mean(0) / optimum - 1.0)))
    compact = np.all(mf_var.max(0) < np.diag(cov))
    mean_right, variance_right = all(agrees(z) for z in z_mean), all(agrees(z) for z in z_var)
    z_elbo = z_to(np.asarray(mf["elbo"])[:, None], [-f3["mean_field_kl"]])[0]
    mc = max(mf.get("elbo_se") or [0.0])
    elbo = (f"Its mean ELBO {np.mean(mf['elbo']):.4f} (each training's estimate ± at most {mc:.4f}, its Monte-Carlo "
            f"error) against the optimum −KL = {-f3['mean_field_kl']:.4f}: "
            + ("the same within the trainings' spread" if agrees(z_elbo) else
               "above the optimum beyond the noise, which no Gaussian can be: a bug" if z_elbo > 0 else
               "below the optimum beyond the noise") + f" (z {format_z(z_elbo)}).")
    reason = "" if variance_right else f" The likely reason, computed: {variance_reason(mf.get('continued', {}), optimum)}."
    failures = ([] if mean_right else [f"the mean differs from p's ({_zs(z_mean)})"]) + (
        [] if variance_right else [f"the variances differ from 1/Λ_ii by up to {percent(relative)} ({_zs(z_var)}), "
                                   "though they lie far nearer it than the marginal variances"])
    spread = ("the mean is right and the variances are the mean-field optimum 1/Λ_ii, set by the direction of "
              "smallest variance" if not failures else "; ".join(failures))
    return Note(f"p = N({vector_text(f3['loc'])}, Σ), Σ = {np.round(cov, 2).tolist()}. Mean-field ADVI ({runs} "
                f"trainings) ends with the mean {vector_text(np.mean(mf['mean'], axis=0), 3)} ({_zs(z_mean)} against "
                f"p's) and variances {vector_text(mf_var.mean(0), 3)} ± {vector_text(mf_var.std(0), 3)}, against the "
                f"exact mean-field optimum 1/Λ_ii = {vector_text(optimum, 3)} ({_zs(z_var)}; {percent(relative)} off at "
                f"most: " + ("the same within the trainings' spread" if variance_right else "they differ") + ") and the "
                f"true marginal variances {vector_text(np.diag(cov), 3)}: "
                + ("narrower along both axes" if compact else "not narrower along both axes") + f". {elbo}{reason} "
                f"The full-rank surrogate recovers Σ within {percent(fr_error)} per entry (worst training; mean ELBO "
                f"{np.mean(fr['elbo']):.4f}, log Z = 0). Each z is {Z_RULE}.",
                ("This agrees with the study: mean field is too compact; " if compact else
                 "Unlike the study, mean field is not too compact here; ")
                + (spread + "." if not failures else "but " + spread + "."))


def _section_fig4(cavi, seed):
    gen = cavi["generating"]
    upper, lower = np.argsort(-np.asarray(gen["locs"])[:, 1])
    apart = gen["locs"][upper][1] - gen["locs"][lower][1]
    return Note(f"{cavi['num_points']} points drawn (seed {seed}) from the mixture `vinf.targets.THESIS_MIXTURE`: "
                f"π = {vector_text(gen['weights'])}, μ₁ = {vector_text(gen['locs'][0], 4)}, Σ₁ = "
                f"{np.round(gen['covs'][0], 4).tolist()}, μ₂ = {vector_text(gen['locs'][1], 4)}, Σ₂ = "
                f"{np.round(gen['covs'][1], 4).tolist()}. The thesis prints no parameters for its Figure 4; these are "
                "the study's own, from its code: `demo_gmm` in code/target_distributions.py (l.19-22), the parameters "
                "its data/sample_generation_GMM.py drew (l.36-50; saved in 2D_gaussian_mixture_params.pickle, commit "
                "ee24ca6). The study drew 200 points from each component; ours are drawn with its weights. Their means "
                f"lie {apart:.1f} apart in x₂.",
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
        + f"with a mean log density on the data of {cavi['mean_log_predictive']:.3f}. Figure 7 and the toy-targets "
        "Figures 19-21 fit the mixture that generated the data, as the study's code did (its `demo_gmm`), not this "
        "fit.",
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
            f"Latin hypercube over the central half of the plot) on the mixture the study fitted, its `demo_gmm` "
            f"(the mixture that generated Figure 4's data). The best start (ELBO "
            f"{f7['elbo'][best]:.3f}) sits on {_captured(captured[best])}" + compact)
    text += (f"Starts ending on the top component: {captured.count(0)}, on the bottom one: {captured.count(1)}, "
             f"between the two: {captured.count(None)}. The thesis's own start ends on {_captured(captured[0])} "
             f"(ELBO {f7['elbo'][0]:.3f}).")
    optimum = f7["optimum"]
    text += (f" The best diagonal Gaussian by quadrature (`experiments.common.baselines`) sits on "
             f"{_captured(optimum['captured'])} with ELBO {-optimum['kl']:.3f}: the best start is "
             + gap_phrase(-optimum["kl"] - f7["elbo"][best]) + ".")
    theirs = f7.get("study")
    if theirs:
        text += (f" The study's own fit (its saved mean_field_demo_gmm.h5: mean {vector_text(theirs['loc'], 3)}, sd "
                 f"{vector_text(theirs['sd'])}) sits on {_captured(theirs['captured'])} with KL {theirs['kl']:.3f} here; "
                 f"its Figure 7 drew it with sd {vector_text(theirs['plotted_sd'])}, its log-variances read as "
                 "variances (read_data.py l.16), narrower than it was.")
    if None in captured or optimum["captured"] is None:
        study += (" The study shows one component captured; here reverse KL also has an optimum between the "
                  "components" + (", the best diagonal Gaussian of all" if optimum["captured"] is None else "")
                  + ", so which picture ADVI gives depends on its start.")
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
