"""The figures of ``python -m experiments.beyond``: draws per family, k-hat and ELBO per family, depth, traces."""
import arviz as az
import numpy as np

from experiments.beyond.config import SMALL_LR
from experiments.beyond.jobs import depth_rows, tanh_series
from experiments.common.plotting import figure, gap_axis, window
from experiments.common.schools import load_draws, posterior_values
from experiments.common.schools_figures import traces_figure

FAMILY_COLOURS = ["#7d3c98", "#5d6d7e", "#17a589", "#0e6655", "#d68910", "#2471a3", "#c0392b", "#b7950b"]

FIGURES = (
    ("beyond_draws", "draws.png", "Each family's best training (by k̂) against NUTS, true model: the funnel's "
                                  "(log τ, θ₁), centered (top) and non-centered (bottom)."),
    ("beyond_khat_elbo", "khat_elbo.png", "k̂ (ArviZ) and the ELBO's gap to log p(y) per family on the true model "
                                          "(bars: ±1.96 sd over the trainings of each row)."),
    ("beyond_depth", "depth.png", "The depth question: k̂ (2015 PSIS) against K on the study's two-school centered "
                                  "target (bars: ±1.96 sd over the trainings; a cross at the top: every attempt at that depth diverged), and "
                                  "each layer's gradient norm before training and at the checkpoint."),
    ("beyond_traces", "traces.png", "Every training of this experiment: its gap to log Z and its checkpoint."),
)


VARIANT_COLOURS = {"default": "#17a589", "leaky_relu": "#c0392b", "lr_3e-3": "#2471a3"}
VARIANT_LABELS = {"default": "tanh", "leaky_relu": "leaky ReLU",
                  "lr_3e-3": f"tanh, lr {SMALL_LR:g}"}


def _colours(rows):
    families = list(dict.fromkeys(r["family"] for r in rows))
    return {f: FAMILY_COLOURS[i % len(FAMILY_COLOURS)] for i, f in enumerate(families)}


def draws_figure(run, rows6, own, baseline_draws, nuts):
    true = [r for r in rows6 if not r["thesis_compat"] and "stl" not in r["variant"]]
    families = list(dict.fromkeys(r["family"] for r in true))
    ref_theta, ref_log_tau = posterior_values(nuts, "theta")[:, 0], np.log(posterior_values(nuts, "tau"))
    panels = {}
    for r in true:
        folder = run.draws if r["key"] in own else baseline_draws  # trained here, or by the eight-schools run
        panels[(r["family"], r["centered"])] = load_draws(folder, r["key"], r["centered"], r["num_schools"])
    xlim = window(ref_log_tau, *[p[2] for p in panels.values()])
    ylim = window(ref_theta, *[p[0][:, 0] for p in panels.values()])
    fig, axes = figure(2, len(families), size=2.6, sharex=True, sharey=True)
    colours = _colours(true)
    for j, family in enumerate(families):
        for i, centered in enumerate((True, False)):
            ax = axes[i, j]
            ax.scatter(ref_log_tau, ref_theta, s=1, color="0.75", alpha=0.3, rasterized=True)
            if (family, centered) in panels:
                theta, _, log_tau, _ = panels[(family, centered)]
                ax.scatter(log_tau, theta[:, 0], s=1, color=colours[family], alpha=0.35, rasterized=True)
            ax.set(xlim=xlim, ylim=ylim, title=family if i == 0 else None,
                   xlabel="log τ" if i == 1 else None, ylabel=("centered\nθ₁" if centered else "non-centered\nθ₁")
                   if j == 0 else None)
    fig.suptitle("Eight schools, true model: each family's draws (colour) over NUTS's (grey)")
    fig.tight_layout()
    run.save_figure(fig, "draws.png", ["beyond_draws"])


