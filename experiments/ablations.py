"""Each of our departures from the study switched off, on the eight-schools rows where our numbers can move.

``python -m experiments.ablations [--quick | --full] [--out DIR] [--seed N] [--force] [--jobs N | --dask N | --scheduler ADDRESS]``

Our defaults depart from the study in two choices a number can depend on: the
planar ``w`` starts at sd 1/sqrt(D), not 1e-2, and the checkpoint is the
lowest moving average of the loss, not the lowest single estimate (the k-hat
estimator is a third, and every row already carries both). Each is a variant
of ``experiments.eight_schools.VARIANTS``: ``thesis_init``,
``thesis_checkpoint`` and both, ``thesis_all``. They rerun, on the study's
target and by its protocol, every row of Table V, Table IV and Table III's
centered planar row; rows carry ``"variant"``. The default rows are those of
``python -m experiments.eight_schools`` at the same scale and seed, which must
have run first. The report says, for each deviation of ours from the thesis,
which departure moves it and by how much, or that none does.
"""
import numpy as np

from experiments import agreement
from experiments import eight_schools as es
from experiments._common import Experiment

NAME = "ablations"
ABLATED = ("thesis_init", "thesis_checkpoint", "thesis_all")


def ablated_specs(scale):
    """The study's-target planar rows of Tables III (centered), IV and V, under each ablated variant."""
    specs = []
    for variant in ABLATED:
        specs.append(es.Spec("III", "planar", True, 8, scale.deep, True, variant))
        specs += [es.Spec("IV", "planar", centered, 1, scale.deep, True, variant) for centered in (True, False)]
        specs += [es.Spec("V", "planar", True, 2, depth, True, variant) for depth in scale.depths]
    return specs


def _base_key(row):
    return row["key"].removesuffix(f"-{row['variant']}")


def _by_base(rows):
    by_base = {}
    for r in rows:
        by_base.setdefault(_base_key(r), {})[r["variant"]] = r
    return by_base


