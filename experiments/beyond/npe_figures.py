"""The amortised-inference (NPE) figure: SBC rank histograms per coordinate and parameterisation, and the
marginals at Table I's y under NPE, NUTS and a per-y fit."""
import matplotlib.pyplot as plt
import numpy as np
from scipy import stats

from experiments.beyond.config import LABELS, MOONSHOT_FAMILY
from experiments.beyond.npe_jobs import npe_file, true_model_row
from experiments.common.agreement import P_AGREE
from experiments.common.plotting import style, window
from experiments.common.schools import load_draws

FIGURE_ID, FIGURE_FILE = "beyond_npe", "npe.png"
CAPTION = ("Amortised inference (NPE). Top: SBC rank histograms of every coordinate (columns), centered and "
           "non-centered (rows), one line per training; grey, where one bin's count falls with probability "
           f"{1 - P_AGREE:.3f} when the ranks are uniform. Bottom: at Table I's y, the marginals of μ, log τ and θ₁ "
           "under NPE's best training (by k̂), NUTS and a per-y fit's best training.")
NPE_COLOUR, FIT_COLOUR, NUTS_COLOUR = "#d68910", "#17a589", "0.55"
PER_Y_FIGURE = (MOONSHOT_FAMILY, LABELS[("planar", "default")])  # the per-y fit drawn: the first of these run
_SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def coordinate(name):
    """A coordinate's label: ``theta[0]`` -> θ₁, ``theta_tilde[2]`` -> θ̃₃, ``mu`` -> μ, ``log_tau`` -> log τ."""
    if "[" in name:
        stem, index = name.rstrip("]").split("[")
        return ("θ̃" if stem == "theta_tilde" else "θ") + str(int(index) + 1).translate(_SUBSCRIPT)
    return {"mu": "μ", "log_tau": "log τ"}.get(name, name)


def uniform_band(num_datasets, num_bins, level=P_AGREE):
    """The central ``1 - level`` interval of one bin's count when ``num_datasets`` ranks are uniform."""
    return stats.binom.ppf([level / 2, 1 - level / 2], num_datasets, 1 / num_bins)


def per_y_row(rows6, centered):
    """The per-y fit drawn beside NPE: the first family of ``PER_Y_FIGURE`` that ran."""
    return next((r for f in PER_Y_FIGURE if (r := true_model_row(rows6, f, centered)) is not None), None)


def _sbc_panels(fig, run, rows):
    counts = {}
    for r in rows:
        with np.load(run.draws / npe_file(r["key"])) as data:
            counts[r["key"]] = data["counts"]  # [R, bins, dim]
    first = rows[0]
    axes = fig.subplots(len(rows), len(first["sbc_names"]), sharex=True, sharey=True, squeeze=False)
    for i, r in enumerate(rows):
        bins = r["sbc_bins"]
        edges = np.linspace(0.0, 1.0, bins + 1)
        low, high = uniform_band(r["sbc_datasets"], bins)
        for j, name in enumerate(r["sbc_names"]):
            ax = axes[i, j]
            ax.axhspan(low, high, color="0.87", lw=0)
            ax.axhline(r["sbc_datasets"] / bins, color="0.5", lw=0.7)
            for run_counts in counts[r["key"]]:
                ax.stairs(run_counts[:, j], edges, color=NPE_COLOUR, lw=0.9, alpha=0.75)
            ax.set_title(coordinate(name), fontsize=10)
            ax.set_xticks([0, 0.5, 1], ["0", "½", "1"])
            ax.tick_params(labelsize=8)
            ax.grid(False)
        axes[i, 0].set_ylabel(f"{'centered' if r['centered'] else 'non-centered'}\ncount", fontsize=10)
    for ax in axes[-1]:
        ax.set_xlabel("rank / (L + 1)", fontsize=8)
    top = max(max(c.max() for c in counts.values()), uniform_band(first["sbc_datasets"], first["sbc_bins"])[1])
    axes[0, 0].set_ylim(0, 1.1 * top)
    fig.suptitle(f"SBC: rank of the true value among L = {first['sbc_draws']} draws of q(· | y*), "
                 f"{first['sbc_datasets']} simulated data sets per training", fontsize=11)


def _marginal_panels(fig, run, rows, rows6, own, baseline_draws, nuts):
    axes = fig.subplots(len(rows), 3, squeeze=False)
    reference = dict(mu=nuts["mu"], log_tau=np.log(nuts["tau"]), theta_1=nuts["theta"][..., 0])
    labels = dict(mu="μ", log_tau="log τ", theta_1="θ₁")
    for i, r in enumerate(rows):
        theta, mu, log_tau, _ = load_draws(run.draws, r["key"], r["centered"], 8)
        mine = dict(mu=mu, log_tau=log_tau, theta_1=theta[:, 0])
        fit = per_y_row(rows6, r["centered"])
        theirs = None
        if fit is not None:
            folder = run.draws if fit["key"] in own else baseline_draws
            t, m, lt, _ = load_draws(folder, fit["key"], fit["centered"], 8)
            theirs = dict(mu=m, log_tau=lt, theta_1=t[:, 0])
        for j, name in enumerate(("mu", "log_tau", "theta_1")):
            ax = axes[i, j]
            ref = np.ravel(reference[name])
            samples = [ref, mine[name]] + ([theirs[name]] if theirs else [])
            edges = np.linspace(*window(*samples), 50)
            ax.hist(ref, edges, density=True, color=NUTS_COLOUR, alpha=0.45, lw=0, label="NUTS")
            ax.hist(mine[name], edges, density=True, histtype="step", color=NPE_COLOUR, lw=1.6,
                    label="NPE (best training)")
            if theirs:
                ax.hist(theirs[name], edges, density=True, histtype="step", color=FIT_COLOUR, lw=1.3, ls="--",
                        label=f"per-y fit: {fit['family']}")
            ax.set(xlabel=labels[name], yticks=[])
            ax.set_xlim(edges[0], edges[-1])
        axes[i, 0].set_ylabel(f"{'centered' if r['centered'] else 'non-centered'}\ndensity", fontsize=10)
    axes[0, -1].legend(fontsize=8, loc="upper right")
    fig.suptitle("At Table I's y: marginals under NPE (one network for every y), NUTS and a per-y fit", fontsize=11)


def npe_figure(run, rows, rows6, own, baseline_draws):
    """``npe.png``: the SBC grid over the marginals at the observed y (``rows``: the NPE rows, centered first)."""
    if not rows:
        return None
    style()
    width = max(14.0, 1.45 * len(rows[0]["sbc_names"]))
    fig = plt.figure(figsize=(width, 3.0 * len(rows) + 3.4 * len(rows)), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.0, 1.15], hspace=0.04)
    _sbc_panels(top, run, rows)
    with np.load(baseline_draws / "nuts_J8.npz") as data:
        nuts = {n: data[n] for n in ("mu", "tau", "theta")}
    _marginal_panels(bottom, run, rows, rows6, own, baseline_draws, nuts)
    return run.save_figure(fig, FIGURE_FILE, [FIGURE_ID])
