"""Figures 2-7 and the report fragment of the mean-field experiment, drawn from ``results.json``."""
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Ellipse
from scipy import stats

import vinf
from experiments._study import Note, quick_banner
from experiments.mean_field import FULL, NUM_COMPONENTS
from vinf.plotting import PALETTE, figure, grid_density

# The two components, upper and lower (the thesis's yellow and purple), colour-blind safe.
COMPONENT_COLOURS = ("#de8f05", "#0173b2")
FULL_RANK = "#029e73"
RADII = (1, 2, 3)  # Mahalanobis radii of the drawn ellipses
ON_MODE_SD = 1.0  # Figure 2: q sits "on" a mode when its mean lies within this many of the mode's sd
SPAN_SD = 2.0  # and "spans" a mode when the mode lies within this many of q's sd from q's mean
FAR_KL = 0.1  # nats: the best Gaussian stays "far" from the bimodal posterior beyond this
MEAN_TOLERANCE = 0.05  # Figure 3: mean field "finds the mean" when every training is this close to it
VARIANCE_TOLERANCE = 0.05  # relative: and "the optimum variances" when their mean is this close to 1/Lambda_ii
ELBO_ERRORS = 3  # an ELBO "matches" a value within this many standard errors over the trainings
ELBO_FLOOR = 0.01  # or within this, the evaluation's Monte-Carlo error
HDR_MASSES = (0.95, 0.8, 0.5, 0.2)  # Figure 6: the predictive density's regions holding these shares
GAP_TOLERANCE = 0.02  # nats: Figure 7's best start "reaches" the quadrature optimum within this (Monte-Carlo error)


def _ellipses(ax, mean, cov, color, radii=RADII, **kwargs):
    """The ``radii``-sd contours of ``N(mean, cov)`` (exact ellipses)."""
    values, vectors = np.linalg.eigh(np.asarray(cov))
    angle = np.degrees(np.arctan2(vectors[1, -1], vectors[0, -1]))
    for r in radii:
        ax.add_patch(Ellipse(mean, 2 * r * np.sqrt(values[-1]), 2 * r * np.sqrt(values[0]), angle=angle,
                             fill=False, edgecolor=color, **kwargs))


def _key(color, label, **kwargs):
    return Line2D([], [], color=color, label=label, **kwargs)


def _fmt(values, digits=2):
    return "(" + ", ".join(f"{v:.{digits}f}" for v in np.ravel(values)) + ")"


def _hdr_levels(density, cell, masses=HDR_MASSES):
    """Density values whose super-level sets hold ``masses`` of the grid's probability (increasing)."""
    values = np.sort(density.ravel())[::-1]
    mass = np.cumsum(values) * cell
    return [values[min(np.searchsorted(mass, m), values.size - 1)] for m in masses]


def _upper_first(means):
    """Component order upper first (the thesis names them top and bottom)."""
    return np.argsort(-np.asarray(means)[:, 1])


# ------------------------------------------------------------------ figures


def fig2_family_restriction(run, res):
    post = res["posterior"]
    z = np.linspace(-4.5, 4.5, 600)
    p = sum(w * stats.norm(m, s).pdf(z) for w, m, s in zip(post["weights"], post["locs"], post["scales"]))
    best = res["best_run"]
    mean, sd = res["mean"][best][0], np.sqrt(res["cov"][best][0][0])
    mm = res["moment_matched"]
    fig, ax = figure(size=5.0)
    fig.set_size_inches(6.4, 4.0)
    ax.fill_between(z, p, color=PALETTE["target"], alpha=0.15)
    ax.plot(z, p, color=PALETTE["target"], lw=2, label="posterior p(z|x) (bimodal)")
    ax.plot(z, stats.norm(mean, sd).pdf(z), color=PALETTE["mean_field"], lw=2,
            label=f"best Gaussian q by ADVI: N({mean:.2f}, {sd:.2f}²), KL(q‖p) = {res['kl']:.3f}")
    ax.plot(z, stats.norm(mm["mean"], mm["sd"]).pdf(z), color="0.35", lw=1.5, ls="--",
            label=f"moment-matched Gaussian: N({mm['mean']:.2f}, {mm['sd']:.2f}²)")
    ax.set(xlabel="z", ylabel="density", ylim=(0, 1.45 * p.max()))
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title("Fig. 2: the best Gaussian q of a bimodal posterior")
    run.save_figure(fig, "fig2_family_restriction.png", ["fig2"])


