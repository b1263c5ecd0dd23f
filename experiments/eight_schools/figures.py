"""Figures 37-48 of the eight-schools experiment, and its traces and k-hat-against-gap figures."""
import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D
from scipy import stats

import vinf
from experiments.common import agreement
from experiments.common.plotting import PALETTE, figure, gap_axis, outside, window
from experiments.common.schools import METHOD_LABELS, Spec, load_draws, posterior_values
from experiments.common.schools_figures import traces_figure
from vinf.targets import EIGHT_SCHOOLS_Y

# Figures 41-46: which row's best training each shows (true model), and its NUTS reference.
COMPARISONS = {
    "fig41": ("II", "mean_field", True, 8, "ADVI, centered"),
    "fig42": ("II", "mean_field", False, 8, "ADVI, non-centered"),
    "fig43": ("III", "planar", True, 8, "planar flow, centered"),
    "fig44": ("III", "planar", False, 8, "planar flow, non-centered"),
    "fig45": ("IV", "planar", True, 1, "planar flow, first school, centered"),
    "fig46": ("IV", "planar", False, 1, "planar flow, first school, non-centered"),
}
FIG48_DEPTHS = (10, 20, 40, 80)


def row_key(table, method, centered, num_schools, num_flows, compat=False):
    """The key of a default row (the figures show the true model's unless ``compat``)."""
    return Spec(table, method, centered, num_schools, num_flows, compat).key


def fig37_joint_contours(run):
    """The one-school joint in (log tau, theta_1) at mu = 0 and mu = 5 (eq. 96 with J = 1)."""
    target = vinf.targets.eight_schools(centered=True, num_schools=1)
    log_tau, theta = np.meshgrid(np.linspace(-4, 4, 300), np.linspace(-30, 50, 300), indexing="ij")
    mus = (0.0, 5.0)
    densities = [np.exp(target.log_prob_numpy(np.stack([theta.ravel(), np.full(theta.size, mu), log_tau.ravel()],
                                                        axis=-1))).reshape(theta.shape) for mu in mus]
    exponent = int(np.floor(np.log10(max(d.max() for d in densities))))
    densities = [d / 10.0**exponent for d in densities]
    levels = np.linspace(0.0, max(d.max() for d in densities), 15)  # one scale: the two panels compare
    fig, axes = figure(1, 2, size=4.2, sharey=True)
    for ax, mu, density in zip(axes[0], mus, densities):
        filled = ax.contourf(log_tau, theta, density, levels=levels, cmap="Reds")
        ax.set(title=f"μ = {mu:g}", xlabel="log τ")
    axes[0, 0].set_ylabel("θ₁")
    bar = fig.colorbar(filled, ax=axes[0].tolist(), label=f"p(y₁, θ₁, μ, log τ) in units of 1e{exponent}")
    bar.set_ticks(np.linspace(0.0, levels[-1], 5))
    bar.ax.yaxis.set_major_formatter("{x:.1f}")
    fig.suptitle("Fig. 37: joint p(y₁, θ₁, μ, log τ) of the first school, μ fixed", y=1.03)
    run.save_figure(fig, "fig37_joint_contours.png", ["fig37"])


def fig38_39_nuts_pairs(run, idata):
    theta, mu, tau = posterior_values(idata, "theta"), posterior_values(idata, "mu"), posterior_values(idata, "tau")
    for fid, x, xlabel, name in (
        ("fig38", np.log(tau), "log τ", "log_tau_vs_theta"),
        ("fig39", mu, "μ", "mu_vs_theta"),
    ):
        fig, axes = figure(2, 4, size=2.8, sharex=True, sharey=True)
        for i, ax in enumerate(axes.ravel()):
            ax.scatter(x, theta[:, i], s=2, alpha=0.25, color=PALETTE["mcmc"], rasterized=True)
            ax.axhline(EIGHT_SCHOOLS_Y[i], color="black", lw=1)
            ax.set(title=f"school {i + 1}", xlabel=xlabel if i >= 4 else None, ylabel="θ_i" if i % 4 == 0 else None)
        fig.suptitle(f"Fig. {fid[3:]}: NUTS draws, {xlabel} against θ_i (black: observed y_i)")
        run.save_figure(fig, f"{fid}_nuts_{name}.png", [fid])


