"""The ablations' report: each deviating row under each of the study's choices beside ours and the thesis's;
which departure moves each deviation; which of the study's checkpoint rules its numbers follow; which choice
the numbers support, corrected for the number of comparisons."""
from experiments.ablations.jobs import ABLATED
from experiments.common import agreement, prose
from experiments.common.variants import THESIS_CHECKPOINT, THESIS_FINAL_CHECKPOINT, THESIS_INIT

NAMES = [v.name for v in ABLATED]
LABELS = {"khat": "k̂", "elbo": "ELBO"}
DEPARTURES = {THESIS_INIT.name: "the planar w start", THESIS_CHECKPOINT.name: "the checkpoint rule"}
RULES = {THESIS_CHECKPOINT.name: "its code's rule when the tables were made (commit ee24ca6: the lowest single-step "
                                  "loss from step 500 on, saved after the update)",
         THESIS_FINAL_CHECKPOINT.name: "its final commit's rule (8f58d79: a save only on a loss 2 % below the last "
                                       "saved one, from step 1, after the update)"}


def base_key(row):
    return row["key"].removesuffix(f"-{row['variant']}")


def by_base(rows):
    """``{default row key: {variant: row}}``."""
    out = {}
    for r in rows:
        out.setdefault(base_key(r), {})[r["variant"]] = r
    return out


def _cell(row, quantity, judge):
    mean, sd = agreement.FIELDS[quantity]
    z = f" (z {agreement.format_z(agreement.z_thesis(row, quantity))})" if judge and row.get("thesis") else ""
    failed = agreement.failed_trainings([row["log_evidence"] - e for e in row["elbo_runs"]])
    flag = f" [{prose.plural(len(failed), 'failed training')}]" if failed else ""
    return f"{row[mean]:.2f} ± {row[sd]:.3f}{z}{flag}"


