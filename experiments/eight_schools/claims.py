"""The study's conclusions on eight schools (sections VI.B and VII), each checked against our rows.

Every claim is a test on table rows by the rule of ``experiments.agreement``
(a difference, or a distance to a threshold, in units of its standard error;
decided when beyond ``Z_AGREE``), run on the study's target and on the true
model. k-hat is the study's estimator (2015 PSIS) since its thresholds were
read off it. The verdict is computed, never typed: holds / holds only on the
study's target / holds only on the true model / does not hold / undecided
(within the noise of R = 5 trainings) / not testable (a row is missing).
"""
import dataclasses
import math
from typing import Callable

from experiments.common.agreement import FIELDS, Z_AGREE, standard_error, z_between
from experiments.common.claims import FAILS, HOLDS, MISSING, NOT_SHOWN, UNDECIDED

POWER_Z = 0.84  # z of 80 % power: a difference of (Z_AGREE + POWER_Z) standard errors is found 4 times in 5


def _find(rows, compat, table, method, centered, num_schools, num_flows):
    for r in rows:
        if (r["table"], r["method"], r["centered"], r["num_schools"], r["num_flows"]) == (
                table, method, centered, num_schools, num_flows) and r["thesis_compat"] == compat \
                and r.get("variant", "default") == "default":
            return r
    return None


def _runs(row):
    return len(row["elbo_runs"])


def _mean_se(row, quantity):
    mean, sd = FIELDS[quantity]
    return row[mean], standard_error(row[sd], _runs(row))


def _decide(z, want_positive=True):
    if z is None:
        return MISSING
    z = z if want_positive else -z
    return HOLDS if z >= Z_AGREE else FAILS if z <= -Z_AGREE else UNDECIDED


def _describe(row, quantity):
    mean, se = _mean_se(row, quantity)
    name = "k̂" if quantity == "khat" else "ELBO"
    return f"{name} {mean:.2f} ± {se:.3f}"


def beyond(quantity, threshold, where, side):
    """The claim "``quantity`` of the row ``where`` is below (``side=-1``) or above (``side=+1``) ``threshold``"."""

    def test(rows, compat):
        row = _find(rows, compat, *where)
        if row is None:
            return MISSING, "row not run"
        mean, se = _mean_se(row, quantity)
        z = (mean - threshold) / se if se > 0 else (0.0 if mean == threshold else math.copysign(math.inf, mean - threshold))
        return _decide(z, want_positive=side > 0), f"{_describe(row, quantity)} (z to {threshold:g}: {z:+.1f})"

    return test


def better(quantity, where_a, where_b, label_a, label_b):
    """The claim "row a is better than row b" (higher ELBO, or lower k-hat)."""

    def test(rows, compat):
        a, b = _find(rows, compat, *where_a), _find(rows, compat, *where_b)
        if a is None or b is None:
            return MISSING, "row not run"
        mean_a, sd_a = a[FIELDS[quantity][0]], a[FIELDS[quantity][1]]
        mean_b, sd_b = b[FIELDS[quantity][0]], b[FIELDS[quantity][1]]
        z = z_between(mean_a, sd_a, _runs(a), mean_b, sd_b, _runs(b))
        gain = mean_a - mean_b
        unit = " nats" if quantity == "elbo" else ""
        return (_decide(z, want_positive=quantity == "elbo"),
                f"{label_a} {mean_a:.2f}, {label_b} {mean_b:.2f}: {gain:+.2f}{unit}, z = {z:+.1f}")

    return test


def not_better(quantity, where_a, where_b, label_a, label_b):
    """The claim "row a is no better than row b": it does not hold if a is better beyond the noise, holds if a is
    worse beyond it, and is not shown either way within the noise (with the smallest gain R trainings would find
    4 times in 5)."""
    inner = better(quantity, where_a, where_b, label_a, label_b)

    def test(rows, compat):
        verdict, text = inner(rows, compat)
        if verdict == UNDECIDED:
            a, b = _find(rows, compat, *where_a), _find(rows, compat, *where_b)
            se = math.hypot(_mean_se(a, quantity)[1], _mean_se(b, quantity)[1])
            unit = " nats" if quantity == "elbo" else ""
            return NOT_SHOWN, (f"{text}; R = {_runs(a)} trainings find a gain of {(Z_AGREE + POWER_Z) * se:.2f}{unit} "
                               "4 times in 5, a smaller one may go unseen")
        return {HOLDS: FAILS, FAILS: HOLDS}.get(verdict, verdict), text

    return test


