"""The Inference Gym figure: families by targets, coloured by the standardized error of the posterior means and
by k-hat, one look for the whole experiment."""
import matplotlib.colors as mcolors
import numpy as np

from experiments.common.plotting import figure
from experiments.gym.config import FAMILIES


def _median(values):
    values = [v for v in values or () if v is not None and np.isfinite(v)]
    return float(np.median(values)) if values else np.nan


def grid(rows, targets, field):
    """``[families, targets]`` of the median over trainings of ``field`` (NaN where refused or missing)."""
    by_key = {(r["family"], r["target"]): r for r in rows}
    return np.array([[_median(by_key[(f.label, t)][field]) if (f.label, t) in by_key else np.nan for t in targets]
                     for f in FAMILIES])


def overview_figure(run, rows, targets, dims):
    """Two heat maps, families x targets: the median |mean - truth| / sd_truth, and k-hat (ArviZ)."""
    labels = [f"{t.replace('MissingMiddleObservations', ' (missing middle)')} ({dims[t]})" for t in targets]
    fig, axes = figure(1, 2, size=6.4, sharey=True)
    panels = (
        ("median_error_runs", "median |mean − truth| / sd_truth", mcolors.LogNorm(1e-2, 1e1), "magma_r"),
        ("khat_runs", "k̂ (ArviZ)", mcolors.TwoSlopeNorm(vmin=0.0, vcenter=0.7, vmax=2.0), "RdYlGn_r"),
    )
    for ax, (field, title, norm, cmap) in zip(axes[0], panels):
        values = grid(rows, targets, field)
        shown = np.ma.masked_invalid(values)
        image = ax.imshow(shown, norm=norm, cmap=cmap, aspect="auto")
        ax.set_facecolor("0.85")
        for (i, j), v in np.ndenumerate(values):
            ax.text(j, i, "—" if np.isnan(v) else (f"{v:.2f}" if v < 10 else f"{v:.0f}"), ha="center", va="center",
                    fontsize=6.5, color="black")
        ax.set_xticks(range(len(targets)), labels, rotation=60, ha="right", fontsize=7)
        ax.set_yticks(range(len(FAMILIES)), [f.label for f in FAMILIES], fontsize=8)
        ax.set_title(title, fontsize=10)
        fig.colorbar(image, ax=ax, shrink=0.7)
    fig.suptitle("Inference Gym: every family on every target (median over trainings; —: refused or no ground "
                 "truth)")
    fig.tight_layout()
    return run.save_figure(fig, "gym_overview.png", ["gym_overview"])
