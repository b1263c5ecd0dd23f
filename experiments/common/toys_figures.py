"""What the toy-targets experiment's mode-study figure shares with the ablations': every seed's KL along training,
coloured by how it ended."""
import numpy as np
from matplotlib.lines import Line2D

from experiments.common.plotting import PALETTE
from experiments.common.toys import CLOSE_KL, ONE_MODE_KL, OUTCOMES, seed_outcomes
from vinf.fit import smoothed_loss

__all__ = ["OUTCOME_COLOURS", "kl_traces", "outcome_key"]

OUTCOME_COLOURS = dict(zip(OUTCOMES, (PALETTE["target"], PALETTE["planar"], PALETTE["radial"])))
FLOOR = 1e-3  # the log axis's floor: smaller KLs (Monte-Carlo noise below log Z) are drawn there


def kl_traces(ax, loss, row, title):
    """Each seed of a mode-study row: log Z minus its smoothed ELBO along training (``loss [steps, R]``), on a log
    axis, coloured by how it ended (``seed_outcomes``). The reference lines go under the traces, thin, so the
    one-mode seeds that sit on log 2 stay visible on it."""
    kl = np.clip(row["log_evidence"] + smoothed_loss(loss), FLOOR, None)
    outcomes = seed_outcomes(row["smaller_share"], row["kl"])
    ax.axhline(ONE_MODE_KL, color="0.25", ls=(0, (1, 2)), lw=0.8, zorder=1)
    ax.axhline(CLOSE_KL, color="0.6", ls=(0, (4, 3)), lw=0.8, zorder=1)
    if row["anneal_steps"]:
        ax.axvline(row["anneal_steps"], color="0.6", lw=0.8, zorder=1)
    for seed, outcome in enumerate(outcomes):
        ax.plot(kl[:, seed], lw=1.0, alpha=0.8, color=OUTCOME_COLOURS[outcome], zorder=3)
    counts = ", ".join(f"{outcomes.count(o)} {o}" for o in OUTCOMES if o in outcomes)
    ax.set(yscale="log", ylim=(FLOOR, 20), xlabel="step", ylabel="log Z − smoothed ELBO",
           title=f"{title}\n{counts} (of {len(outcomes)} seeds)")


def outcome_key(annealed=False):
    """The legend of ``kl_traces``'s colours and lines."""
    handles = [Line2D([], [], color=OUTCOME_COLOURS[o], lw=1.5, label=label) for o, label in zip(OUTCOMES, (
        "one mode (< 10 % of q on one side)", "both modes (mass on both sides, KL < log 2)",
        "spread over both sides, KL ≥ log 2"))]
    handles += [Line2D([], [], color="0.25", ls=(0, (1, 2)), lw=0.8, label="log 2: KL of one mode of two"),
                Line2D([], [], color="0.6", ls=(0, (4, 3)), lw=0.8, label="log 2 / 2")]
    if annealed:
        handles.append(Line2D([], [], color="0.6", lw=0.8, label="β reaches 1 (annealing ends)"))
    return handles
