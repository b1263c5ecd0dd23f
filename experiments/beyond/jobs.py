"""The beyond-the-study experiment's trainings: Table VI's rows, the depth sweep and the STL rows."""
import numpy as np

from experiments.beyond.config import FAMILIES, FROM_EIGHT_SCHOOLS, LEAKY_RELU, NEURAL, SLOW, STL, TRAINED_AS, depth
from experiments.common.schools import Spec, training_jobs


def table6_specs(scale):
    """The rows Table VI trains here (the study's families come from the eight-schools run)."""
    specs = []
    for _, method, k, variant in FAMILIES + tuple((None, m, k, v) for m, k, v in STL):
        if (method, variant.name) in FROM_EIGHT_SCHOOLS | TRAINED_AS:
            continue
        for compat in (False,) if method in NEURAL else (True, False):
            for centered in (True, False):
                specs.append(Spec("VI", method, centered, 8, depth(scale, k), compat, variant))
    return specs


def radial_specs(scale):
    """The radial row of Table VI: radial flows (which the study trained and did not report) on eight schools,
    K of Table III, centered and not, on both targets; keyed as the reproduction's radial column of Table III was
    (the same seeds). The depth question is planar's (``depth_specs``)."""
    p = scale.protocol
    return [Spec("III", "radial", centered, 8, p.deep, compat) for compat in (True, False) for centered in (True, False)]


def depth_specs(scale):
    """The depth question: Table V's centered two-school rows, deeper, with leaky ReLU and at 3e-3."""
    specs = [Spec("V", "planar", True, 2, k, True) for k in scale.deep_depths]
    specs += [Spec("V", "planar", True, 2, k, True, LEAKY_RELU) for k in scale.leaky_depths]
    specs += [Spec("V", "planar", True, 2, k, True, SLOW) for k in scale.small_lr_depths]
    return specs


def make_jobs(scale, seed):
    norm = [s for s in depth_specs(scale) if s.num_flows in scale.norm_depths]
    plain = [s for s in depth_specs(scale) if s.num_flows not in scale.norm_depths]
    # Beyond the study's settings a family or depth that diverges in every attempt is an answer, not a crash.
    return (training_jobs(scale.protocol, table6_specs(scale) + radial_specs(scale) + plain, seed,
                          divergence_is_a_result=True)
            + training_jobs(scale.protocol, norm, seed, gradient_norms=True, divergence_is_a_result=True))


def parameter_count(method, num_flows, variant, num_schools=8):
    """Trainable numbers of one surrogate of the row's family."""
    q = Spec("VI", method, True, num_schools, num_flows, False, variant).surrogate(1, 0)
    q.sample(1, seed=(0, 0))  # builds lazily created variables
    return sum(int(np.prod(v.shape)) for v in {v.ref(): v for v in q.trainable_variables}.values())


def depth_rows(rows, variant, compat=True, method="planar"):
    return sorted((r for r in rows if r["table"] == "V" and r.get("variant", "default") == variant
                   and r["method"] == method and r["thesis_compat"] == compat), key=lambda r: r["num_flows"])


def tanh_series(own, baseline):
    """Planar tanh on the study's two-school centered target by depth: Table V's rows, the ones rerun here
    (with gradient norms) in place of theirs."""
    rerun = {r["num_flows"]: r for r in depth_rows(own, "default")}
    return sorted([r for r in depth_rows(baseline, "default") if r["num_flows"] not in rerun] + list(rerun.values()),
                  key=lambda r: r["num_flows"])
