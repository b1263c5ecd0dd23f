"""The verdicts of the study's conclusions, checked: one row per claim of the thesis's text that a number of
ours can test, each experiment's under ``"claims"`` in its ``results.json`` (``experiments.report`` gathers
them into one table).

A verdict is computed, never typed, from one of these outcomes: the claim
*holds*, *does not hold*, is *undecided* (the difference is within the noise),
is *not shown either way* (a claim of no difference, or of something that
happens "sometimes", that our runs had too little power to see), or is *not
testable* (nothing of ours measures it).
"""
import math

from experiments.common.agreement import P_AGREE, Z_AGREE

__all__ = ["HOLDS", "FAILS", "UNDECIDED", "NOT_SHOWN", "MISSING", "claim", "by_flag", "by_z", "by_majority",
           "sometimes"]

HOLDS, FAILS, UNDECIDED, NOT_SHOWN, MISSING = ("holds", "does not hold", "undecided", "not shown either way",
                                                "not testable")


def claim(text, section, evidence, verdict):
    """One row of the claims table."""
    return dict(claim=text, section=section, evidence=evidence, verdict=verdict)


def by_flag(flag):
    """A claim decided by an exact measurement (nothing random, or noise far below the margin): holds when
    ``flag``, not when False, not testable when None."""
    return MISSING if flag is None else HOLDS if flag else FAILS


def by_z(z):
    """A claim that a difference is positive, from its ``z``: holds beyond ``Z_AGREE``, does not hold below
    ``-Z_AGREE``, undecided between; not testable when None."""
    if z is None or (isinstance(z, float) and math.isnan(z)):
        return MISSING
    return HOLDS if z >= Z_AGREE else FAILS if z <= -Z_AGREE else UNDECIDED


def by_majority(count, runs):
    """A claim about what a training does, from ``count`` of ``runs`` seeds that did it: holds when more than
    half do beyond chance (two-sided binomial test against one half at ``P_AGREE``), does not hold when fewer
    than half do beyond chance, undecided between."""
    from scipy.stats import binomtest

    if not runs:
        return MISSING
    if binomtest(count, runs, 0.5).pvalue >= P_AGREE:
        return UNDECIDED
    return HOLDS if 2 * count > runs else FAILS


def sometimes(count, runs):
    """A claim that a training *sometimes* fails, from ``count`` failures in ``runs`` seeds: holds when any
    failed; else not shown either way (the failure rate could still be up to ``rate_bound(runs)``)."""
    if not runs:
        return MISSING
    return HOLDS if count else NOT_SHOWN


def rate_bound(runs):
    """The highest failure rate that ``runs`` seeds without a failure leave plausible at level ``P_AGREE``:
    ``1 - P_AGREE ** (1 / runs)``."""
    return 1.0 - P_AGREE ** (1.0 / runs)
