"""The ablations' toy section: each variant's count of seeds covering both modes of a two-mode target beside our
default's (Fisher's exact test at the agreement rule's level), how annealing changes the way there, the table and
the figure. Every sentence is computed from the rows."""
import numpy as np
from matplotlib.ticker import MaxNLocator

from experiments.common import agreement, prose, toys
from experiments.common.plotting import figure
from experiments.common.toys_figures import OUTCOME_COLOURS, kl_traces, outcome_key
from experiments.common.variants import THESIS_CHECKPOINT, THESIS_INIT
from vinf.fit import ANNEAL_START

TITLES = dict(two_hills="two hills (the study's code: σ² = 0.1)",
              two_hills_narrow="two hills, σ = 0.1 (the caption read as an sd)", energy1="energy 1")
ORDER = ("default", *(v.name for v in toys.MODE_VARIANTS))


def _title(name):
    return TITLES.get(name, name)


def count_sentence(name, default, variants):
    """Whether each variant changes how many of the same seeds cover both modes of ``name`` (``default``: our row;
    ``variants``: ``{variant: row}``), by Fisher's exact test at ``agreement.P_AGREE``, and how far the median KL
    moves."""
    if default is None:
        return (f"{_title(name)}: the toy-targets run has no default row for it (rerun `python -m "
                "experiments.toy_targets`), so no variant is compared.")
    runs, ours = default["num_runs"], default["both_modes"]
    kl0 = float(np.median(default["kl"]))
    parts, changes = [], []
    for v in ORDER[1:]:
        r = variants.get(v)
        if r is None:
            continue
        kl = float(np.median(r["kl"]))
        parts.append(f"{toys.VARIANT_LABELS[v]} {r['both_modes']} (median KL {kl:.3f}, {kl - kl0:+.3f})")
        if r["both_modes"] != ours:
            p = agreement.counts_p(r["both_modes"], ours, runs)
            changes.append(f"{toys.VARIANT_LABELS[v]} {'raises' if r['both_modes'] > ours else 'lowers'} it to "
                           f"{r['both_modes']} (Fisher's exact p = {p:.2f}: "
                           f"{'beyond' if p < agreement.P_AGREE else 'within'} chance)")
    head = (f"{_title(name)}: under our choices {ours} of {prose.plural(runs, 'seed')} cover both modes (median KL "
            f"{kl0:.3f})")
    if not parts:
        return head + "; no variant was run."
    verdict = ("No variant changes that number." if not changes else
               "; ".join(changes)[:1].upper() + "; ".join(changes)[1:] + ".")
    return head + "; " + "; ".join(parts) + f". {verdict}"


def _median(values):
    values = [v for v in values if v is not None]
    return f"{np.median(values):.0f}" if values else "–"


def annealing_sentence(name, plain, annealed):
    """How annealing changes the way to both modes: the steps on the one-mode plateau and the first step within
    log 2 / 2 of log Z, beside ours."""
    if plain is None or annealed is None:
        return ""
    end = annealed["anneal_steps"]
    late = sum(first is None or first > end for first in plain["first_step_close"])
    return (f"{_title(name)}: plain runs spend a median {_median(plain['one_mode_steps'])} steps on the one-mode "
            f"plateau and first come within log 2 / 2 at a median step {_median(plain['first_step_close'])}; annealed "
            f"runs {_median(annealed['one_mode_steps'])} steps and step {_median(annealed['first_step_close'])} (– when "
            f"no run got there); at step {end}, where annealing ends, {late} of "
            f"{prose.plural(plain['num_runs'], 'plain run')} had not.")