def fig40_hyperparameters(run, idata):
    mu, tau = posterior_values(idata, "mu"), posterior_values(idata, "tau")
    fig, axes = figure(1, 2, size=4.2)
    grid_mu, grid_tau = np.linspace(*window(mu), 400), np.linspace(0.01, window(tau)[1], 400)
    for ax, draws, grid, prior, label in (
        (axes[0, 0], mu, grid_mu, stats.norm(0, 5).pdf(grid_mu), "μ"),
        (axes[0, 1], tau, grid_tau, stats.halfcauchy(scale=5).pdf(grid_tau), "τ"),
    ):
        # bins over the window only, weighted so that the bars' area is the share of draws inside it
        width = (grid[-1] - grid[0]) / 80
        ax.hist(draws, bins=np.linspace(grid[0], grid[-1], 81), weights=np.full(draws.size, 1 / (draws.size * width)),
                color=PALETTE["mcmc"], alpha=0.35, label="NUTS draws")
        ax.plot(grid, stats.gaussian_kde(draws)(grid), color=PALETTE["mcmc"], label="KDE of draws")
        ax.plot(grid, prior, color=PALETTE["target"], ls="--", label="prior")
        ax.set(xlabel=label, ylabel="density" if label == "μ" else None, xlim=(grid[0], grid[-1]))
        ax.legend(fontsize=8)
    fig.suptitle("Fig. 40: NUTS posteriors of μ and τ against their priors N(0, 5²), Half-Cauchy(0, 5)")
    fig.tight_layout(w_pad=2.0)
    run.save_figure(fig, "fig40_nuts_mu_tau_vs_prior.png", ["fig40"])


def _comparison(run, fid, key, centered, num_schools, title, idata, num_flows=0):
    """Top: (log tau, theta_1) of q coloured by log q over NUTS; bottom: marginals of theta_1, mu, tau."""
    theta, mu, log_tau, log_q = load_draws(run.draws, key, centered, num_schools)
    ref_theta, ref_mu, ref_tau = posterior_values(idata, "theta")[:, 0], posterior_values(idata, "mu"), posterior_values(idata, "tau")
    fig = plt.figure(figsize=(11, 7.5))
    top = fig.add_subplot(2, 1, 1)
    top.scatter(np.log(ref_tau), ref_theta, s=2, color="0.7", alpha=0.4, label="NUTS", rasterized=True)
    points = top.scatter(log_tau, theta[:, 0], c=log_q, s=3, cmap="viridis", label="q (colour: log q)", rasterized=True)
    fig.colorbar(points, ax=top, label="log q(z)")
    top.set(xlabel="log τ", ylabel="θ₁", xlim=window(log_tau, np.log(ref_tau)), ylim=window(theta[:, 0], ref_theta))
    top.legend(loc="upper left", fontsize=8, markerscale=4)
    for i, (draws, ref, label) in enumerate(((theta[:, 0], ref_theta, "θ₁"), (mu, ref_mu, "μ"), (np.exp(log_tau), ref_tau, "τ"))):
        ax = fig.add_subplot(2, 3, 4 + i)
        high = np.quantile(np.r_[draws, ref], 0.995)
        low = 0.0 if label == "τ" else np.quantile(np.r_[draws, ref], 0.005)
        grid = np.linspace(low, high, 300)
        # weighted so that the bars' area is the share of q's draws inside the window, as the KDE's is NUTS's
        ax.hist(draws, bins=60, range=(low, high), weights=np.full(draws.size, 60 / (draws.size * (high - low))),
                color=PALETTE["mean_field" if "ADVI" in title else "planar"], alpha=0.45, label="q")
        ax.plot(grid, stats.gaussian_kde(ref)(grid), color=PALETTE["mcmc"], label="NUTS (KDE)")
        ax.set(xlabel=label, ylabel="density" if i == 0 else None,
               title=f"outside: {outside(draws, (low, high)):.1%} of q, {outside(ref, (low, high)):.1%} of NUTS",
               xlim=(low, high))
        ax.title.set_fontsize(8)
        ax.legend(fontsize=8)
    fig.suptitle(f"Fig. {fid[3:]}: {title}{'' if 'ADVI' in title else f', K = {num_flows}'} against NUTS "
                 "(true model, best of the trainings by k̂)")
    fig.tight_layout()
    run.save_figure(fig, f"{fid}_{title.replace(', ', '_').replace(' ', '_')}.png", [fid])


