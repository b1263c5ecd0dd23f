"""Where the experiments write: the repository's ``figures/`` (full scale) and ``runs/quick/`` (reduced scale).

Read these names through the module (``paths.FIGURES``), not by importing them:
the tests point ``REPO`` at a scratch folder.
"""
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIGURES = REPO / "figures"
MANIFEST = FIGURES / "manifest.json"
TIMINGS = FIGURES / "timings.json"


def quick_folder(name):
    """The default output folder of ``python -m experiments.NAME --quick``."""
    return REPO / "runs" / "quick" / name
