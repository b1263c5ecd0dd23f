"""Where a run stands against the study: our departures from its choices as switches, and the banner of a
reduced-scale run.

``VARIANTS`` names each departure of ours that a number can depend on, as the
surrogate's and the fit's options that restore the study's choice (thesis
section V): the planar ``w`` starting at sd 1e-2 (ours: ``1/sqrt(D)``) and the
checkpoint at the lowest single-step loss (ours: the lowest moving average).
Rows trained under one carry its name in ``"variant"`` (``"default"`` for ours).

``quick_banner`` opens the report of a ``--quick`` run: its numbers come from
a reduced scale, so the report says so first and judges no agreement with the
thesis; a figure's ``Note`` keeps what was measured apart from how it stands
against the study, so a quick report can leave the second out.
"""
import dataclasses

VARIANTS = {
    "default": dict(surrogate={}, fit={}),
    "thesis_init": dict(surrogate=dict(w_scale=1e-2), fit={}),  # planar w at sd 1e-2 (thesis section V)
    "thesis_checkpoint": dict(surrogate={}, fit=dict(checkpoint="lowest")),  # the best single-step loss
    "thesis_all": dict(surrogate=dict(w_scale=1e-2), fit=dict(checkpoint="lowest")),
}


def plural(n, word, many=None):
    """``1 seed``, ``2 seeds`` (``many``: an irregular plural)."""
    return f"{n} {word if n == 1 else many or word + 's'}"


def percent(share, digits=1):
    """``0.123`` as ``12.3 %``."""
    return f"{100 * share:.{digits}f} %"


def quick_banner(run, details):
    """The first paragraph of a quick run's report: the reduced scale (``details``) and that nothing is judged."""
    return (f"**Quick run, reduced scale** ({details}): these numbers are not comparable with the thesis's, and this "
            f"report judges no agreement with it. `python -m experiments.{run.name}` runs the thesis's scale.\n")


@dataclasses.dataclass(frozen=True)
class Note:
    """A figure's note: what we measured, and how it stands against the study (left out of quick runs)."""

    measured: str
    study: str = ""

    def text(self, quick):
        return self.measured if quick or not self.study else f"{self.measured} {self.study}"