def depth_rows(rows, method, compat):
    return sorted((r for r in rows if r["table"] == "V" and r["method"] == method and r["thesis_compat"] == compat
                   and r.get("variant", "default") == "default"), key=lambda r: r["num_flows"])


TARGET_NAMES = {True: "the study's target", False: "true model"}
DODGE = {"ours, the study's target": 0.95, "ours, true model": 1.0, "the study's trainings": 1.05}  # K nudged apart


def fig47_depth(run, rows):
    """k-hat (the study's estimator) and the ELBO against K (Table V), +-1.96 sd across trainings, beside the
    study's own trainings (the same spread; the thesis's Figure 47 showed these bars too)."""
    fig, axes = figure(1, 3, size=4.2)
    khat_ax, elbo_axes = axes[0, 0], {True: axes[0, 1], False: axes[0, 2]}
    styles = {True: dict(ls="--", marker="s", mfc="white"), False: dict(ls="-", marker="o")}
    for compat in (True, False):
        label = "ours, the study's target" if compat else "ours, true model"
        for method in sorted({r["method"] for r in rows if r["table"] == "V"}):
            sel = depth_rows(rows, method, compat)
            k = [r["num_flows"] * DODGE[label] for r in sel]
            khat_ax.errorbar(k, [r["khat_thesis_mean"] for r in sel], yerr=[1.96 * r["khat_thesis_std"] for r in sel],
                             color=PALETTE[method], capsize=3, **styles[compat])
            elbo_axes[compat].errorbar(k, [r["elbo_mean"] for r in sel], yerr=[1.96 * r["elbo_std"] for r in sel],
                                       color=PALETTE[method], capsize=3, **styles[compat])
        reported = [r for r in depth_rows(rows, "planar", True) if r.get("thesis")]
        if compat and reported:
            k = [r["num_flows"] * DODGE["the study's trainings"] for r in reported]
            for ax, q in ((khat_ax, "khat"), (elbo_axes[True], "elbo")):
                sides = [agreement.thesis_side(r["thesis"], q) for r in reported]
                ax.errorbar(k, [mean for mean, _, _ in sides], yerr=[1.96 * sd for _, sd, _ in sides],
                            ls="none", marker="x", color="black", capsize=3)
        sel = depth_rows(rows, "planar", compat)
        if sel:
            log_z = sel[0]["log_evidence"]
            ax = elbo_axes[compat]
            ax.axhline(log_z, color=PALETTE["target"], lw=1.5, zorder=5)
            low = min(r["elbo_mean"] - 1.96 * r["elbo_std"] for r in sel)
            ax.set_ylim(low - 0.1 * (log_z - low), log_z + 0.15 * (log_z - low))  # log Z always in view
        elbo_axes[compat].set(xlabel="number of flows K", ylabel="ELBO", title=f"ELBO, {TARGET_NAMES[compat]}",
                              xscale="log")
    khat_ax.axhline(0.5, color="0.5", lw=0.8)
    khat_ax.axhline(0.7, color="0.5", lw=0.8, ls=":")
    khat_ax.set(xlabel="number of flows K", ylabel="k̂ (2015 PSIS, the study's estimator)", title="k̂", xscale="log")
    handles = [Line2D([], [], color=PALETTE[m], lw=2, label=m)
               for m in sorted({r["method"] for r in rows if r["table"] == "V"})]
    handles += [Line2D([], [], color="0.3", label="on the study's target", **styles[True]),
                Line2D([], [], color="0.3", label="on the true model", **styles[False]),
                Line2D([], [], color="black", ls="none", marker="x", label="the study's trainings (Table V)"),
                Line2D([], [], color=PALETTE["target"], lw=1.5, label="log Z of the panel's target (quadrature)")]
    depths = sorted({r["num_flows"] for r in depth_rows(rows, "planar", True)})
    for ax in (khat_ax, *elbo_axes.values()):
        ax.minorticks_off()
        ax.set_xticks(depths, [str(k) for k in depths])
    fig.legend(handles=handles, loc="lower center", ncol=6, fontsize=8, frameon=False, bbox_to_anchor=(0.5, -0.06))
    fig.suptitle("Fig. 47: first two schools, centered: fit against depth (bars: ±1.96 sd across trainings; "
                 "series nudged apart in K)")
    fig.tight_layout()
    run.save_figure(fig, "fig47_depth.png", ["fig47"])