@dataclasses.dataclass(frozen=True)
class Claim:
    text: str
    section: str
    test: Callable  # (rows, thesis_compat) -> (verdict, evidence)


def claims(deep, depths):
    """The claims of sections VI.B and VII that our tables can test (``deep``: K of Tables III-IV)."""
    advi = lambda c: ("II", "mean_field", c, 8, 0)  # noqa: E731
    planar = lambda c: ("III", "planar", c, 8, deep)  # noqa: E731
    out = [
        Claim("mean-field ADVI on the centered model is unreliable: k̂ > 0.7", "VI.B, Table II",
              beyond("khat", 0.7, advi(True), +1)),
        Claim("non-centering makes ADVI reliable: k̂ < 0.5", "VI.B, Table II", beyond("khat", 0.5, advi(False), -1)),
        Claim("planar flows raise the ELBO of ADVI, centered", "VI.B, Table III",
              better("elbo", planar(True), advi(True), "planar", "ADVI")),
        Claim("planar flows raise the ELBO of ADVI, non-centered", "VI.B, Table III",
              better("elbo", planar(False), advi(False), "planar", "ADVI")),
        Claim("planar flows lower k̂ of ADVI, centered", "VI.B, Table III",
              better("khat", planar(True), advi(True), "planar", "ADVI")),
        Claim(f"the centered planar flow (K = {deep}) has k̂ < 0.7", "VI.B, Table III",
              beyond("khat", 0.7, planar(True), -1)),
        Claim(f"one school, the centered planar flow (K = {deep}) has k̂ < 0.5", "VI.B, Table IV",
              beyond("khat", 0.5, ("IV", "planar", True, 1, deep), -1)),
    ]
    one_school = lambda c: ("IV", "planar", c, 1, deep)  # noqa: E731
    out.append(Claim("one school, the centered flow approximates the posterior better than the non-centered (the "
                     "thesis reads it off the density colours of Figs. 45-46; tested on the ELBO, log Z − KL)",
                     "VI.B, Table IV", better("elbo", one_school(True), one_school(False), "centered", "non-centered")))
    if len(depths) >= 3:
        low, mid, high = depths[0], depths[-2], depths[-1]
        v = lambda k: ("V", "planar", True, 2, k)  # noqa: E731
        out += [
            Claim(f"deeper planar flows lower k̂ (K = {low} to {mid})", "VI.B, Table V; VII",
                  better("khat", v(mid), v(low), f"K = {mid}", f"K = {low}")),
            Claim(f"deeper planar flows raise the ELBO (K = {low} to {mid})", "VI.B, Table V",
                  better("elbo", v(mid), v(low), f"K = {mid}", f"K = {low}")),
            Claim(f"no gain in k̂ from K = {mid} to {high}", "VI.B, Table V; VII",
                  not_better("khat", v(high), v(mid), f"K = {high}", f"K = {mid}")),
        ]
    if THRESHOLD_DEPTH in depths:
        out.append(Claim(f"at K = {THRESHOLD_DEPTH} k̂ drops below 0.5", "VI.B, Table V",
                         beyond("khat", 0.5, ("V", "planar", True, 2, THRESHOLD_DEPTH), -1)))
    return out


THRESHOLD_DEPTH = 40  # "drops quite certainly below the threshold k = 0.5 for K = 40" (section VI.B)


def overall(on_thesis, on_true):
    if on_thesis == on_true:
        return on_thesis
    if MISSING in (on_thesis, on_true):
        return f"{on_thesis} on the study's target, {on_true} on the true model"
    if on_thesis == HOLDS:
        return "holds only on the study's target"
    if on_true == HOLDS:
        return "holds only on the true model"
    return f"{on_thesis} on the study's target, {on_true} on the true model"


def checked(rows, deep, depths):
    """Each claim with its evidence and verdict on both targets: a list of dicts."""
    out = []
    for claim in claims(deep, depths):
        (v_thesis, e_thesis), (v_true, e_true) = claim.test(rows, True), claim.test(rows, False)
        out.append(dict(claim=claim.text, section=claim.section, thesis_target=e_thesis, true_model=e_true,
                        verdict=overall(v_thesis, v_true), verdicts=(v_thesis, v_true)))
    return out


def markdown(results):
    lines = ["| the study's claim | section | study's target | true model | verdict |", "|" + " --- |" * 5]
    lines += [f"| {c['claim']} | {c['section']} | {c['thesis_target']} | {c['true_model']} | **{c['verdict']}** |"
              for c in results]
    return "\n".join(lines)