def fig3_mean_field_compactness(run, res):
    loc, cov = np.asarray(res["loc"]), np.asarray(res["cov"])
    fig, axes = figure(1, 2, size=4.2, sharex=True, sharey=True)
    for ax, name, colour, title in (
        (axes[0, 0], "mean_field", PALETTE["mean_field"], "mean field q(z₁)q(z₂)"),
        (axes[0, 1], "full_rank", FULL_RANK, "full-rank Gaussian q"),
    ):
        fit = res[name]
        best = int(np.argmax(fit["elbo"]))
        q_cov = np.asarray(fit["cov"][best])
        _ellipses(ax, loc, cov, PALETTE["target"], lw=2)
        _ellipses(ax, fit["mean"][best], q_cov, colour, lw=1.6, ls="--")
        ax.plot(*loc, "+", color=PALETTE["target"], ms=10)
        ax.legend(handles=[
            _key(PALETTE["target"], f"posterior p, sd {_fmt(np.sqrt(np.diag(cov)))}", lw=2),
            _key(colour, f"{title}, sd {_fmt(np.sqrt(np.diag(q_cov)))}", lw=1.6, ls="--"),
        ], fontsize=8, loc="upper left")
        ax.set(title=f"{title}: ELBO = {fit['elbo'][best]:.3f}", xlabel="z₁", aspect="equal")
    axes[0, 0].set_ylabel("z₂")
    low, high = loc - 4.2 * np.sqrt(np.diag(cov)), loc + 4.2 * np.sqrt(np.diag(cov))
    axes[0, 0].set(xlim=(low[0], high[0]), ylim=(low[1], high[1]))
    fig.suptitle("Fig. 3: mean-field and full-rank Gaussian q of a correlated Gaussian\n"
                 f"(contours at {', '.join(map(str, RADII))} sd; the ELBO is −KL(q‖p) since log Z = 0)",
                 fontsize=11)
    fig.tight_layout()
    run.save_figure(fig, "fig3_mean_field_compactness.png", ["fig3"])


def fig4_mixture_data(run, res, x):
    gen = res["generating"]
    fig, ax = figure(size=5.2)
    ax.scatter(x[:, 0], x[:, 1], s=8, color="0.55", alpha=0.6, label=f"{len(x)} draws from the mixture")
    handles = [ax.collections[0]]
    for k in _upper_first(gen["locs"]):
        colour = COMPONENT_COLOURS[len(handles) - 1]
        _ellipses(ax, gen["locs"][k], gen["covs"][k], colour, lw=1.8)
        handles.append(_key(colour, f"π = {gen['weights'][k]:.2f}, μ = {_fmt(gen['locs'][k])}", lw=1.8))
    ax.legend(handles=handles, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16))
    ax.set(xlabel="x₁", ylabel="x₂", aspect="equal")
    ax.set_title("Fig. 4: a 2-D mixture of two Gaussians\n(components at 1, 2, 3 sd; vinf.targets.THESIS_MIXTURE)",
                 fontsize=10)
    run.save_figure(fig, "fig4_mixture_data.png", ["fig4"])