def row_label(row):
    """``III planar K=64, c``: a row of the thesis's tables in a few characters."""
    label = f"{row['table']} {METHOD_LABELS[row['method']]}"
    label += f" K={row['num_flows']}" if row["num_flows"] else ""
    label += "" if row["num_schools"] == 8 else f", J={row['num_schools']}"
    return label + (", c" if row["centered"] else ", nc")


def per_training_figure(run, rows):
    """Each reported row on the study's target, one point per training: ours beside the study's own trainings
    (its code/diagnostic.txt), k-hat and the gap to log Z. The thesis's means include every one of its points."""
    reported = sorted((r for r in rows if r.get("thesis") and r.get("variant", "default") == "default"),
                      key=lambda r: (r["table"], r["num_schools"] != 8, r["num_flows"], not r["centered"]))
    if not reported:
        return None
    fig, axes = figure(1, 2, size=5.2, sharey=True)
    labels = [row_label(r) for r in reported]
    gaps = []
    for i, r in enumerate(reported):
        t = r["thesis"]
        for ax, ours, study in ((axes[0, 0], r["khat_thesis_runs"], t["khat_runs"]),
                                (axes[0, 1], r["log_evidence"] - np.asarray(r["elbo_runs"]),
                                 r["log_evidence"] - np.asarray(t["elbo_runs"]))):
            ax.scatter(ours, np.full(len(ours), i - 0.15), s=22, color=PALETTE[r["method"]], alpha=0.8)
            ax.scatter(study, np.full(len(study), i + 0.15), s=26, marker="x", color="black")
        gaps += list(r["log_evidence"] - np.asarray(r["elbo_runs"])) + list(r["log_evidence"] - np.asarray(t["elbo_runs"]))
    axes[0, 0].set_yticks(range(len(reported)), labels)
    axes[0, 0].invert_yaxis()
    axes[0, 0].set(xlabel="k̂ (2015 PSIS)", title="k̂ per training")
    for x in (0.5, 0.7):
        axes[0, 0].axvline(x, color="0.6", lw=0.8, ls="-" if x == 0.5 else ":")
    gap_axis(axes[0, 1], gaps)
    axes[0, 1].set(xlabel="log Z − ELBO (nats)", title="gap to log Z per training")
    handles = [Line2D([], [], color="0.4", ls="none", marker="o", label="ours (colour: family)"),
               Line2D([], [], color="black", ls="none", marker="x", label="the study's trainings (code/diagnostic.txt)")]
    fig.legend(handles=handles, loc="lower center", ncol=2, frameon=False, bbox_to_anchor=(0.5, -0.04), fontsize=8)
    fig.suptitle("Tables II-V on the study's target: every training, ours beside the study's")
    fig.tight_layout()
    return run.save_figure(fig, "per_training.png", ["eight_schools_per_training"])