def table(by_target):
    lines = ["| target | variant | steps | seeds | both modes | one mode | spread, KL ≥ log 2 | within log 2 / 2 "
             "| first step within log 2 / 2: median | KL(q‖p): min / median / max |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, rows in by_target.items():
        for v in ORDER:
            r = rows.get(v)
            if r is None:
                continue
            label = toys.VARIANT_LABELS[v] + (f" (β = 1 after {r['anneal_steps']} steps)" if r["anneal_steps"] else "")
            kl = np.asarray(r["kl"])
            lines.append(f"| {_title(name)} | {label} | {r['num_steps']} | {r['num_runs']} | {r['both_modes']} "
                         f"| {r['one_mode']} | {r['spread']} | {r['close']} | {_median(r['first_step_close'])} "
                         f"| {kl.min():.3f} / {np.median(kl):.3f} / {kl.max():.3f} |")
    return "\n".join(lines)


FIELDS = dict(zip(toys.OUTCOMES, ("one_mode", "both_modes", "spread")))  # each outcome's count in a row


def figure_of(run, by_target, losses):
    """Per target (rows): how the seeds ended under each variant, stacked (left), and the annealed seeds' KL
    along training (right)."""
    fig, axes = figure(len(by_target), 2, size=4.4, gridspec_kw=dict(width_ratios=(1, 1.2)))
    fig.set_size_inches(12.5, 4.2 * len(by_target) + 0.8)
    axes = np.atleast_2d(axes)
    for (left, right), (name, rows) in zip(axes, by_target.items()):
        shown = [v for v in ORDER if v in rows]
        start = np.zeros(len(shown))
        for outcome in (toys.OUTCOMES[1], toys.OUTCOMES[0], toys.OUTCOMES[2]):
            counts = np.array([rows[v][FIELDS[outcome]] for v in shown])
            bars = left.barh(np.arange(len(shown)), counts, left=start, color=OUTCOME_COLOURS[outcome])
            left.bar_label(bars, labels=[str(c) if c else "" for c in counts], label_type="center", fontsize=8,
                           color="white")
            start += counts
        runs = next(iter(rows.values()))["num_runs"]
        left.set(yticks=np.arange(len(shown)), yticklabels=[toys.VARIANT_LABELS[v] for v in shown],
                 xlim=(0, runs), xlabel=f"seeds, of {runs}", title=f"{_title(name)}: how the seeds end")
        left.xaxis.set_major_locator(MaxNLocator(integer=True))
        left.invert_yaxis()
        annealed = rows.get(toys.ANNEALED.name)
        if annealed is not None:
            kl_traces(right, losses[annealed["group"]], annealed, f"{_title(name)}, annealed")
    fig.legend(handles=outcome_key(annealed=True), loc="lower center", ncol=3, fontsize=8)
    fig.suptitle("The mode study under each variant, from the same seeds as our defaults (ours)", fontsize=11)
    fig.tight_layout(rect=(0, 0.6 / fig.get_size_inches()[1] + 0.02, 1, 1))
    return run.save_figure(fig, "mode_study_variants.png", [])


def section(run, reference, rows, losses):
    """The report's lines on the toy targets' mode study under the study's choices."""
    by_target = {name: {} for name in toys.MODE_TARGETS}
    for name, row in reference.defaults.items():
        by_target[name]["default"] = row
    for row in rows:
        by_target[row["target"]][row["variant"]] = row
    image = figure_of(run, by_target, losses)
    scale = reference.scale
    lines = [
        "### The toy targets' mode study under the study's choices\n",
        f"The seeds of `python -m experiments.toy_targets`'s mode study ({prose.plural(scale.mode_runs, 'seed')} of "
        "each target with two mirrored modes: two hills as the study's code has it, two hills with the caption's "
        "σ = 0.1 read as an sd, and energy 1, planar flows at the figures' K and steps), retrained from the same "
        f"starts under: the study's planar initialisation (w at sd {THESIS_INIT.surrogate_options['w_scale']:g}; "
        f"ours 1/√D), the study's checkpoint (`{THESIS_CHECKPOINT.fit_options['checkpoint']}`; ours the moving "
        "average of the loss), both, annealing as Rezende & Mohamed (β_t = min(1, "
        f"{ANNEAL_START:g} + t/N) over the first N = 1/{toys.ANNEAL_FRACTION} of the steps, the recorded loss staying "
        f"the true −ELBO), and {toys.LONGER} times the steps. The study's checkpoint follows our training step for "
        "step and differs only in the parameters it restores; the longer training repeats ours before going on. A "
        f"seed covers both modes when at least {prose.percent(toys.ONE_MODE_SHARE, 0)} of q lies on each side of "
        f"z1 = 0 and its KL is below log 2 = {toys.ONE_MODE_KL:.3f}; a count differs from ours when Fisher's exact "
        f"p < {agreement.P_AGREE:.3f} (the level of |z| ≥ {agreement.Z_AGREE:g}).\n",
        *[count_sentence(name, rows.get("default"), rows) + "\n" for name, rows in by_target.items()],
        *[s + "\n" for s in (annealing_sentence(name, rows.get("default"), rows.get(toys.ANNEALED.name))
                             for name, rows in by_target.items()) if s],
        table(by_target) + "\n",
        f"![Mode study by variant]({run.out.name}/{image.name})\n",
        f"Command: `{run.command}` (after `python -m experiments.toy_targets{' --quick' if run.quick else ''}`)\n",
    ]
    run.set_extra("mode_study", dict(defaults=reference.defaults, variants=rows))
    return lines