def comparison_table(defaults, rows, quantity, judge=True):
    """Rows x variants: ``quantity`` ("khat": the study's estimator, or "elbo") as mean ± sd across trainings, the
    study's own trainings the same way, and (when ``judge``: not at quick scale) z against them."""
    head = "| row | the study's trainings | default | " + " | ".join(NAMES) + " |"
    lines = [head, "|" + " --- |" * (3 + len(NAMES))]
    for base, variants in by_base(rows).items():
        default = defaults[base]
        thesis = default.get("thesis")
        study = "" if not thesis else "{:.2f} ± {:.3f}".format(*agreement.thesis_side(thesis, quantity)[:2])
        cells = [study] + ["" if r is None else _cell(r, quantity, judge)
                           for r in [default] + [variants.get(v) for v in NAMES]]
        lines.append(f"| {base} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _failed_phrase(row):
    failed = agreement.failed_trainings([row["log_evidence"] - e for e in row["elbo_runs"]])
    if not failed:
        return ""
    values = ", ".join(f"ELBO {row['elbo_runs'][i]:.2f}, k̂ {row['khat_thesis_runs'][i]:.2f}" for i in failed)
    return (f"; {prose.plural(len(failed), 'training')} of it failed ({values}): its mean moves with that, not with "
            "the choice")


def deviation_sentences(defaults, rows):
    """For each deviation of ours from the thesis: what each of the study's choices does to it, computed; which
    restore agreement. Returns the sentences and the deviations explained and unexplained."""
    out, explained, unexplained = [], [], []
    for base, variants in by_base(rows).items():
        default = defaults[base]
        if not default.get("thesis"):
            continue
        for quantity, label in LABELS.items():
            z0 = agreement.z_thesis(default, quantity)
            if agreement.agrees(z0):
                continue
            mean = agreement.FIELDS[quantity][0]
            moves, fixing = [], []
            for name in NAMES:
                r = variants.get(name)
                if r is None:
                    continue
                z_v = agreement.z_thesis(r, quantity)
                shift, z_shift = r[mean] - default[mean], agreement.z_rows(r, default, quantity)
                pairing = "paired by training" if agreement.paired(r, default) else "unpaired"
                moves.append(f"{name} moves it by {shift:+.2f} (z {agreement.format_z(z_shift)} against ours, "
                             f"{pairing}; z {agreement.format_z(z_v)} against the thesis){_failed_phrase(r)}")
                if agreement.agrees(z_v):
                    fixing.append(name)
            study_mean = agreement.thesis_side(default["thesis"], quantity)[0]
            head = (f"**{base}, {label}**: ours {default[mean]:.2f} against the study's {study_mean:.2f} "
                    f"(z {agreement.format_z(z0)}). ")
            if fixing:
                explained.append(f"{base} {label}")
                tail = f"Agreement is restored by {', '.join(fixing)}."
            else:
                unexplained.append(f"{base} {label}")
                tail = "No departure restores agreement."
            out.append(head + "; ".join(moves) + ". " + tail)
    return out, explained, unexplained


def rule_evidence(defaults, rows):
    """Which of the study's two checkpoint rules its numbers follow, row by row: the rule whose rows agree with
    the thesis on both quantities, beside what its commit history says."""
    parts, counts = [], {name: 0 for name in RULES}
    for base, variants in by_base(rows).items():
        if not defaults[base].get("thesis"):
            continue
        agreeing = [name for name in RULES if name in variants and all(agreement.verdicts(variants[name]).values())]
        for name in agreeing:
            counts[name] += 1
        parts.append(f"{base}: {' and '.join(agreeing) if agreeing else 'neither'}")
    if not parts:
        return ""
    a, b = (counts[name] for name in RULES)
    if a > b:
        verdict = f"the numbers side with the history: {THESIS_CHECKPOINT.name} agrees in more rows ({a} against {b})"
    elif b > a:
        verdict = (f"the numbers side against the history: {THESIS_FINAL_CHECKPOINT.name} agrees in more rows "
                   f"({b} against {a}), as if the tables were made with the later rule before it was committed")
    else:
        verdict = f"the numbers do not tell the rules apart ({a} rows each)"
    return (f"The study's code has two checkpoint rules: {'; and '.join(f'`{n}`, {t}' for n, t in RULES.items())}. "
            "Its `code/diagnostic.txt`, the source of Tables II-V, was committed once, with the first rule; the second "
            f"came 7.8 hours later, with the radial-flow work. Row by row, the rule under which our numbers agree with "
            f"the thesis on both quantities: {'; '.join(parts)}. So {verdict}.\n")


def departure_verdicts(defaults, rows):
    """Per departure, over its rows and both of the study's metrics (lower k-hat by its estimator, higher ELBO):
    how many comparisons are better, worse or the same as ours, with Holm's correction over every comparison of
    every departure (about 1 in 22 single tests would pass |z| >= 2 by chance)."""
    tests = []
    for name in NAMES:
        for r in rows:
            if r["variant"] == name and base_key(r) in defaults:
                for quantity, sign in (("khat", -1), ("elbo", +1)):
                    tests.append((name, quantity, sign * agreement.z_rows(r, defaults[base_key(r)], quantity)))
    significant = agreement.holm([z for *_, z in tests])
    out = {}
    for (name, quantity, z), real in zip(tests, significant):
        entry = out.setdefault(name, dict(tests=0, failed=0, **{q: dict(better=0, worse=0, same=0) for q in LABELS}))
        entry["tests"] += 1
        entry[quantity]["better" if real and z > 0 else "worse" if real else "same"] += 1
    for name, entry in out.items():
        ablated = [r for r in rows if r["variant"] == name]
        entry.update(rows=len(ablated), retried=sum(r["retried"] for r in ablated), failed=sum(
            len(agreement.failed_trainings([r["log_evidence"] - e for e in r["elbo_runs"]])) for r in ablated))
    return dict(total_tests=len(tests), departures=out)


def verdict_sentences(verdicts):
    """One line per departure from ``departure_verdicts``."""
    lines = [f"{verdicts['total_tests']} comparisons in all, each judged at a family-wise level of "
             f"{agreement.P_AGREE:.3f} (Holm): a single |z| ≥ {agreement.Z_AGREE:g} is not enough among so many.\n"]
    for name, c in verdicts["departures"].items():
        parts = [f"{LABELS[q]} better than ours in {c[q]['better']}, worse in {c[q]['worse']}, not told apart in "
                 f"{c[q]['same']}" for q in LABELS]
        parts.append(f"{c['failed']} of its trainings failed and {c['retried']} of its {c['rows']} rows had to be "
                     "retried after a non-finite loss")
        lines.append(f"- **{name}** ({prose.plural(c['rows'], 'row')}): " + "; ".join(parts) + ".")
    return lines


def keep_sentence(verdicts):
    """Which of our defaults the ablations support, by the study's own metrics, after the correction."""
    out = []
    for name, label in DEPARTURES.items():
        c = verdicts["departures"].get(name)
        if c is None:
            continue
        better = c["khat"]["better"] + c["elbo"]["better"]
        worse = c["khat"]["worse"] + c["elbo"]["worse"]
        if better > worse:
            out.append(f"For {label}, the study's choice is better than ours in more comparisons ({better}) than it "
                       f"is worse ({worse}): by the study's own metrics it is the better default, and the tables "
                       "should be read with that in mind.")
        elif worse > better:
            out.append(f"For {label}, our choice is better in {worse} comparisons and worse in {better}: we keep it.")
        else:
            out.append(f"For {label}, the comparisons do not tell the choices apart ({better} each way); ours stays "
                       "for the reason given in the report's list of departures"
                       + (f", and the study's had {prose.plural(c['failed'], 'failed training')} here" if c["failed"]
                          else "") + ".")
    return " ".join(out) + "\n" if out else ""


def summary_sentence(explained, unexplained):
    total = len(explained) + len(unexplained)
    if total == 0:
        return "None of our ablated rows deviates from the thesis by the agreement rule.\n"
    text = f"Of {total} deviations from the thesis, "
    text += (f"{len(explained)} {'is' if len(explained) == 1 else 'are'} explained by a departure "
             f"({', '.join(explained)}) and " if explained else "none is explained by a departure and ")
    text += (f"{len(unexplained)} remain{'s' if len(unexplained) == 1 else ''} unexplained "
             f"({', '.join(unexplained)}). What we cannot switch, and so have not tested, is left: the seeds, the "
             "batching of the trainings and the parts of the study's code its text does not describe."
             if unexplained else "none remains unexplained.")
    return text + "\n"


def intro(scale, specs, quick):
    """What was rerun, from the specs and the scale."""
    rows = sorted({s.key.removesuffix(f"-{s.variant.name}") for s in specs})
    which = ("the centered rows of Tables II-IV (a quick run judges no deviation)" if quick else
             "every row of ours on the study's target that deviates from the thesis on k̂ or the ELBO")
    return (f"Each of the study's choices where ours differ (`experiments.common.variants`: "
            f"{', '.join(f'`{n}`' for n in NAMES)}; the planar start applies to planar rows only), switched on for "
            f"{which}: {prose.plural(len(rows), 'row')}, {', '.join(rows) or 'none'}. Each is R = {scale.num_runs} "
            f"trainings of {scale.num_steps} steps from the same seeds as our row (so the checkpoint rules are compared "
            f"on the same trainings), scored over {scale.num_sets} sets of {scale.num_draws} draws, as in `python -m "
            "experiments.eight_schools`, whose rows are the defaults.\n")


def write_report(run, defaults, rows, specs):
    """``report.md``, the two variant tables and (full scale) ``headline.md`` for README."""
    judge = not run.quick
    lines = [intro(run.scale, specs, run.quick)]
    if judge:
        lines.append(agreement.RULE + "\n")
    for quantity, title in (("khat", "### k̂ (2015 PSIS) by variant\n"), ("elbo", "### ELBO by variant\n")):
        text = comparison_table(defaults, rows, quantity, judge)
        run.save_table(text, f"{quantity}_by_variant.md", [f"ablations_{quantity}"])
        lines += [title, text + "\n"]
    if judge:
        sentences, explained, unexplained = deviation_sentences(defaults, rows)
        verdicts = departure_verdicts(defaults, rows)
        run.set_extra("verdicts", verdicts)
        lines += ["### Which checkpoint rule made the thesis's tables\n", rule_evidence(defaults, rows),
                  "### Each deviation from the thesis, and the departure that moves it\n",
                  summary_sentence(explained, unexplained), *[s + "\n" for s in sentences],
                  "### How each departure compares with ours, and which choice to keep\n",
                  *verdict_sentences(verdicts), "", keep_sentence(verdicts)]
        run.write_text("headline.md", "**Our departures from the study, switched off**: "
                       + summary_sentence(explained, unexplained) + "\n" + keep_sentence(verdicts))
    lines.append(f"Command: `{run.command}`\n")
    return lines