def fig6_cavi_clustering(run, res, x):
    post = vinf.cavi.Posterior(**{k: np.asarray(v, dtype=float) for k, v in res["posterior"].items()})
    labels = np.asarray(res["labels"])
    fig, axes = figure(1, 2, size=4.6, gridspec_kw=dict(width_ratios=(1.2, 1)))
    fig.set_size_inches(11.0, 6.2)
    ax = axes[0, 0]
    pad = 3.0
    g1 = np.linspace(x[:, 0].min() - pad, x[:, 0].max() + pad, 250)
    g2 = np.linspace(x[:, 1].min() - pad, x[:, 1].max() + pad, 250)
    X, Y = np.meshgrid(g1, g2, indexing="ij")
    density = np.exp(vinf.cavi.predictive_log_prob(np.stack([X.ravel(), Y.ravel()], -1), post)).reshape(X.shape)
    levels = _hdr_levels(density, (g1[1] - g1[0]) * (g2[1] - g2[0]))
    ax.contour(X, Y, density, levels=levels, colors="0.2", linewidths=1.0)
    regions = "/".join(f"{100 * m:g}" for m in sorted(HDR_MASSES))
    handles = [_key("0.2", f"p(x̂|x), eq. 47: {regions} % regions")]
    for rank, k in enumerate(_upper_first(post.m)):
        sel = labels == k
        handles.append(ax.scatter(x[sel, 0], x[sel, 1], s=9, color=COMPONENT_COLOURS[rank], alpha=0.8,
                                  label=f"{'top' if rank == 0 else 'bottom'} component ({sel.sum()} points)"))
    ax.legend(handles=handles, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16))
    ax.set(xlabel="x₁", ylabel="x₂", aspect="equal", title="assignment c_n = argmax_k r_nk and predictive density")
    trace = np.asarray(res["elbo"])
    axes[0, 1].plot(np.arange(1, trace.size + 1), trace, marker="o", ms=3, color=PALETTE["mean_field"])
    monotone = {True: ", never decreasing", False: ", DECREASING somewhere (a bug)", None: ""}[never_decreases(res)]
    axes[0, 1].set(xlabel="CAVI iteration", ylabel="ELBO (PRML 10.70)",
                   title=f"ELBO by iteration{monotone}: {res['num_iterations']} iterations")
    fig.suptitle(f"Fig. 6: variational Gaussian mixture by CAVI ({res['seconds'] * 1e3:.0f} ms)")
    fig.tight_layout()
    run.save_figure(fig, "fig6_cavi_clustering.png", ["fig6"])


def _mixture_background(ax, res, pad=2.0):
    comps = res["components"]
    target = vinf.targets.get("gaussian_mixture", weights=[c["weight"] for c in comps],
                              locs=[c["loc"] for c in comps], covs=[c["cov"] for c in comps])
    X, Y, p = grid_density(target, num=250)
    ax.contourf(X, Y, p, levels=12, cmap="Greys", alpha=0.55)
    handles = []
    for rank, comp in enumerate(comps):
        _ellipses(ax, comp["loc"], comp["cov"], COMPONENT_COLOURS[rank], lw=1.5, ls=":")
        handles.append(_key(COMPONENT_COLOURS[rank], f"{'top' if rank == 0 else 'bottom'} component "
                            f"(π = {comp['weight']:.2f})", lw=1.5, ls=":"))
    ax.set(xlabel="z₁", ylabel="z₂", aspect="equal")
    return handles


END_STATES = {1: ("bottom", PALETTE["mean_field"]), None: ("between", "black"), 0: ("top", FULL_RANK)}


def _end_states(res):
    """Starts grouped by where they ended, ``{captured component or None: [start, ...]}``, best ELBO first."""
    groups = {}
    for i in np.argsort(res["elbo"])[::-1]:
        groups.setdefault(res["captured"][i], []).append(int(i))
    return groups


def fig7_advi_on_mixture(run, res):
    fig, axes = figure(1, 2, size=5.0, sharex=True, sharey=True)
    fig.set_size_inches(10.5, 7.4)
    best = res["best_run"]
    ax = axes[0, 0]
    handles = _mixture_background(ax, res)
    _ellipses(ax, res["mean"][best], res["cov"][best], PALETTE["mean_field"], lw=2)
    handles.append(_key(PALETTE["mean_field"], f"mean-field q (1, 2, 3 sd), ELBO = {res['elbo'][best]:.3f}", lw=2))
    ax.legend(handles=handles, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16))
    ax.set_title("best of the starts (highest ELBO)")
    ax = axes[0, 1]
    handles = _mixture_background(ax, res)
    for captured, runs in _end_states(res).items():
        name, colour = END_STATES[captured]
        for i in runs:
            start, mean = res["start"][i], res["mean"][i]
            ax.plot([start[0], mean[0]], [start[1], mean[1]], color=colour, lw=0.8, alpha=0.6)
            ax.plot(*start, "*" if i == 0 else "x", color=colour, ms=13 if i == 0 else 7, mew=1.5)
            _ellipses(ax, mean, res["cov"][i], colour, radii=(2,), lw=1.3)
        handles.append(_key(colour, f"{name}: {len(runs)} of {len(res['elbo'])} starts, "
                            f"ELBO {res['elbo'][runs[0]]:.3f}", marker="x", lw=1.3))
    handles.append(_key("0.3", "the thesis's start (near 0)", marker="*", ms=10, lw=0))
    ax.legend(handles=handles, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16))
    ax.set_title("every start (×) → its q at 2 sd")
    fig.suptitle("Fig. 7: mean-field ADVI on the Gaussian mixture posterior (CAVI's fitted mixture; log Z = 0)", y=1.01)
    fig.tight_layout()
    run.save_figure(fig, "fig7_advi_on_mixture.png", ["fig7"])


