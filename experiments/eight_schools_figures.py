"""Figures 37-48 and the report fragment of the eight-schools experiment."""
import math

import numpy as np
from scipy import stats

import vinf
from vinf.plotting import PALETTE, figure
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


def _key(table, method, centered, num_schools, num_flows, compat=False):
    from experiments.eight_schools import Spec

    return Spec(table, method, centered, num_schools, num_flows, compat).key


def load_draws(folder, key, centered, num_schools):
    """The best training's draws as ``theta [N, J]``, ``mu``, ``log_tau``, ``log_q``."""
    data = np.load(folder / f"{key}.npz")
    z = data["z"].astype(np.float64)
    latent, mu, log_tau = z[:, :num_schools], z[:, num_schools], z[:, num_schools + 1]
    theta = latent if centered else mu[:, None] + np.exp(log_tau)[:, None] * latent
    return theta, mu, log_tau, data["log_q"]


def _posterior(idata, name):
    return idata.posterior[name].values.reshape(-1, *idata.posterior[name].shape[2:])


WINDOW_MASS = 0.999  # the (log tau, theta_1) panels show this central mass of q's and NUTS's draws together


def window(*samples, mass=WINDOW_MASS):
    """``(low, high)`` holding the central ``mass`` of the pooled samples, with a 5 % margin."""
    pooled = np.concatenate([np.ravel(x) for x in samples])
    low, high = np.quantile(pooled, [(1 - mass) / 2, (1 + mass) / 2])
    pad = 0.05 * (high - low)
    return low - pad, high + pad


def outside(x, limits):
    """The fraction of ``x`` outside ``limits``."""
    x = np.ravel(x)
    return float(np.mean((x < limits[0]) | (x > limits[1])))


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
    fig.suptitle("Fig. 37: joint p(y₁, θ₁, μ, log τ) of the first school, μ fixed")
    run.save_figure(fig, "fig37_joint_contours.png", ["fig37"])


def fig38_39_nuts_pairs(run, idata):
    theta, mu, tau = _posterior(idata, "theta"), _posterior(idata, "mu"), _posterior(idata, "tau")
    for fid, x, xlabel, name in (
        ("fig38", np.log(tau), "log τ", "log_tau_vs_theta"),
        ("fig39", mu, "μ", "mu_vs_theta"),
    ):
        fig, axes = figure(2, 4, size=2.8, sharex=True, sharey=True)
        for i, ax in enumerate(axes.ravel()):
            ax.scatter(x, theta[:, i], s=2, alpha=0.25, color=PALETTE["mcmc"], rasterized=True)
            ax.axhline(EIGHT_SCHOOLS_Y[i], color="black", lw=1)
            ax.set(title=f"school {i + 1}", xlabel=xlabel if i >= 4 else None, ylabel=f"θ_i" if i % 4 == 0 else None)
        fig.suptitle(f"Fig. {fid[3:]}: NUTS draws, {xlabel} against θ_i (black: observed y_i)")
        run.save_figure(fig, f"{fid}_nuts_{name}.png", [fid])


def fig40_hyperparameters(run, idata):
    mu, tau = _posterior(idata, "mu"), _posterior(idata, "tau")
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
        ax.set(xlabel=label, ylabel="density", xlim=(grid[0], grid[-1]))
        ax.legend(fontsize=8)
    fig.suptitle("Fig. 40: NUTS posteriors of μ and τ against their priors N(0, 5²), Half-Cauchy(0, 5)")
    run.save_figure(fig, "fig40_nuts_mu_tau_vs_prior.png", ["fig40"])


def _comparison(run, fid, key, centered, num_schools, title, idata, num_flows=0):
    """Top: (log tau, theta_1) of q coloured by log q over NUTS; bottom: marginals of theta_1, mu, tau."""
    import matplotlib.pyplot as plt

    theta, mu, log_tau, log_q = load_draws(run.draws, key, centered, num_schools)
    ref_theta, ref_mu, ref_tau = _posterior(idata, "theta")[:, 0], _posterior(idata, "mu"), _posterior(idata, "tau")
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


def _depth_rows(rows, method, compat):
    return sorted((r for r in rows if r["table"] == "V" and r["method"] == method and r["thesis_compat"] == compat
                   and r.get("variant", "default") == "default"), key=lambda r: r["num_flows"])


