"""Tables I-V as markdown, and the README's headline table: both targets side by side, beside the thesis's."""
from experiments.common import agreement
from experiments.common.schools import METHOD_LABELS
from experiments.common.thesis import STD_PRINTED, mean_and_sd
from vinf.targets import EIGHT_SCHOOLS_SIGMA, EIGHT_SCHOOLS_Y


def _fmt(mean, sd):
    """Mean to two decimals and sd to three, as the thesis's tables print them."""
    return f"{mean:.2f} ± {sd:.3f}"


def _study(thesis, quantity):
    """The study's trainings of a row: their mean ± sd across trainings (``agreement.thesis_side``)."""
    mean, sd, _ = agreement.thesis_side(thesis, quantity)
    return _fmt(mean, sd)


def _printed(thesis):
    return f"{thesis['khat_mean']:.2f} ± {thesis['khat_std']:.3f}; {thesis['elbo_mean']:.2f} ± {thesis['elbo_std']:.3f}"


def table_markdown(rows, table, judge=True):
    """One thesis table, both targets side by side: k-hat by both estimators, the ELBO, log Z, the study's
    trainings, what the thesis printed and (when ``judge``: not at quick scale) the z of ours against the
    study's trainings (``experiments.common.agreement``). Every ± is the sd across trainings, but the printed."""
    z = lambda r, q: agreement.format_z(agreement.z_thesis(r, q)) if judge else ""  # noqa: E731
    rows = sorted(
        (r for r in rows if r["table"] == table),
        key=lambda r: (not r["thesis_compat"], r["method"], r["num_flows"], not r["centered"]),
    )
    head = ("| target | method | centered | K | k̂ 2015 PSIS | k̂ ArviZ | ELBO | log Z | gap "
            "| k̂ study's trainings | ELBO study's trainings | thesis printed (k̂; ELBO) | z k̂ | z ELBO |")
    lines = [head, "|" + " --- |" * 14]
    for r in rows:
        thesis = r.get("thesis")
        lines.append(
            f"| {'thesis' if r['thesis_compat'] else 'true model'} | {METHOD_LABELS[r['method']]} "
            f"| {'yes' if r['centered'] else 'no'} | {r['num_flows'] or '–'} "
            f"| {_fmt(r['khat_thesis_mean'], r['khat_thesis_std'])} | {_fmt(r['khat_mean'], r['khat_std'])} "
            f"| {_fmt(r['elbo_mean'], r['elbo_std'])} "
            f"| {r['log_evidence']:.2f} | {r['log_evidence'] - r['elbo_mean']:.2f} "
            f"| {_study(thesis, 'khat') if thesis else ''} | {_study(thesis, 'elbo') if thesis else ''} "
            f"| {_printed(thesis) if thesis else ''} "
            f"| {z(r, 'khat')} | {z(r, 'elbo')} |"
        )
    return "\n".join(lines) + "\n\n" + std_note(rows, table)


STD_MEANING = {"within": "the mean over trainings of each training's sd over its 50 draw sets (ddof 0)",
               "across": "the sd of the trainings' means (ddof 0)"}


def std_note(rows, table):
    """What the thesis's Std is in this table, and ours computed the same way beside it."""
    kind = STD_PRINTED.get(table)
    if kind is None:
        return ""
    parts = []
    for r in rows:
        thesis = r.get("thesis")
        if not thesis:
            continue
        if kind == "within":
            ours = (sum(r["khat_thesis_set_sd_runs"]) / len(r["khat_thesis_set_sd_runs"]),
                    sum(r["elbo_set_sd_runs"]) / len(r["elbo_set_sd_runs"])) if "elbo_set_sd_runs" in r else None
        else:
            ours = tuple(mean_and_sd(r[f], ddof=0)[1] for f in ("khat_thesis_runs", "elbo_runs"))
        if ours is not None:
            parts.append(f"{r['key']} {ours[0]:.3f} / {ours[1]:.3f} (thesis {thesis['khat_std']:.3f} / "
                         f"{thesis['elbo_std']:.3f})")
    text = (f"Every ± above is the sd across trainings (ddof 1), ours and the study's alike, but the thesis's printed "
            f"Std: in Table {table} that is {STD_MEANING[kind]} (the study's code/diagnostic.txt reproduces it).")
    return text + (f" The same for ours, k̂ / ELBO: {'; '.join(parts)}." if parts else "")


def headline_markdown(rows):
    """The study's reported rows of Tables II-IV: ours beside the thesis's on its target, and on the true model."""
    by_key = {r["key"]: r for r in rows}
    head = ("| table | method | centered | k̂ ours (2015 PSIS) | k̂ study | ELBO ours | ELBO study | log Z "
            "| k̂ true model | ELBO true model | log p(y) |")
    lines = [head, "|" + " --- |" * 11]
    for r in rows:
        if r["table"] == "V" or not r.get("thesis"):
            continue
        true = by_key[r["key"].removesuffix("-thesis") + "-true"]
        t = r["thesis"]
        label = METHOD_LABELS[r["method"]] + (f" K={r['num_flows']}" if r["num_flows"] else "")
        label += ", one school" if r["num_schools"] == 1 else ""
        lines.append(
            f"| {r['table']} | {label} | {'yes' if r['centered'] else 'no'} "
            f"| {_fmt(r['khat_thesis_mean'], r['khat_thesis_std'])} | {_study(t, 'khat')} "
            f"| {_fmt(r['elbo_mean'], r['elbo_std'])} | {_study(t, 'elbo')} | {r['log_evidence']:.2f} "
            f"| {_fmt(true['khat_thesis_mean'], true['khat_thesis_std'])} | {_fmt(true['elbo_mean'], true['elbo_std'])} "
            f"| {true['log_evidence']:.2f} |"
        )
    return "\n".join(lines)


def data_table():
    lines = ["| school | estimated effect y_i | standard error σ_i |", "| --- | ---: | ---: |"]
    lines += [f"| {i + 1} | {y:g} | {s:g} |" for i, (y, s) in enumerate(zip(EIGHT_SCHOOLS_Y, EIGHT_SCHOOLS_SIGMA))]
    return "\n".join(lines)