def make_all(run, results, x):
    fig2_family_restriction(run, results["fig2"])
    fig3_mean_field_compactness(run, results["fig3"])
    fig4_mixture_data(run, results["cavi"], x)
    fig6_cavi_clustering(run, results["cavi"], x)
    fig7_advi_on_mixture(run, results["fig7"])


# ------------------------------------------------------------------ report


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
    return Note(f"p = N({_fmt(f3['loc'])}, Σ), Σ = {np.round(cov, 2).tolist()}. Mean-field ADVI ({len(mf['elbo'])} "
                f"trainings) finds the mean within {mean_error:.3f} and variances {_fmt(mf_var.mean(0), 3)} ± "
                f"{_fmt(mf_var.std(0), 3)}, against the exact mean-field optimum 1/Λ_ii = {_fmt(optimum, 3)} (within "
                f"{100 * variance_error:.1f} %) and the true marginal variances {_fmt(np.diag(cov), 3)}: "
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
                f"π = {_fmt(gen['weights'])}, μ₁ = {_fmt(gen['locs'][0], 4)}, Σ₁ = "
                f"{np.asarray(gen['covs'][0]).tolist()}, μ₂ = {_fmt(gen['locs'][1], 4)}, Σ₂ = "
                f"{np.asarray(gen['covs'][1]).tolist()}. The study prints no parameters for its Figure 4 (nor for "
                f"the same mixture in its Figure 19); these are vinf's. Their means lie {apart:.1f} apart in x₂.",
                "One component above, one below, as in the study's Figure 4." if apart > 0 else
                "Unlike the study's Figure 4, the components do not lie one above the other.")


def _section_fig5():
    return ("The study's Figure 5 is a drawing of the Gaussian mixture's probabilistic graphical model (nodes x, z, "
            "π, μ, Λ and their edges), not a plot of data or of a computation, so there is nothing to reproduce; "
            "the model it draws is the one CAVI fits for Figure 6 (eqs. 14-48). The same holds for Figure 1, the "
            "graphical model of a linear regression in the introduction.\n")


def never_decreases(cavi):
    """Whether CAVI's bound never decreased between iterations (to rounding); None after a single iteration."""
    step = cavi["min_elbo_step"]
    return None if step is None else step >= -1e-9 * abs(cavi["elbo"][-1])


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
        f"π = {_fmt(fitted['weights'])}, μ₁ = {_fmt(fitted['locs'][0])}, "
        f"Σ₁ = {np.round(fitted['covs'][0], 2).tolist()}, "
        f"μ₂ = {_fmt(fitted['locs'][1])}, Σ₂ = {np.round(fitted['covs'][1], 2).tolist()}; its means are within "
        f"{shift:.2f} of the generating ones. The predictive density (eq. 47, a mixture of Student-t) is "
        f"{at_means[0]:.2e} and {at_means[1]:.2e} at the two means and {between:.2e} halfway between them: "
        + ("two components, " if both else "no dip between them, ")
        + f"with a mean log density on the data of {cavi['mean_log_predictive']:.3f}. This fitted mixture is the "
        "posterior of Figure 7 and of the toy-targets Figures 19-21 (`experiments.mean_field.fitted_mixture`).",
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
    text = (f" with sd {_fmt(q_sd)} against the component's marginal sd {_fmt(sd)} and the mean-field optimum "
            f"for that component alone, 1/√Λ_ii = {_fmt(comp['mean_field_sd'])}: ")
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
    text += (f" The best diagonal Gaussian by quadrature (`experiments._baseline`) sits on "
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
