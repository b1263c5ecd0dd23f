"""The experiments, in the thesis's order: what ``python -m experiments`` runs and the report assembles.

Each entry names a package ``experiments.NAME`` (its ``EXPERIMENT``), the title
of its section in the report, whether it is part of the reproduction (``python
-m experiments`` runs those, one after the other) or a further command timed
apart, and which experiment's results it builds on. Read by ``__main__`` and
``report`` only: experiments never import each other.
"""
import dataclasses
import importlib

__all__ = ["Entry", "EXPERIMENTS", "REPRODUCTION", "FURTHER", "load"]


@dataclasses.dataclass(frozen=True)
class Entry:
    name: str
    title: str
    reproduction: bool = True  # run by ``python -m experiments``
    builds_on: tuple = ()  # experiments whose full results it reads


EXPERIMENTS = (
    Entry("mean_field", "Mean field: CAVI and ADVI (section II, III; Figures 2-7)"),
    Entry("flow_geometry", "Normalizing flows: geometry (section IV; Figures 8-16)"),
    Entry("toy_targets", "Demonstrative targets (section VI.A; Figures 17-35)"),
    Entry("eight_schools", "The eight-schools model (section VI.B; Tables I-V, Figures 37-48)"),
    Entry("ablations", "Our departures from the study, switched off (eight schools and the toy targets' mode study)",
          False, ("eight_schools", "toy_targets")),
    Entry("beyond", "Beyond the study: the flows its discussion asked for (Table VI)", False, ("eight_schools",)),
    Entry("gym", "Beyond eight schools: the Inference Gym, against its ground truth", False),
)
REPRODUCTION = tuple(e.name for e in EXPERIMENTS if e.reproduction)
FURTHER = tuple(e.name for e in EXPERIMENTS if not e.reproduction)


def load(name):
    """The ``Experiment`` of ``experiments.NAME``."""
    return importlib.import_module(f"experiments.{name}.experiment").EXPERIMENT
