"""Assemble ``figures/README.md``, the report, from what the experiments wrote.

``python -m experiments.report`` (no options) joins each experiment's ``report.md`` in the
thesis's order, then adds where the time went (``figures/timings.json``) and
which thesis figure or table each file reproduces (``figures/manifest.json``),
naming any that is missing. It also puts each experiment's ``headline.md`` (the
results at a glance) into the top-level ``README.md``, between the
``HEADLINE_START`` and ``HEADLINE_END`` markers, so README's numbers are those of
the committed run.
"""
import argparse
import importlib
import inspect
import re

from experiments import registry
from experiments.common import paths, runner
from experiments.common.files import read_json, write_text

FIGURES, MANIFEST, TIMINGS = paths.FIGURES, paths.MANIFEST, paths.TIMINGS
README = paths.REPO / "README.md"
HEADLINE_START, HEADLINE_END = "<!-- headline: written by python -m experiments.report -->", "<!-- headline end -->"

ORDER = tuple((e.name, e.title) for e in registry.EXPERIMENTS)
EXPERIMENTS, FURTHER = registry.REPRODUCTION, registry.FURTHER
OPTIONAL = {"fig1", "fig5", "fig36"}  # graphical-model drawings
EXPECTED = [f"fig{n}" for n in range(2, 49)] + [f"table{r}" for r in ("I", "II", "III", "IV", "V")]


def _planar_init_text():
    """The planar-start comparison of ``benchmarks/planar_init.py``, from its JSON (or that it has not run)."""
    bench = read_json(paths.REPO / "benchmarks" / "planar_init.json")
    if bench is None:
        return "`python benchmarks/planar_init.py` compares both starts (not run yet)"
    fits = bench["seeds"]
    parts = []
    for label, result in ((k, v) for k, v in bench.items() if isinstance(v, dict)):
        failed = len(result["failed_fits"])
        parts.append(f"{label}: {failed} of {fits} batched fits failed with a non-finite loss, lowest ELBO "
                     f"{result['elbo_min']:.2f}")
    return (f"`benchmarks/planar_init.py` measured both on {bench['schools']} school(s), {bench['steps']} steps, "
            f"{fits} seeds × {bench['surrogates_per_seed']} surrogates (log Z = {bench['log_evidence']:.2f}): "
            + "; ".join(parts))


def _draws_size():
    sizes = [p.stat().st_size for p in FIGURES.glob("*/draws/*") if p.is_file()]
    return f"{sum(sizes) / 2**20:.0f} MB in this checkout" if sizes else "none in this checkout"


def _ablated_rows():
    """The default rows the committed ablations reran under the study's choices (from their results.json)."""
    saved = read_json(FIGURES / "ablations" / "results.json", {})
    return sorted({r["key"].removesuffix(f"-{r['variant']}") for r in saved.get("rows", [])})


def _settings():
    """The settings the departures name, read from the code that uses them. Imported here, not at the top: they
    live in modules that import TensorFlow, which ``python -m experiments.report --help`` does without."""
    module = importlib.import_module
    schools = module("experiments.common.schools")
    return dict(decay=module("vinf.fit").CHECKPOINT_DECAY, sample_size=schools.SAMPLE_SIZE, attempts=schools.ATTEMPTS,
                runs=schools.FULL.num_runs, toy_starts=module("experiments.toy_targets.config").FULL.starts,
                reference=inspect.signature(module("vinf.mcmc").eight_schools_reference).parameters)