def fig47_depth(run, rows):
    """k-hat (the study's estimator) and the ELBO against K (Table V), +-1.96 sd over trainings, with the thesis's."""
    from matplotlib.lines import Line2D

    fig, axes = figure(1, 3, size=4.2)
    khat_ax, elbo_axes = axes[0, 0], {True: axes[0, 1], False: axes[0, 2]}
    styles = {True: dict(ls="--", marker="s", mfc="white"), False: dict(ls="-", marker="o")}
    for compat in (True, False):
        name = "the study's target" if compat else "true model"
        for method in ("planar", "radial"):
            sel = _depth_rows(rows, method, compat)
            k = [r["num_flows"] for r in sel]
            khat_ax.errorbar(k, [r["khat_thesis_mean"] for r in sel], yerr=[1.96 * r["khat_thesis_std"] for r in sel],
                             color=PALETTE[method], capsize=3, **styles[compat])
            elbo_axes[compat].errorbar(k, [r["elbo_mean"] for r in sel], yerr=[1.96 * r["elbo_std"] for r in sel],
                                       color=PALETTE[method], capsize=3, **styles[compat])
        reported = [r for r in _depth_rows(rows, "planar", True) if r.get("thesis")]
        if compat and reported:
            k = [r["num_flows"] * 1.06 for r in reported]  # nudged right so the bars do not hide each other
            thesis = [r["thesis"] for r in reported]
            for ax, q in ((khat_ax, "khat"), (elbo_axes[True], "elbo")):
                ax.errorbar(k, [t[f"{q}_mean"] for t in thesis], yerr=[1.96 * t[f"{q}_std"] for t in thesis],
                            ls="none", marker="x", color="black", capsize=3)
        log_z = next((r["log_evidence"] for r in _depth_rows(rows, "planar", compat)), None)
        if log_z is not None:
            elbo_axes[compat].axhline(log_z, color=PALETTE["target"], lw=1.2)
        elbo_axes[compat].set(xlabel="number of flows K", ylabel="ELBO", title=f"ELBO, {name}", xscale="log")
    khat_ax.axhline(0.5, color="0.5", lw=0.8)
    khat_ax.axhline(0.7, color="0.5", lw=0.8, ls=":")
    khat_ax.set(xlabel="number of flows K", ylabel="k̂ (2015 PSIS, the study's estimator)", title="k̂", xscale="log")
    handles = [Line2D([], [], color=PALETTE[m], lw=2, label=m) for m in ("planar", "radial")]
    handles += [Line2D([], [], color="0.3", label="on the study's target", **styles[True]),
                Line2D([], [], color="0.3", label="on the true model", **styles[False]),
                Line2D([], [], color="black", ls="none", marker="x", label="the thesis (Table V)"),
                Line2D([], [], color=PALETTE["target"], lw=1.2, label="log Z of the panel's target (quadrature)")]
    depths = sorted({r["num_flows"] for r in _depth_rows(rows, "planar", True)})
    for ax in (khat_ax, *elbo_axes.values()):
        ax.minorticks_off()
        ax.set_xticks(depths, [str(k) for k in depths])
    fig.legend(handles=handles, loc="lower center", ncol=6, fontsize=8, frameon=False, bbox_to_anchor=(0.5, -0.06))
    fig.suptitle("Fig. 47: first two schools, centered: fit against depth (bars: ±1.96 sd over trainings)")
    fig.tight_layout()
    run.save_figure(fig, "fig47_depth.png", ["fig47"])


def fig48_depth_samples(run, depths, idata):
    """Planar-flow draws of the best training at several depths over NUTS, with one colour scale for log q."""
    import matplotlib.colors as mcolors

    ref_theta, ref_tau = _posterior(idata, "theta")[:, 0], _posterior(idata, "tau")
    draws = {depth: load_draws(run.draws, _key("V", "planar", True, 2, depth), True, 2) for depth in depths}
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
    fig.suptitle("Fig. 48: planar-flow draws (colour: log q) over NUTS (grey)\ntwo schools, centered, true model",
                 y=1.08)
    run.save_figure(fig, "fig48_depth_samples.png", ["fig48"])


def _trace_groups(run, rows):
    """``{group: (loss [steps, members], best_step [members], rows of the group)}`` from the saved traces."""
    out = {}
    for group in dict.fromkeys(r["group"] for r in rows):
        path = run.draws / f"trace_{group}.npz"
        if path.exists():
            with np.load(path) as data:
                out[group] = (data["loss"], data["best_step"], [r for r in rows if r["group"] == group])
    return out


