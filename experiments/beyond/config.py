"""The beyond-the-study experiment's scales, its ways of training and the families of Table VI."""
import dataclasses

from experiments.common import schools
from experiments.common.variants import DEFAULT, Variant

NAME = "beyond"


@dataclasses.dataclass(frozen=True)
class NpeScale:
    """Amortised inference (``vinf.npe``, experiments/beyond/npe_jobs.py): per parameterisation, R (the
    protocol's) conditional MAFs trained on the prior predictive, scored at Table I's y, checked by SBC."""

    num_flows: int = 4  # MAF layers
    hidden_units: tuple = (64, 64)  # each layer's MADE network
    learning_rate: float = 1e-3
    noncentered: tuple = (20000, 256)  # (Adam steps, simulations a step)
    centered: tuple = (30000, 512)  # the funnel needs more of both
    sbc_datasets: int = 200
    sbc_draws: int = 99
    sbc_bins: int = 10


NPE_FULL = NpeScale()
NPE_QUICK = NpeScale(2, (32, 32), 1e-3, (400, 256), (400, 256), 20, 99, 4)


@dataclasses.dataclass(frozen=True)
class Scale:
    protocol: schools.Scale  # trainings, steps, draws: the study's (Tables II-V)
    neural_layers: int  # layers of the IAF and RealNVP flows
    spline_layers: int  # layers of the spline flow (a spline layer costs several affine ones)
    deep_depths: tuple  # Table V's tanh rows rerun or extended, on the study's target, with gradient norms
    leaky_depths: tuple  # depths of the leaky-ReLU planar sweep
    small_lr_depths: tuple  # depths also trained at SMALL_LR
    norm_depths: tuple  # depths whose per-layer gradient norms are recorded
    npe: NpeScale = NPE_FULL  # amortised inference (NPE)


FULL = Scale(schools.FULL, 4, 2, (128, 256), (10, 40, 128, 256), (128, 256), (128, 256))
QUICK = Scale(schools.QUICK, 2, 1, (4, 8), (2, 8), (8,), (8,), NPE_QUICK)

SMALL_LR = 3e-3
HIDDEN = (32, 32)  # the neural flows' networks: two hidden layers of 32 units
# Ways of training beyond the study's (each a row's "variant").
LEAKY_RELU = Variant.of("leaky_relu", surrogate=dict(activation="leaky_relu"))  # planar h = leaky ReLU, not tanh
SLOW = Variant.of("lr_3e-3", fit=dict(learning_rate=SMALL_LR))
STL_GRADIENT = Variant.of("stl", fit=dict(gradient="stl"))  # sticking the landing (Roeder et al. 2017)
NET32 = Variant.of("net32", surrogate=dict(hidden_units=HIDDEN))  # neural flows, at the study's learning rate
NET32_STL = Variant.of("net32_stl", surrogate=dict(hidden_units=HIDDEN), fit=dict(gradient="stl"))
# The IAF in the model's hierarchical order (mu, log tau, then the schools): the mif's order without its prior
# inputs, so that the report can say which of the two does the work (coordinates of vinf.targets.eight_schools)
HYPER_FIRST = Variant.of("net32_hyper_first", surrogate=dict(hidden_units=HIDDEN, order=(8, 9, *range(8))))
MIF_LAYERS = 2  # model-informed layers (vinf.surrogates.mif)

# Table VI: (family label, method, K: an int, "deep" for Tables III-IV's or "neural"/"spline" for the
# scale's layers, variant)
FAMILIES = (
    ("ADVI (mean field)", "mean_field", 0, DEFAULT),
    ("full rank", "full_rank", 0, DEFAULT),
    ("planar (tanh)", "planar", "deep", DEFAULT),
    ("planar (leaky ReLU)", "planar", "deep", LEAKY_RELU),
    ("radial", "radial", "deep", DEFAULT),
    ("IAF", "iaf", "neural", NET32),
    ("IAF, hyperparameters first", "iaf", "neural", HYPER_FIRST),
    ("model-informed (MIF)", "mif", "mif", DEFAULT),
    ("RealNVP", "realnvp", "neural", NET32),
    ("spline", "spline", "spline", NET32),
)
NEURAL = {"iaf", "realnvp", "spline"}  # trained on the true model only (the report gives their step costs)
MOONSHOT_FAMILY = "model-informed (MIF)"  # the family built for the funnel (issue 17), whose draws get a figure
FROM_EIGHT_SCHOOLS = {("mean_field", "default"): "II", ("planar", "default"): "III"}  # rows of that run
TRAINED_AS = {("radial", "default"): "III"}  # Table VI rows trained here, keyed as rows of that thesis table
# Sticking the landing beside the plain gradient: the Gaussian families, and one neural flow whose inverse is
# one pass (STL evaluates log q off the draws; planar has no inverse, an IAF's costs a pass per coordinate).
STL = (("mean_field", 0, STL_GRADIENT), ("full_rank", 0, STL_GRADIENT), ("realnvp", "neural", NET32_STL))
STL_PLAIN = {"stl": "default", "net32_stl": "net32"}  # the plain-gradient variant each STL row is set beside
LABELS = {(m, v.name): label for label, m, _, v in FAMILIES} | {
    ("mean_field", "stl"): "ADVI (mean field), STL", ("full_rank", "stl"): "full rank, STL",
    ("realnvp", "net32_stl"): "RealNVP, STL"}


def depth(scale, k):
    """A Table VI K: an int, or the scale's "deep" (Tables III-IV), "neural" or "spline" depth."""
    return {"deep": scale.protocol.deep, "neural": scale.neural_layers, "spline": scale.spline_layers,
            "mif": MIF_LAYERS}.get(k, k)


VARIANTS = {v.name: v for v in (DEFAULT, LEAKY_RELU, SLOW, STL_GRADIENT, NET32, NET32_STL, HYPER_FIRST)}