def departures():
    """Where this reproduction chooses differently from the study, and why (settings read from the code)."""
    settings = _settings()
    reference, CHECKPOINT_DECAY = settings["reference"], settings["decay"]
    ablated = _ablated_rows()
    rerun = (f"reruns {len(ablated)} rows of the study's target, every one that deviates from the thesis, under "
             f"each of the study's choices ({', '.join(ablated)})" if ablated else
             "reruns every row of the study's target that deviates from the thesis under each of the study's choices "
             "(not run at full scale in this checkout)")
    runs = settings["runs"]
    return f"""\
Where this reproduction chooses differently from the study's code (github.com/pierresegonne/VINF), and why:

- **Two eight-schools targets.** The study's code counted the priors of μ and τ (and τ's log-Jacobian) once
  per school. Its numbers are reproduced on that target (`thesis_compat=True`); every table also has the
  true model, and each row carries its exact log evidence by quadrature, which no ELBO may exceed.
- **The thesis's Std, read from the study's code.** For Tables II-IV it is the mean over trainings of each
  training's sd over its 50 draw sets, for Table V the sd across trainings (ddof 0): the per-training values of
  its `code/diagnostic.txt` (committed here, `experiments/common/from_study/`) reproduce both. Every comparison
  sets the spread across trainings beside the spread across trainings (`experiments/common/agreement.py`).
- **Planar `w` starts at sd 1/√D**, not 1e-2. Eq. 64's correction grows as 1/|w|, so a start near |w| = 0.01
  puts large corrections within reach of the first updates; {_planar_init_text()}.
- **The checkpoint** is the step with the lowest moving average of the loss (decay {CHECKPOINT_DECAY:g}, about
  {1 / (1 - CHECKPOINT_DECAY):.0f} steps). The study's code, when its tables were made (commit ee24ca6), kept the
  parameters after the update that followed its lowest single-step loss from step 500 on; its final commit saved
  only on a loss 2 % below the last saved one. Both are `vinf.fit` checkpoint rules
  (`lowest_post_update`, `two_percent_post_update`).
- **Both departures are switches** (`experiments.common.variants`): `python -m experiments.ablations` {rerun};
  its section above says what each changes, and which checkpoint rule the thesis's numbers follow.
- **Two k̂ estimators.** Every row carries the study's code's (the 2015 PSIS: Zhang & Stephens's generalized
  Pareto fit to the top 20 % of the weights) and ArviZ's (the tail the thesis's text states, min(S/5, 3√S), k
  shrunk towards 0.5), from the same draws; agreement with the thesis is judged on the code's.
- **Mean-field baselines of the toy targets** take {settings["toy_starts"]} starts spread over the plot window
  (the study's start alone can end on a saddle) and are set beside the best diagonal Gaussian by quadrature.
- **The NUTS reference** runs {reference["chains"].default} chains on the non-centered model, with target_accept
  tried at {", ".join(f"{a:g}" for a in reference["target_accepts"].default)} in turn until no divergence
  remains, and reports R-hat, bulk ESS and divergences beside every figure that uses it.
- **Repeated trainings run together.** The {runs} trainings of a row, and rows that differ only in their target,
  are members of one batched surrogate: each has its own parameters, loss, Adam state and checkpoint, so
  the arithmetic is that of separate runs; only the random streams differ. A batch whose loss turns
  non-finite is trained again from a new seed, up to {settings["attempts"] - 1} times (`retried` in `results.json`).
- **One school**: with J = 1 the study's target and the true model coincide, so Table IV is trained once
  and shown under both.
- **Radial flows**, which the study trained but did not report, are `python -m experiments.beyond`'s (Table VI's
  radial row, beside every other family).
- **Draws are not committed.** NUTS's `nuts_J*.npz` and the flows' draws behind the figures (`figures/*/draws/`,
  {_draws_size()}) are written by the commands; the repository keeps the figures and the numbers.
"""


def claims_table():
    """The study's conclusions checked, for the whole study: each experiment's ``claims`` (its results.json),
    one row per claim, with the verdict its numbers gave."""
    rows = []
    for name, _ in ORDER:
        for c in read_json(FIGURES / name / "results.json", {}).get("extra", {}).get("claims", []):
            evidence = c.get("evidence") or (f"study's target: {c['thesis_target']}; true model: {c['true_model']}"
                                             if "thesis_target" in c else "")
            rows.append(f"| {c['claim']} | {c['section']} | {evidence} | **{c['verdict']}** | `{name}` |")
    if not rows:
        return "_No experiment has recorded its claims at full scale yet._\n"
    counts = {}
    for line in rows:
        verdict = line.split("**")[-2]
        counts[verdict] = counts.get(verdict, 0) + 1
    head = ["| the study's claim | section | evidence | verdict | experiment |", "| --- | --- | --- | --- | --- |"]
    return (f"{len(rows)} claims of the thesis's text, each tested by the experiment named, its verdict computed: "
            + "; ".join(f"{v}, {n}" for v, n in counts.items()) + ".\n\n" + "\n".join(head + rows) + "\n")


def eight_schools_time_table(rows):
    """Where the eight-schools time goes: each group's fit (compilation included) and k-hat/ELBO
    evaluation, summed by table and method, in seconds of the worker process that ran it."""
    totals = {}
    for r in {r["group"]: r for r in rows}.values():
        key = (r["table"], r["method"])
        fit, evaluate = totals.get(key, (0.0, 0.0))
        totals[key] = (fit + r["group_train_seconds"], evaluate + r["group_evaluate_seconds"])
    lines = ["| table | method | training (s) | evaluation (s) |", "| --- | --- | ---: | ---: |"]
    lines += [f"| {t} | {m} | {fit:.0f} | {evaluate:.0f} |" for (t, m), (fit, evaluate) in sorted(totals.items())]
    fit, evaluate = (sum(v[i] for v in totals.values()) for i in (0, 1))
    lines.append(f"| all | | {fit:.0f} | {evaluate:.0f} |")
    return "\n".join(lines)