def traces_figure(run, rows, smoothing=200, filename="traces.png", figure_id="eight_schools_traces"):
    """Every row's trainings: the gap log Z - ELBO, smoothed over ``smoothing`` steps, the checkpoint marked."""
    groups = _trace_groups(run, rows)
    if not groups:
        return None
    cols = 5
    fig, axes = figure(math.ceil(len(groups) / cols), cols, size=3.0)
    for ax in axes.ravel()[len(groups):]:
        ax.set_visible(False)
    colours = {(True, True): "#1f77b4", (False, True): "#ff7f0e", (True, False): "#2ca02c", (False, False): "#d62728"}
    for ax, (group, (loss, best, members)) in zip(axes.ravel(), groups.items()):
        variants = list(dict.fromkeys((r["centered"], r["thesis_compat"] and r["num_schools"] > 1) for r in members))
        runs = loss.shape[1] // len(variants)
        width = max(1, min(smoothing, loss.shape[0] // 10))
        kernel = np.ones(width) / width
        steps = np.arange(width - 1, loss.shape[0])
        for m in range(loss.shape[1]):
            variant = variants[m // runs]
            row = next(r for r in members if (r["centered"], r["thesis_compat"] and r["num_schools"] > 1) == variant)
            gap = np.convolve(loss[:, m] + row["log_evidence"], kernel, mode="valid")
            ax.plot(steps, gap, lw=0.7, color=colours[variant], alpha=0.8)
            at = max(int(best[m]), width - 1)  # a checkpoint inside the first window: marked at its end
            ax.plot(at, gap[at - width + 1], "k|", ms=8)
        ax.set(yscale="log", title=group, xlabel="step")
    axes[0, 0].set_ylabel("log Z − ELBO (smoothed)")
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=c, label=f"{'centered' if ce else 'non-centered'}, "
                                            f"{'study target' if th else 'true model'}") for (ce, th), c in colours.items()]
    handles.append(Line2D([], [], color="k", ls="none", marker="|", ms=8, label="checkpoint"))
    fig.legend(handles=handles, loc="lower center", ncol=5, frameon=False, bbox_to_anchor=(0.5, -0.02))
    fig.suptitle(f"Every training's gap to log Z (moving average over {smoothing} steps, or a tenth of a shorter "
                 "training) and its checkpoint")
    fig.tight_layout()
    return run.save_figure(fig, filename, [figure_id], dpi=100)


GAP_LINEAR = 1e-2  # gaps to log Z below this (nats) are drawn on a linear scale, zero and below included


def gap_axis(ax, gaps):
    """A log-like axis for gaps to log Z that keeps a gap at or below zero (an ELBO at log Z, or above it: a
    bug) in view: symmetric-log, linear within ``GAP_LINEAR`` of zero, with zero marked."""
    gaps = np.asarray(gaps, dtype=float)
    ax.set_xscale("symlog", linthresh=GAP_LINEAR)
    ax.axvline(0.0, color="0.3", lw=0.8)
    ax.set_xlim(min(-GAP_LINEAR, 1.5 * gaps.min()), 1.5 * max(gaps.max(), GAP_LINEAR))


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
                ax.errorbar(r["log_evidence"] - t["elbo_mean"], t["khat_mean"], xerr=1.96 * t["elbo_std"],
                            yerr=1.96 * t["khat_std"], color="black", marker=markers[r["table"]], mfc="none", capsize=2)
        ax.axhline(0.5, color="0.5", lw=0.8)
        ax.axhline(0.7, color="0.5", lw=0.8, ls=":")
        shown = [r for r in rows if r["thesis_compat"] == compat]
        thesis_gaps = [r["log_evidence"] - r["thesis"]["elbo_mean"] + 1.96 * r["thesis"]["elbo_std"]
                       for r in shown if r.get("thesis") and compat]  # the thesis's points and bars in view too
        gap_axis(ax, [g for r in shown for g in r["log_evidence"] - np.asarray(r["elbo_runs"])] + thesis_gaps)
        ax.set(xlabel="log Z − ELBO (nats)",
               title="the study's target (black: the thesis, ±1.96 sd)" if compat else "the true model")
    axes[0, 0].set_ylabel("k̂ (2015 PSIS)")
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=PALETTE[m], ls="none", marker="o", label=m) for m in ("mean_field", "planar", "radial")]
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
        key = _key(table, method, centered, num_schools, scale.deep if method != "mean_field" else 0)
        _comparison(run, fid, key, centered, num_schools, title, posteriors[num_schools],
                    scale.deep if method != "mean_field" else 0)
    fig47_depth(run, rows)
    depths = [d for d in FIG48_DEPTHS if d in scale.depths] or list(scale.depths)
    fig48_depth_samples(run, depths, posteriors[2])
    traces_figure(run, rows)
    khat_elbo_figure(run, rows)
