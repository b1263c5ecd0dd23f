"""Figures 2-7 of the mean-field experiment, drawn from ``results.json`` (and Figure 4's data set)."""
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Ellipse
from scipy import stats

import vinf
from experiments.common.plotting import PALETTE, figure, grid_density
from experiments.mean_field.jobs import never_decreases

# The two components, upper and lower (the thesis's yellow and purple), colour-blind safe.
COMPONENT_COLOURS = ("#de8f05", "#0173b2")
FULL_RANK = "#029e73"
RADII = (1, 2, 3)  # Mahalanobis radii of the drawn ellipses
HDR_MASSES = (0.95, 0.8, 0.5, 0.2)  # Figure 6: the predictive density's regions holding these shares


def _ellipses(ax, mean, cov, color, radii=RADII, **kwargs):
    """The ``radii``-sd contours of ``N(mean, cov)`` (exact ellipses)."""
    values, vectors = np.linalg.eigh(np.asarray(cov))
    angle = np.degrees(np.arctan2(vectors[1, -1], vectors[0, -1]))
    for r in radii:
        ax.add_patch(Ellipse(mean, 2 * r * np.sqrt(values[-1]), 2 * r * np.sqrt(values[0]), angle=angle,
                             fill=False, edgecolor=color, **kwargs))


def _key(color, label, **kwargs):
    return Line2D([], [], color=color, label=label, **kwargs)


def vector_text(values, digits=2):
    """``(1.00, 0.50)``: a vector as the legends and the report print it."""
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
            _key(PALETTE["target"], f"posterior p, sd {vector_text(np.sqrt(np.diag(cov)))}", lw=2),
            _key(colour, f"{title}, sd {vector_text(np.sqrt(np.diag(q_cov)))}", lw=1.6, ls="--"),
        ], fontsize=8, loc="upper left")
        se = fit.get("elbo_se", [None] * len(fit["elbo"]))[best]
        error = "" if se is None else f" ± {se:.2g}"
        ax.set(title=f"{title}:\nELBO = {fit['elbo'][best]:.3f}{error} (Monte-Carlo se)", xlabel="z₁", aspect="equal")
    axes[0, 0].set_ylabel("z₂")
    low, high = loc - 4.2 * np.sqrt(np.diag(cov)), loc + 4.2 * np.sqrt(np.diag(cov))
    axes[0, 0].set(xlim=(low[0], high[0]), ylim=(low[1], high[1]))
    fig.suptitle("Fig. 3: mean-field and full-rank Gaussian q of a correlated Gaussian\n"
                 f"(contours at {', '.join(map(str, RADII))} sd; the ELBO is −KL(q‖p) since log Z = 0; the best "
                 f"mean field can reach is {-res['mean_field_kl']:.3f})", fontsize=11)
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
        handles.append(_key(colour, f"π = {gen['weights'][k]:.2f}, μ = {vector_text(gen['locs'][k])}", lw=1.8))
    ax.legend(handles=handles, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16))
    ax.set(xlabel="x₁", ylabel="x₂", aspect="equal")
    ax.set_title("Fig. 4: a 2-D mixture of two Gaussians\n(components at 1, 2, 3 sd; the study's demo_gmm, "
                 "vinf.targets.THESIS_MIXTURE)", fontsize=10)
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
    study = res.get("study")
    if study:
        _ellipses(ax, study["loc"], np.diag(np.square(study["sd"])), "0.3", radii=(2,), lw=1.3, ls="--")
        handles.append(_key("0.3", f"the study's saved fit (2 sd), ELBO = {-study['kl']:.3f}", lw=1.3, ls="--"))
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
    fig.suptitle("Fig. 7: mean-field ADVI on the Gaussian mixture posterior (the study's demo_gmm; log Z = 0)", y=1.01)
    fig.tight_layout()
    run.save_figure(fig, "fig7_advi_on_mixture.png", ["fig7"])


def make_all(run, results, x):
    fig2_family_restriction(run, results["fig2"])
    fig3_mean_field_compactness(run, results["fig3"])
    fig4_mixture_data(run, results["cavi"], x)
    fig6_cavi_clustering(run, results["cavi"], x)
    fig7_advi_on_mixture(run, results["fig7"])
