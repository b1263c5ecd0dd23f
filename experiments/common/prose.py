"""The words the reports share: counts and shares, the banner of a reduced-scale run, a figure's note.

``quick_banner`` opens the report of a ``--quick`` run: its numbers come from
a reduced scale, so the report says so first and judges no agreement with the
thesis; a figure's ``Note`` keeps what was measured apart from how it stands
against the study, so a quick report can leave the second out.
"""
import dataclasses

__all__ = ["plural", "percent", "quick_banner", "Note"]


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