def khat_elbo_figure(run, rows6):
    true = [r for r in rows6 if not r["thesis_compat"]]
    families = list(dict.fromkeys(r["family"] for r in true))
    colours = _colours(true)
    fig, axes = figure(1, 2, size=5.0)
    for ax, quantity in zip(axes[0], ("khat", "gap")):
        for i, family in enumerate(families):
            for centered, marker, shift in ((True, "o", -0.15), (False, "s", 0.15)):
                r = next((r for r in true if r["family"] == family and r["centered"] == centered), None)
                if r is None:
                    continue
                if quantity == "khat":
                    value, err = r["khat_mean"], 1.96 * r["khat_std"]
                else:
                    value, err = r["log_evidence"] - r["elbo_mean"], 1.96 * r["elbo_std"]
                ax.errorbar(value, i + shift, xerr=err, marker=marker, color=colours[family], capsize=2,
                            mfc=colours[family] if centered else "white")
        ax.set_yticks(range(len(families)), families)
        ax.invert_yaxis()
    axes[0, 0].axvline(0.5, color="0.5", lw=0.8)
    axes[0, 0].axvline(0.7, color="0.5", lw=0.8, ls=":")
    axes[0, 0].set(xlabel="k̂ (ArviZ)", title="k̂ (filled: centered, open: non-centered)")
    gap_axis(axes[0, 1], [r["log_evidence"] - r["elbo_mean"] for r in true])
    axes[0, 1].set(xlabel="log p(y) − ELBO (nats)", title="gap to log p(y)")
    axes[0, 1].set_yticklabels([])
    fig.suptitle("Eight schools, true model: every family by the study's protocol")
    fig.tight_layout()
    run.save_figure(fig, "khat_elbo.png", ["beyond_khat_elbo"])


def depth_figure(run, own, baseline, diverged=()):
    """k-hat against K per way of training (a cross at the top for a depth whose every attempt diverged, so
    that a missing point reads as a result) beside each layer's gradient norm."""
    series = {VARIANT_LABELS["default"]: tanh_series(list(own.values()), list(baseline.values())),
              VARIANT_LABELS["leaky_relu"]: depth_rows(own.values(), "leaky_relu"),
              VARIANT_LABELS["lr_3e-3"]: depth_rows(own.values(), "lr_3e-3")}
    normed = sorted((r for r in own.values() if r.get("gradient_norms") and r["thesis_compat"]),
                    key=lambda r: (r["variant"], r["num_flows"]))
    fig, axes = figure(1, 2, size=4.6)
    ax = axes[0, 0]
    for (label, sel), colour in zip(series.items(), VARIANT_COLOURS.values()):
        if sel:
            ax.errorbar([r["num_flows"] for r in sel], [r["khat_thesis_mean"] for r in sel],
                        yerr=[1.96 * r["khat_thesis_std"] for r in sel], marker="o", capsize=3, color=colour,
                        label=label)
    for variant, colour in VARIANT_COLOURS.items():
        failed = sorted(r["num_flows"] for r in diverged if r["table"] == "V" and r["variant"] == variant)
        if failed:
            ax.plot(failed, [0.97] * len(failed), "x", ms=9, mew=2, color=colour, transform=ax.get_xaxis_transform(),
                    clip_on=False, label=f"{VARIANT_LABELS[variant]}: diverged (every attempt)")
    ax.set(xscale="log", xlabel="number of flows K", ylabel="k̂ (2015 PSIS)", title="k̂ against depth, study's target")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.24), ncol=2)  # below: the bars fill the axes
    ax = axes[0, 1]
    depths = sorted({r["num_flows"] for r in normed})
    for r in normed:
        colour = VARIANT_COLOURS[r["variant"]]
        width = 0.8 + 1.2 * depths.index(r["num_flows"])  # the deeper flow drawn thicker
        for when, ls in (("before", ":"), ("after", "-")):
            norms = np.asarray(r["gradient_norms"][when])
            ax.plot(np.arange(1, len(norms) + 1), norms, ls=ls, color=colour, lw=width,
                    label=f"{VARIANT_LABELS[r['variant']]}, K = {r['num_flows']}, {when}")
    ax.set(yscale="log", xscale="log", xlabel="layer (1 acts first)", ylabel="gradient norm",
           title="per-layer gradient norm (dotted: before training)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.suptitle("The study's depth question: first two schools, centered")
    fig.tight_layout()
    run.save_figure(fig, "depth.png", ["beyond_depth"])


def make_all(run, rows6, own, baseline, baseline_draws, diverged=()):
    with np.load(baseline_draws / "nuts_J8.npz") as data:
        nuts = az.from_dict(posterior={n: data[n] for n in ("mu", "tau", "theta")})
    draws_figure(run, rows6, own, baseline_draws, nuts)
    khat_elbo_figure(run, rows6)
    depth_figure(run, own, baseline, diverged)
    traces_figure(run, list(own.values()), filename="traces.png", figure_id="beyond_traces")


def markdown(run):
    lines = ["### Figures\n"]
    for fid, filename, caption in FIGURES:
        if run.path(filename).exists():
            lines += [f"![{fid}]({run.out.name}/{filename})\n", caption + "\n"]
    return lines
