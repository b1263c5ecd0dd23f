"""Figures the eight-schools experiment shares with those that build on it: every training's trace."""
import math

import numpy as np
from matplotlib.lines import Line2D

from experiments.common.plotting import figure

__all__ = ["traces_figure"]


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
    handles = [Line2D([], [], color=c, label=f"{'centered' if ce else 'non-centered'}, "
                                            f"{'study target' if th else 'true model'}") for (ce, th), c in colours.items()]
    handles.append(Line2D([], [], color="k", ls="none", marker="|", ms=8, label="checkpoint"))
    fig.legend(handles=handles, loc="lower center", ncol=5, frameon=False, bbox_to_anchor=(0.5, -0.02))
    fig.suptitle(f"Every training's gap to log Z (moving average over {smoothing} steps, or a tenth of a shorter "
                 "training) and its checkpoint")
    fig.tight_layout()
    return run.save_figure(fig, filename, [figure_id], dpi=100)
