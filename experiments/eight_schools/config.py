"""The eight-schools experiment's scales: the thesis's (``FULL``) and a reduced one (``QUICK``)."""
from experiments.common.schools import EIGHT_SCHOOLS, FULL, QUICK  # noqa: F401  (the protocol's scales)

NAME = EIGHT_SCHOOLS

TABLE_TITLES = {
    "II": "Table II: mean-field ADVI, eight schools",
    "III": "Table III: ADVI + flows, eight schools",
    "IV": "Table IV: ADVI + flows, first school only",
    "V": "Table V: ADVI + flows by depth, first two schools, centered",
}
