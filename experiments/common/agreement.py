"""The one rule by which every number of ours is compared with the thesis's, and with another of ours.

Both sides are means over R trainings, and what a mean can be trusted to is
set by how much the trainings differ, so each side's standard error is the sd
of its per-training values (ddof 1) over the square root of its R, and

    z = (ours - theirs) / sqrt(se_ours^2 + se_theirs^2),

with agreement when ``|z| < Z_AGREE``. The thesis's side comes from the study's
own per-training values (``experiments.common.thesis``), not from its printed
Std: Tables II-IV print the draw-set noise within a training, which is far
smaller than the spread between trainings. No slack constants: two means equal
to the printed precision can still disagree, and the report says so. k-hat is
compared on the study's own estimator (the 2015 PSIS, ``khat_thesis_*`` in our
rows), since the thesis's k-hats were computed with it.
"""
import math
import statistics

from experiments.common.thesis import mean_and_sd

Z_AGREE = 2.0
THESIS_RUNS = 5  # trainings behind each of the thesis's means (section VI.B)

RULE = (f"z = (ours − thesis) / √(se_ours² + se_thesis²), se = sd/√R with sd the spread of the per-training values "
        f"across the R = {THESIS_RUNS} trainings of each side; a row agrees when |z| < {Z_AGREE:g}. The thesis's side "
        "is the study's own per-training values (its code/diagnostic.txt): the Std the thesis prints is, for Tables "
        "II-IV, the mean within-training sd over the 50 draw sets, and for Table V the sd across trainings (ddof 0), "
        "so spread is compared with spread. k̂ is compared on the study's estimator (the 2015 PSIS: generalized "
        "Pareto fitted by Zhang & Stephens to the top 20 % of the weights); ArviZ's k̂ is shown beside it.")

# What each quantity is called in our rows: (mean, sd) fields.
FIELDS = {"khat": ("khat_thesis_mean", "khat_thesis_std"), "khat_arviz": ("khat_mean", "khat_std"),
          "elbo": ("elbo_mean", "elbo_std")}


def standard_error(sd, runs):
    return sd / math.sqrt(runs)


def z_between(mean_a, sd_a, runs_a, mean_b, sd_b, runs_b):
    """``z`` of ``a - b`` for two means of ``runs_a`` and ``runs_b`` trainings; inf when both spreads are zero
    and the means differ, 0 when they are equal."""
    se = math.hypot(standard_error(sd_a, runs_a), standard_error(sd_b, runs_b))
    difference = mean_a - mean_b
    if se == 0:
        return 0.0 if difference == 0 else math.copysign(math.inf, difference)
    return difference / se


def _runs(row):
    return len(row.get("elbo_runs") or ()) or THESIS_RUNS


def thesis_side(thesis, quantity):
    """``(mean, sd, R)`` of the thesis's row on ``quantity``: from the study's per-training values (sd across
    trainings, ddof 1) when the row has them, else its printed mean and Std over ``THESIS_RUNS`` trainings."""
    name = "khat" if quantity.startswith("khat") else quantity
    runs = thesis.get(f"{name}_runs")
    if runs:
        mean, sd = mean_and_sd(runs)
        return mean, sd, len(runs)
    return thesis[f"{name}_mean"], thesis[f"{name}_std"], THESIS_RUNS


def z_thesis(row, quantity):
    """``z`` of our row against the thesis's value of ``quantity`` ("khat" or "elbo"); None if it reports none."""
    thesis = row.get("thesis")
    if not thesis:
        return None
    mean, sd = FIELDS[quantity]
    return z_between(row[mean], row[sd], _runs(row), *thesis_side(thesis, quantity))


RUNS = {"khat": "khat_thesis_runs", "khat_arviz": "khat_runs", "elbo": "elbo_runs"}  # per-training values


def paired(a, b):
    """Whether rows ``a`` and ``b`` are the same trainings but for one choice: the same seed (so the same
    draws, and the same start where the choice leaves it), as many trainings, and neither retried from another."""
    return (a.get("seed") is not None and a.get("seed") == b.get("seed") and _runs(a) == _runs(b)
            and not a.get("retried") and not b.get("retried"))


def z_rows(a, b, quantity):
    """``z`` of row ``a`` against row ``b`` (both ours) on ``quantity`` ("khat", "khat_arviz" or "elbo"): of the
    per-training differences when the rows are ``paired`` (training r of one against training r of the other),
    else of the two means."""
    if paired(a, b):
        differences = [x - y for x, y in zip(a[RUNS[quantity]], b[RUNS[quantity]])]
        mean, sd = mean_and_sd(differences)
        return z_between(mean, sd, len(differences), 0.0, 0.0, 1)
    mean, sd = FIELDS[quantity]
    return z_between(a[mean], a[sd], _runs(a), b[mean], b[sd], _runs(b))


def p_value(z):
    """The two-sided p of ``z`` under the null of no difference."""
    return math.erfc(abs(z) / math.sqrt(2)) if math.isfinite(z) else 0.0


def holm(zs, level=None):
    """Which of the ``zs`` are significant at family-wise ``level`` (default ``P_AGREE``, the single test's)
    by Holm's step-down correction: with m tests, about m * level would pass |z| >= Z_AGREE by chance."""
    level = P_AGREE if level is None else level
    order = sorted(range(len(zs)), key=lambda i: p_value(zs[i]))
    significant = [False] * len(zs)
    for rank, i in enumerate(order):
        if p_value(zs[i]) > level / (len(zs) - rank):
            break
        significant[i] = True
    return significant


FAILED_FACTOR, FAILED_FLOOR = 5.0, 0.1  # a training whose gap to log Z is this many times the others' and nats above


def failed_trainings(gaps):
    """Which trainings failed (diverged, or stopped in a poor state), from each one's gap to log Z: a gap more
    than ``FAILED_FACTOR`` times the median gap of the others and ``FAILED_FLOOR`` nats beyond it. Indices."""
    out = []
    for i, gap in enumerate(gaps):
        others = [g for j, g in enumerate(gaps) if j != i]
        if others and gap > FAILED_FACTOR * max(statistics.median(others), 0.0) and gap > statistics.median(others) + FAILED_FLOOR:
            out.append(i)
    return out


P_AGREE = math.erfc(Z_AGREE / math.sqrt(2))  # the two-sided p of |z| = Z_AGREE: the same rule for counts


def counts_p(count_a, count_b, runs):
    """Fisher's exact two-sided p that ``count_a`` and ``count_b`` successes in ``runs`` trials each differ
    only by chance; counts differ when ``p < P_AGREE``."""
    from scipy.stats import fisher_exact

    return float(fisher_exact([[count_a, runs - count_a], [count_b, runs - count_b]])[1])


def agrees(z):
    return z is not None and abs(z) < Z_AGREE


def verdicts(row):
    """``{"khat": bool, "elbo": bool}`` against the thesis, or None when the thesis reports no such row."""
    if not row.get("thesis"):
        return None
    return {q: agrees(z_thesis(row, q)) for q in ("khat", "elbo")}


def format_z(z):
    if z is None:
        return ""
    return f"{z:+.2f}" if math.isfinite(z) else ("+∞" if z > 0 else "−∞")