def comparison_table(defaults, rows, quantity, judge=True):
    """Rows x variants: ``quantity`` ("khat": the study's estimator, or "elbo"), with z against the thesis
    when ``judge`` (not at quick scale)."""
    mean, sd = agreement.FIELDS[quantity]
    name = "khat" if quantity == "khat" else "elbo"
    head = "| row | thesis | default | " + " | ".join(ABLATED) + " |"
    lines = [head, "|" + " --- |" * (3 + len(ABLATED))]
    for base, variants in _by_base(rows).items():
        default = defaults.get(base)
        if default is None:
            continue
        thesis = default.get("thesis")
        cells = [f"{thesis[f'{name}_mean']:.2f}" if thesis else ""]
        for r in [default] + [variants.get(v) for v in ABLATED]:
            z = (f" (z {agreement.format_z(agreement.z_thesis(r, quantity))})"
                 if r is not None and thesis and judge else "")
            cells.append("" if r is None else f"{r[mean]:.2f} ± {r[sd]:.3f}{z}")
        lines.append(f"| {base} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def deviation_sentences(defaults, rows):
    """For each of our rows beyond the agreement rule: what each departure does to it, computed."""
    out, explained, unexplained = [], [], []
    for base, variants in _by_base(rows).items():
        default = defaults.get(base)
        if default is None or not default.get("thesis"):
            continue
        for quantity, label in (("khat", "k̂"), ("elbo", "ELBO")):
            z0 = agreement.z_thesis(default, quantity)
            if agreement.agrees(z0):
                continue
            mean = agreement.FIELDS[quantity][0]
            name = "khat" if quantity == "khat" else "elbo"
            moves, fixing = [], []
            for v in ABLATED:
                r = variants.get(v)
                if r is None:
                    continue
                z_v = agreement.z_thesis(r, quantity)
                shift, z_shift = r[mean] - default[mean], agreement.z_rows(r, default, quantity)
                moves.append(f"{v} moves it by {shift:+.2f} (z {agreement.format_z(z_shift)} against ours; "
                             f"z {agreement.format_z(z_v)} against the thesis)")
                if agreement.agrees(z_v):
                    fixing.append(v)
            head = (f"**{base}, {label}**: ours {default[mean]:.2f} against the thesis's "
                    f"{default['thesis'][f'{name}_mean']:.2f} (z {agreement.format_z(z0)}). ")
            if not moves:
                out.append(head + "No ablated variant of this row was run.")
                continue
            if fixing:
                explained.append(f"{base} {label}")
                tail = f"Agreement is restored by {', '.join(fixing)}."
            else:
                unexplained.append(f"{base} {label}")
                tail = "No departure restores agreement."
            out.append(head + "; ".join(moves) + ". " + tail)
    return out, explained, unexplained


def departure_verdicts(defaults, rows):
    """Per departure, over its ablated rows: how many are better, worse or the same as ours (z rule, the study's
    own metrics: lower k-hat by its estimator, higher ELBO), and how many reported rows come closer to the thesis."""
    out = {}
    for v in ABLATED:
        pairs = [(r, defaults[_base_key(r)]) for r in rows if r["variant"] == v and _base_key(r) in defaults]
        if not pairs:
            continue
        counts = {}
        for quantity, sign in (("khat", -1), ("elbo", +1)):
            z = np.array([agreement.z_rows(r, d, quantity) * sign for r, d in pairs])
            counts[quantity] = dict(better=int(np.sum(z >= agreement.Z_AGREE)), worse=int(np.sum(z <= -agreement.Z_AGREE)),
                                    same=int(np.sum(np.abs(z) < agreement.Z_AGREE)))
        reported = [(r, d) for r, d in pairs if d.get("thesis")]
        closer = sum(abs(agreement.z_thesis(r, "khat")) < abs(agreement.z_thesis(d, "khat")) - agreement.Z_AGREE / 2
                     for r, d in reported)
        out[v] = dict(rows=len(pairs), reported=len(reported), closer=closer, retried=sum(r["retried"] for r, _ in pairs),
                      **counts)
    return out


def verdict_sentences(verdicts):
    """One line per departure from ``departure_verdicts``, then which choice to keep, by the study's metrics."""
    lines = []
    for v, c in verdicts.items():
        parts = [f"{label} better than ours in {c[q]['better']}, worse in {c[q]['worse']}, the same within the "
                 f"noise in {c[q]['same']}" for q, label in (("khat", "k̂"), ("elbo", "ELBO"))]
        if c["reported"]:
            parts.append(f"its k̂ comes closer to the thesis's (|z| smaller by more than {agreement.Z_AGREE / 2:g}) in "
                         f"{c['closer']} of {c['reported']} reported rows")
        parts.append(f"{c['retried']} of its {c['rows']} row trainings had to be retried after a non-finite loss")
        lines.append(f"- **{v}** ({c['rows']} rows): " + "; ".join(parts) + ".")
    return lines


def keep_sentence(verdicts):
    """Which of our defaults the ablations support, by the study's own metrics (k-hat and ELBO)."""
    single = {v: c for v, c in verdicts.items() if v != "thesis_all"}
    if not single:
        return ""
    names = {"thesis_init": "the planar w start", "thesis_checkpoint": "the checkpoint rule"}
    out = []
    for v, c in single.items():
        better = c["khat"]["better"] + c["elbo"]["better"]
        worse = c["khat"]["worse"] + c["elbo"]["worse"]
        if better > worse:
            out.append(f"For {names.get(v, v)}, the study's choice is better than ours in more comparisons ({better}) "
                       f"than it is worse ({worse}): by the study's own metrics it is the better default, and the "
                       "tables above should be read with that in mind.")
        elif worse > better:
            out.append(f"For {names.get(v, v)}, our choice is better in {worse} comparisons and worse in {better}: "
                       "we keep it.")
        else:
            out.append(f"For {names.get(v, v)}, neither choice is better by the study's metrics ({better} each way); "
                       "ours stays for the reason given in the report's list of departures"
                       + (f", and the study's needed {c['retried']} retried trainings here" if c["retried"] else "")
                       + ".")
    return " ".join(out) + "\n"


def summary_sentence(explained, unexplained):
    total = len(explained) + len(unexplained)
    if total == 0:
        return "None of our ablated rows deviates from the thesis by the agreement rule.\n"
    text = f"Of {total} deviations from the thesis among these rows, "
    text += (f"{len(explained)} {'is' if len(explained) == 1 else 'are'} explained by a departure "
             f"({', '.join(explained)}) and " if explained else "none is explained by a departure and ")
    text += (f"{len(unexplained)} remain{'s' if len(unexplained) == 1 else ''} unexplained "
             f"({', '.join(unexplained)}). What we cannot switch, and so have not tested, is left: the seeds, the "
             "batching of the trainings and the parts of the study's code its text does not describe."
             if unexplained else "none remains unexplained.")
    return text + "\n"


def intro(scale, specs):
    """What was rerun, from the specs and the scale."""
    rows = sorted({_base_key_of(s) for s in specs})
    return (f"Each of our departures from the study switched back to the study's choice (`experiments._study.VARIANTS`: "
            f"{', '.join(f'`{v}`' for v in ABLATED)}), on {len(rows)} rows of the study's target: {', '.join(rows)}. "
            f"Each row is R = {scale.num_runs} trainings of {scale.num_steps} steps, scored over {scale.num_sets} sets "
            f"of {scale.num_draws} draws, as in `python -m experiments.eight_schools`, whose rows are the defaults.\n")


def _base_key_of(spec):
    return spec.key.removesuffix(f"-{spec.variant}")


def table(run, defaults, rows, quantity):
    """Save one variant table (registered as ``ablations_<quantity>``) and return it for the report."""
    text = comparison_table(defaults, rows, quantity, judge=not run.quick)
    run.save_table(text, f"{quantity}_by_variant.md", [f"ablations_{quantity}"])
    return text + "\n"


def work(run):
    defaults, _ = es.reference_results(run)
    specs = ablated_specs(run.scale)
    print(f"ablations: {len(specs)} rows, {run.scale.num_runs} trainings x {run.scale.num_steps} steps each")
    run.run_jobs(es.training_jobs(run.scale, specs, run.seed), "ablated trainings")
    rows = [run.cached_row(s.key) for s in specs]
    missing = sorted({_base_key(r) for r in rows} - set(defaults))
    if missing:  # the eight-schools run was still going when this one started: rerun this command after it
        print(f"ablations: no eight-schools default yet for {', '.join(missing)}; rerun when it has finished")
    from experiments.eight_schools_report import quick_banner

    lines = [quick_banner(run)] if run.quick else []
    lines.append(intro(run.scale, specs))
    if missing:
        lines.append(f"_The eight-schools run had no rows yet for {', '.join(missing)}: they are left out below; "
                     f"rerun `{run.command}` once it has finished (the ablated trainings are saved)._\n")
    if not run.quick:
        lines.append(agreement.RULE + "\n")
    lines += ["### k̂ (2015 PSIS) by variant\n", table(run, defaults, rows, "khat"),
              "### ELBO by variant\n", table(run, defaults, rows, "elbo")]
    if not run.quick:
        sentences, explained, unexplained = deviation_sentences(defaults, rows)
        verdicts = departure_verdicts(defaults, rows)
        run.set_extra("verdicts", verdicts)
        lines += ["### Each deviation from the thesis, and the departure that moves it\n",
                  summary_sentence(explained, unexplained), *[s + "\n" for s in sentences],
                  "### How each departure compares with ours, and which choice to keep\n",
                  *verdict_sentences(verdicts), "", keep_sentence(verdicts)]
        run.write_text("headline.md", "**Our departures from the study, switched off**: "
                       + summary_sentence(explained, unexplained) + "\n" + keep_sentence(verdicts))
    lines.append(f"Command: `{run.command}`\n")
    run.write_text("report.md", "\n".join(lines))


EXPERIMENT = Experiment(NAME, __doc__, es.FULL, es.QUICK, work)
main = EXPERIMENT.main

if __name__ == "__main__":
    main()
