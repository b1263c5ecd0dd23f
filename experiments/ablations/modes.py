"""The ablations' toy part: the mode study of section VI.A (``experiments.common.toys``) under each of the study's
choices, annealed and trained longer, from the same seeds as the toy-targets experiment's defaults.

The defaults are the rows of ``python -m experiments.toy_targets`` at the same scale and seed (its
``results.json``, which must be finished); the variants train at that run's scale, so each differs from its
default only by the variant. Their rows go under ``extra["modes/<group key>"]`` of the ablations'
``results.json`` (its ``rows`` are the eight-schools rows), their loss traces under ``draws/``.
"""
import dataclasses

from experiments.common import toys
from experiments.common.runner import Job, Outcome
from experiments.common.variants import DEFAULT

PREFIX = "modes/"  # the key of a variant group's job and of its rows in results.json's extra


@dataclasses.dataclass(frozen=True)
class Reference:
    """What the toy-targets run gives the ablations: its scale and its default rows by target."""

    scale: toys.Scale
    defaults: dict


def reference(run):
    """The toy-targets defaults of the same scale and seed; exits naming the command to run first if there are
    none (``toys.reference_results``)."""
    rows, _, scale = toys.reference_results(run)
    keys = {name: toys.mode_group(name, DEFAULT, scale).member_key(name) for name in toys.MODE_TARGETS}
    return Reference(scale, {name: rows[key] for name, key in keys.items() if key in rows})


def groups(scale):
    """Every two-mode target under every variant of ``toys.MODE_VARIANTS``, the defaults' R seeds each."""
    return [toys.mode_group(name, variant, scale) for name in toys.MODE_TARGETS for variant in toys.MODE_VARIANTS]


def train(group, scale, base_seed):
    """A job: ``toys.train_mode_group``, its rows kept apart from the eight-schools rows."""
    outcome = toys.train_mode_group(group, scale, base_seed)
    return Outcome(extra={PREFIX + group.key: list(outcome.rows)}, arrays=outcome.arrays)


def jobs(scale, base_seed):
    return [Job(PREFIX + g.key, train, (g, scale, base_seed), cost=g.cost) for g in groups(scale)]


def rows(run, scale):
    """The variants' rows, in the order of ``groups``."""
    return [run.cached_extra(PREFIX + g.key)[0] for g in groups(scale)]


def losses(run, scale):
    """``{group key: loss [steps, R]}`` of every variant's training."""
    return {g.key: toys.load_loss(g, run.draws) for g in groups(scale)}
