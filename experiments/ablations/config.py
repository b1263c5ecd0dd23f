"""The ablations' scales: the eight-schools protocol's, whose rows are the defaults they are set beside."""
from experiments.common.schools import FULL, QUICK  # noqa: F401  (the protocol's scales)

NAME = "ablations"
