"""The one rule by which every number of ours is compared with the thesis's, and with another of ours.

Both sides are means over R = 5 trainings with their standard deviations, so
each mean has standard error ``se = sd / sqrt(R)`` and

    z = (ours - theirs) / sqrt(se_ours^2 + se_theirs^2),

with agreement when ``|z| < Z_AGREE``. No slack constants: two means equal to
the printed precision but with tiny spreads can disagree, and the report says so.
k-hat is compared on the study's own estimator (the 2015 PSIS, ``khat_thesis_*``
in our rows), since the thesis's k-hats were computed with it.
"""
import math

Z_AGREE = 2.0
THESIS_RUNS = 5  # trainings behind each of the thesis's means (section VI.B)

RULE = (f"z = (ours − thesis) / √(se_ours² + se_thesis²), se = sd/√R over the R = {THESIS_RUNS} trainings of each "
        f"side; a row agrees when |z| < {Z_AGREE:g}. k̂ is compared on the study's estimator (the 2015 PSIS: "
        "generalized Pareto fitted by Zhang & Stephens to the top 20 % of the weights); ArviZ's k̂ is shown beside it.")

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


def z_thesis(row, quantity):
    """``z`` of our row against the thesis's value of ``quantity`` ("khat" or "elbo"); None if it reports none."""
    thesis = row.get("thesis")
    if not thesis:
        return None
    mean, sd = FIELDS[quantity]
    name = "khat" if quantity.startswith("khat") else quantity
    return z_between(row[mean], row[sd], _runs(row), thesis[f"{name}_mean"], thesis[f"{name}_std"], THESIS_RUNS)


def z_rows(a, b, quantity):
    """``z`` of row ``a`` against row ``b`` (both ours) on ``quantity`` ("khat", "khat_arviz" or "elbo")."""
    mean, sd = FIELDS[quantity]
    return z_between(a[mean], a[sd], _runs(a), b[mean], b[sd], _runs(b))


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
