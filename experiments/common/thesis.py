"""What the thesis printed in Tables II-V, and what those numbers are: the study's own per-training values.

Each row of the thesis's Tables II-V is a mean and a "Std" of k-hat and the
ELBO over R = 5 trainings. The study's code (github.com/pierresegonne/VINF,
commit ee24ca6, ``code/diagnostic.py`` lines 68-85) scored each training over
50 sets of 5000 draws and wrote, per training, the mean and the sd (NumPy,
ddof 0) over the sets to ``code/diagnostic.txt``. ``from_study/study_runs.json``
holds those values as that file gives them (the lines of each row beside it).
From them: Tables II-IV print the mean over trainings of each training's sd
over its sets, the noise of the draw sets (``"within"``), and Table V prints
the sd of the trainings' means (``"across"``, ddof 0, ``code/util_diagnostic.py``).
A comparison of means must set spread beside spread, so ``experiments.common.agreement``
takes the study's side from the per-training values, never from the printed Std.
"""
import dataclasses
import functools
import json
import math
from pathlib import Path

__all__ = ["StudyRow", "study_row", "study_rows", "attach", "STD_PRINTED", "SOURCE"]

DATA = Path(__file__).resolve().parent / "from_study" / "study_runs.json"


@functools.cache
def _data():
    return json.loads(DATA.read_text())


def _source():
    source = _data()["source"]
    return f"{source['repository']}, commit {source['commit'][:7]}"


SOURCE = _source()  # where the per-training values come from
STD_PRINTED = {table: entry["kind"] for table, entry in _data()["std_printed"].items()}  # "within" or "across"


@dataclasses.dataclass(frozen=True)
class StudyRow:
    """One row of the thesis: what it printed and the study's per-training values behind it.

    ``khat_runs`` and ``elbo_runs`` are each training's mean over its draw sets
    (the ELBO with the thesis's sign); ``*_set_sd`` each training's sd over its
    sets (ddof 0).
    """

    table: str
    method: str
    centered: bool
    num_schools: int
    num_flows: int
    khat_runs: tuple
    elbo_runs: tuple
    khat_set_sd: tuple
    elbo_set_sd: tuple
    printed: dict  # khat_mean, khat_std, elbo_mean, elbo_std as the thesis prints them
    lines: str  # where in code/diagnostic.txt

    @property
    def key(self):
        return (self.table, self.method, self.centered, self.num_schools, self.num_flows)

    @property
    def std_printed(self):
        """Which spread the thesis's Std column is for this row's table: ``"within"`` or ``"across"``."""
        return STD_PRINTED[self.table]

    def as_reference(self):
        """The ``thesis`` entry of one of our rows: the printed numbers, the per-training values and their source."""
        return dict(**self.printed, khat_runs=list(self.khat_runs), elbo_runs=list(self.elbo_runs),
                    khat_set_sd_runs=list(self.khat_set_sd), elbo_set_sd_runs=list(self.elbo_set_sd),
                    std_printed=self.std_printed, source=f"{SOURCE}, code/diagnostic.txt lines {self.lines}")


def _study_row(entry):
    runs = entry["runs"]
    return StudyRow(
        table=entry["table"], method=entry["method"], centered=entry["centered"], num_schools=entry["num_schools"],
        num_flows=entry["num_flows"],
        khat_runs=tuple(r["khat_mean"] for r in runs),
        elbo_runs=tuple(-r["elbo_mean"] for r in runs),  # the file holds the loss, -ELBO
        khat_set_sd=tuple(r["khat_sd"] for r in runs), elbo_set_sd=tuple(r["elbo_sd"] for r in runs),
        printed=dict(entry["thesis_printed"]), lines=entry["source_lines"])


@functools.cache
def study_rows():
    """Every thesis row of Tables II-V, by ``(table, method, centered, num_schools, num_flows)``."""
    rows = (_study_row(entry) for entry in _data()["rows"])
    return {row.key: row for row in rows}


def study_row(table, method, centered, num_schools, num_flows):
    """The thesis's row, or ``None`` where it reports none."""
    return study_rows().get((table, method, centered, num_schools, num_flows))


def attach(row):
    """``row`` with its ``thesis`` entry (``StudyRow.as_reference``) when the thesis reports it: rows of the
    study's target (``thesis_compat``) only, since its numbers belong to that target."""
    found = study_row(row["table"], row["method"], row["centered"], row["num_schools"], row["num_flows"])
    return dict(row, thesis=found.as_reference() if found is not None and row["thesis_compat"] else None)


def mean_and_sd(values, ddof=1):
    """The mean and the sd (``ddof``) of a list of per-training values."""
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - ddof)) if n > ddof else 0.0
    return mean, sd
