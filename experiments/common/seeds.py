"""Every seed of the experiments, from one base seed: a job's own seed, and the named streams of its draws.

A job's seed depends on the command's ``--seed`` and on the job's key only, so
the same job gets the same seed whatever else runs, in whatever order, on
whichever executor. Inside a job, draws for different purposes use different
streams of that seed (TensorFlow's stateless ``seed=(job_seed, stream)``), so
that, say, the draws a figure shows are not the draws that scored the fit.
"""
import enum
import zlib

__all__ = ["job_seed", "Stream"]

_MULTIPLIER = 1_000_003  # a prime: base seeds 0, 1, 2 ... give unrelated job seeds


def job_seed(base, key):
    """The seed of the job named ``key`` under the base seed ``base`` (a 31-bit integer)."""
    return (base * _MULTIPLIER + zlib.crc32(key.encode())) % 2**31


class Stream(enum.IntEnum):
    """The second half of a stateless seed ``(job_seed, stream)``: one per purpose of a job's draws."""

    BASE_DRAWS = 5  # a toy flow's base draws q_0, pushed through its layers for the flow-effect figures
    SCHOOLS_DRAWS = 7  # the draws of a trained eight-schools surrogate that the figures show and summarise
    TOY_DRAWS = 11  # the draws of a trained toy-target surrogate that the figures show
    GYM_DRAWS = 13  # the draws that score a trained surrogate on an Inference Gym target