def fig48_depth_samples(run, depths, idata):
    """Planar-flow draws of the best training at several depths over NUTS, with one colour scale for log q."""
    ref_theta, ref_tau = posterior_values(idata, "theta")[:, 0], posterior_values(idata, "tau")
    draws = {depth: load_draws(run.draws, row_key("V", "planar", True, 2, depth), True, 2) for depth in depths}
    log_qs = np.concatenate([d[3] for d in draws.values()])
    norm = mcolors.Normalize(*np.quantile(log_qs, [0.01, 0.99]))
    xlim = window(np.log(ref_tau), *[d[2] for d in draws.values()])
    ylim = window(ref_theta, *[d[0][:, 0] for d in draws.values()])
    fig, axes = figure(1, len(depths), size=3.4, sharey=True)
    axes = np.atleast_2d(axes)
    for ax, depth in zip(axes[0], depths):
        theta, _, log_tau, log_q = draws[depth]
        ax.scatter(np.log(ref_tau), ref_theta, s=2, color="0.7", alpha=0.4, rasterized=True)
        points = ax.scatter(log_tau, theta[:, 0], c=log_q, s=3, cmap="viridis", norm=norm, rasterized=True)
        ax.set(title=f"K = {depth}", xlabel="log τ", xlim=xlim, ylim=ylim)
    axes[0, 0].set_ylabel("θ₁")
    fig.colorbar(points, ax=axes[0].tolist(), label="log q(z): 1-99 % of draws\n(arrows: beyond)",
                 shrink=0.9, extend="both")
    fig.suptitle("Fig. 48: planar-flow draws (colour: log q) over NUTS (grey), two schools, centered, true model",
                 y=1.08)
    run.save_figure(fig, "fig48_depth_samples.png", ["fig48"])


def khat_elbo_figure(run, rows):
    """k-hat (the study's estimator) against the ELBO gap, per training, ours beside the thesis's rows."""
    fig, axes = figure(1, 2, size=4.6, sharey=True)
    markers = {"II": "o", "III": "s", "IV": "^", "V": "D"}
    for ax, compat in zip(axes[0], (True, False)):
        for r in rows:
            if r["thesis_compat"] != compat or r.get("variant", "default") != "default":
                continue
            gap = r["log_evidence"] - np.asarray(r["elbo_runs"])
            ax.scatter(gap, r["khat_thesis_runs"], s=14, marker=markers[r["table"]], alpha=0.6,
                       color=PALETTE[r["method"]])
            if r.get("thesis") and compat:
                t = r["thesis"]
                ax.scatter(r["log_evidence"] - np.asarray(t["elbo_runs"]), t["khat_runs"], s=18, color="black",
                           marker=markers[r["table"]], facecolors="none", linewidths=0.8)
        ax.axhline(0.5, color="0.5", lw=0.8)
        ax.axhline(0.7, color="0.5", lw=0.8, ls=":")
        shown = [r for r in rows if r["thesis_compat"] == compat]
        thesis_gaps = [g for r in shown if r.get("thesis") and compat
                       for g in r["log_evidence"] - np.asarray(r["thesis"]["elbo_runs"])]  # the study's points in view
        gap_axis(ax, [g for r in shown for g in r["log_evidence"] - np.asarray(r["elbo_runs"])] + thesis_gaps)
        ax.set(xlabel="log Z − ELBO (nats)",
               title="the study's target (black: the study's trainings)" if compat else "the true model")
    axes[0, 0].set_ylabel("k̂ (2015 PSIS)")
    handles = [Line2D([], [], color=PALETTE[m], ls="none", marker="o", label=m) for m in sorted({r["method"] for r in rows})]
    handles += [Line2D([], [], color="0.3", ls="none", marker=mk, label=f"Table {t}") for t, mk in markers.items()]
    fig.legend(handles=handles, loc="lower center", ncol=7, frameon=False, bbox_to_anchor=(0.5, -0.08), fontsize=8)
    fig.suptitle("Eight schools: k̂ against the ELBO's gap to log Z, one point per training")
    fig.tight_layout()
    return run.save_figure(fig, "khat_vs_elbo.png", ["eight_schools_khat_elbo"])


def make_all(run, scale, specs, rows, posteriors):
    rows = [r for r in rows if r is not None]
    fig37_joint_contours(run)
    fig38_39_nuts_pairs(run, posteriors[8])
    fig40_hyperparameters(run, posteriors[8])
    for fid, (table, method, centered, num_schools, title) in COMPARISONS.items():
        key = row_key(table, method, centered, num_schools, scale.deep if method != "mean_field" else 0)
        _comparison(run, fid, key, centered, num_schools, title, posteriors[num_schools],
                    scale.deep if method != "mean_field" else 0)
    fig47_depth(run, rows)
    depths = [d for d in FIG48_DEPTHS if d in scale.depths] or list(scale.depths)
    fig48_depth_samples(run, depths, posteriors[2])
    traces_figure(run, rows)
    khat_elbo_figure(run, rows)
    per_training_figure(run, rows)
