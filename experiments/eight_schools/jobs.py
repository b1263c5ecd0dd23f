"""The eight-schools experiment's work: every row of Tables II-V on both targets, and the NUTS baselines."""
from experiments.common.schools import Spec, nuts_jobs, training_jobs


def table_specs(scale):
    """Every row of Tables II-V, on both targets: the thesis's methods (radial flows, which the study
    trained but did not report, are ``python -m experiments.beyond``'s)."""
    specs = []
    for compat in (True, False):
        for centered in (True, False):
            specs.append(Spec("II", "mean_field", centered, 8, 0, compat))
            specs.append(Spec("III", "planar", centered, 8, scale.deep, compat))
            specs.append(Spec("IV", "planar", centered, 1, scale.deep, compat))
        for depth in scale.depths:
            specs.append(Spec("V", "planar", True, 2, depth, compat))
    return specs


def make_jobs(scale, specs, seed):
    """Every group's training, and the NUTS baselines."""
    return training_jobs(scale, specs, seed) + nuts_jobs(scale, seed)