def timings_table(timings):
    experiments = timings.get("experiments", {})
    if not experiments:
        return "_No full run recorded yet._\n"
    total = timings.get("total_seconds") or sum(experiments.values())
    resumed, partial = set(timings.get("resumed", [])), set(timings.get("partial", []))
    lines = ["| experiment | wall time (s) | share |", "| --- | ---: | ---: |"]
    for name, seconds in sorted(experiments.items(), key=lambda kv: (kv[0] in FURTHER, -kv[1])):
        note = " (resumed: only what was left)" if name in resumed else ""
        if name in FURTHER:
            note += " (its own command, timed apart from the reproduction)"
        elif name in partial:
            note += " (rerun after the full run: not in its total)"
        share = "" if name in FURTHER or name in partial or not total else f"{100 * seconds / total:.0f} %"
        lines.append(f"| `{name}`{note} | {seconds:.0f} | {share} |")
    last = ("an earlier full run, older than every time above" if set(EXPERIMENTS) <= partial
            else "the last full run")  # every experiment retimed since: the total describes none of them
    lines.append(f"| **total of {last}** (`python -m experiments`, the reproduction) | **{total:.0f}** | |")
    text = "\n".join(lines) + f"\n\nMachine: {timings.get('machine', 'unknown')}.\n"
    results = read_json(FIGURES / "eight_schools" / "results.json", {})
    if results.get("rows"):
        worker = sum(r["group_train_seconds"] + r["group_evaluate_seconds"]
                     for r in {r["group"]: r for r in results["rows"]}.values())
        wall = None if "eight_schools" in resumed else experiments.get("eight_schools")  # resumed: part of the work
        ratio = f"; they add up to {worker / wall:.1f}× its wall time" if wall else ""
        text += ("\nInside `eight_schools`, by table and family (seconds of the worker process that ran each "
                 f"batched training{ratio}; NUTS takes the rest):\n\n" + eight_schools_time_table(results["rows"])
                 + "\n")
    return text


def coverage_table(manifest):
    lines = ["| thesis | files | command |", "| --- | --- | --- |"]
    missing = []
    for fid in EXPECTED + sorted(set(manifest) - set(EXPECTED)):
        entry = manifest.get(fid)
        if entry is None:
            if fid not in OPTIONAL:
                missing.append(fid)
            continue
        files = ", ".join(f"[{f.split('/')[-1]}]({f.removeprefix('figures/')})" for f in entry["files"])
        lines.append(f"| {fid} | {files} | `{entry['command']}` |")
    text = "\n".join(lines) + "\n"
    if missing:
        text += f"\nNot reproduced yet: {', '.join(missing)}.\n"
    return text


def not_run(name):
    """The section of an experiment with no committed report: which command makes it."""
    return f"_Not run at full scale in this checkout: `python -m experiments.{name}` makes this section._\n"


def build():
    parts = [
        "# vinf — the report\n",
        "The study's figures and tables, regenerated by the code in this repository (the index at the end names "
        "any not reproduced). Each section comes from one experiment module; the command under each item makes "
        "it (`python -m experiments` makes the reproduction). Numbers are read from the `results.json` beside "
        "each figure.\n",
    ]
    for name, title in ORDER:
        fragment = FIGURES / name / "report.md"
        parts.append(f"## {title}\n")
        parts.append(fragment.read_text().strip() + "\n" if fragment.exists() else not_run(name))
    parts.append("## The study's conclusions, checked\n")
    parts.append(claims_table())
    parts.append("## Where vinf departs from the study\n")
    parts.append(departures())
    parts.append("## Where the time goes\n")
    parts.append(timings_table(read_json(TIMINGS, {})))
    parts.append("## Index: thesis figure or table → file → command\n")
    parts.append(coverage_table(read_json(MANIFEST, {})))
    return "\n".join(parts)


def update_readme_headline():
    """Replace the block between the README's headline markers with the experiments' ``headline.md``."""
    fragments = [
        f"{(FIGURES / name / 'headline.md').read_text().strip()}\n\n_From `figures/{name}/results.json`._"
        for name, _ in ORDER if (FIGURES / name / "headline.md").exists()
    ]
    text = README.read_text()
    pattern = re.compile(re.escape(HEADLINE_START) + ".*?" + re.escape(HEADLINE_END), re.S)
    if not pattern.search(text):
        raise ValueError(f"{README} lacks the headline markers {HEADLINE_START!r} ... {HEADLINE_END!r}")
    block = "\n\n".join([HEADLINE_START, *fragments, HEADLINE_END])
    write_text(README, pattern.sub(lambda _: block, text))


def write():
    """Write ``figures/README.md`` and README.md's headline block."""
    write_text(FIGURES / "README.md", build())
    update_readme_headline()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m experiments.report", description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    runner.quiet_tensorflow()
    write()


if __name__ == "__main__":
    main()
