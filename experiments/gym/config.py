"""The Inference Gym experiment's targets, families, budgets and scales.

Every family trains on a target under the same budget (steps, draws a step S,
learning rate), stated with the target: the comparison between families is a
fair one. The families are those of ``vinf.surrogates`` by name, planar at two
depths; their networks are small (two hidden layers of ``HIDDEN`` units), so
that a 501-dimensional target stays within reach. The model-informed flow reads
the model's hierarchy, which the targets whose models have one carry
(``target.hierarchy``); on the others it is refused before any work.
"""
import dataclasses

NAME = "gym"
HIDDEN = (32, 32)  # the neural flows' networks


@dataclasses.dataclass(frozen=True)
class GymTarget:
    """An offline Inference Gym model (``vinf.targets.gym_names()``) and the budget every family gets on it."""

    name: str
    steps: int
    sample_size: int
    learning_rate: float = 1e-2
    jit_compile: bool = True  # XLA slows the Cholesky-based models 30-fold on a CPU (vinf.targets.gym)


@dataclasses.dataclass(frozen=True)
class Family:
    """A family of ``vinf.surrogates`` with its options, and its cost per draw and step in flops-like units
    (``cost(dim)``), from which a job's time is estimated before any work."""

    label: str
    name: str
    options: tuple = ()  # (option, value) pairs

    @property
    def surrogate_options(self):
        return dict(self.options)

    def work(self, dim):
        """Multiply-adds per draw and step, forward pass (the backward pass is about twice)."""
        opts = self.surrogate_options
        hidden = opts.get("hidden_units", HIDDEN)
        net = lambda n_in, n_out: n_in * hidden[0] + hidden[0] * hidden[-1] + hidden[-1] * n_out  # noqa: E731
        layers = opts.get("num_flows", 0)
        return {
            "mean_field": lambda: dim,
            "full_rank": lambda: dim * dim,
            "planar": lambda: 3 * layers * dim,
            "radial": lambda: 3 * layers * dim,
            "iaf": lambda: layers * net(dim, 2 * dim),
            "realnvp": lambda: layers * net(dim // 2, 2 * (dim - dim // 2)),
            "spline": lambda: layers * net(dim // 2, (dim - dim // 2) * (3 * opts.get("num_bins", 8) - 1)),
            "mif": lambda: layers * (dim * dim + 4 * dim),  # the full-rank noise, then the prior's shift and scale
        }[self.name]()


def _family(label, name, **options):
    return Family(label, name, tuple(sorted(options.items())))


MODEL_INFORMED = "model-informed (MIF)"  # the family built for hierarchical models (Table VI's moonshot)
FAMILIES = (
    _family("ADVI (mean field)", "mean_field"),
    _family("full rank", "full_rank"),
    _family("planar K=16", "planar", num_flows=16),
    _family("planar K=64", "planar", num_flows=64),
    _family("radial K=32", "radial", num_flows=32),
    _family("IAF", "iaf", num_flows=4, hidden_units=HIDDEN),
    _family("RealNVP", "realnvp", num_flows=4, hidden_units=HIDDEN),
    _family("spline", "spline", num_flows=2, hidden_units=HIDDEN, num_bins=8),
    _family(MODEL_INFORMED, "mif", num_flows=2),  # on the targets with a hierarchy (vinf.targets.gym)
)
FLOWS = tuple(f.label for f in FAMILIES if f.name not in ("mean_field", "full_rank"))
DEPTHS = ("planar K=16", "planar K=64")  # the depth question: the same family at two depths
BASELINE = "ADVI (mean field)"


@dataclasses.dataclass(frozen=True)
class Scale:
    targets: tuple  # GymTarget
    num_runs: int  # R trainings of each family on each target, trained together as one batched surrogate
    eval_draws: int  # draws per training for the ELBO, both k-hats and the moments
    max_job_work: float  # a job above this much work (FAMILIES' units x steps x S x R) is refused before it starts
    step_factor: float = 1.0  # quick runs: a fraction of each target's steps
    families: tuple = tuple(f.label for f in FAMILIES)  # which of FAMILIES run

    def steps(self, target):
        return max(1, int(target.steps * self.step_factor))


# The offline models with ground truth, by the gym's class names (vinf.targets.gym_names(); the 2519-dimensional
# stochastic-volatility models, the vectorized twins of the small one and the plasma-spectroscopy models, which
# have no ground truth and take seconds per evaluation, are left out, as the report says).
TARGETS = (
    GymTarget("Banana", 3000, 256),
    GymTarget("NealsFunnel", 3000, 256),
    GymTarget("NonIdentifiableQuarticMeasurementModel", 3000, 256),
    GymTarget("EightSchools", 3000, 256),
    GymTarget("BrownianMotionMissingMiddleObservations", 2000, 128),
    GymTarget("BrownianMotionUnknownScalesMissingMiddleObservations", 2000, 128),
    GymTarget("ConvectionLorenzBridge", 2000, 128),
    GymTarget("IllConditionedGaussian", 2000, 128, jit_compile=False),
    GymTarget("StochasticVolatilitySP500Small", 2000, 128),
    # the two whose own density costs most per point (vinf.targets.gym: ~0.7 ms each): fewer steps and draws
    GymTarget("SyntheticLogGaussianCoxProcess", 1000, 32, jit_compile=False),
    GymTarget("SyntheticItemResponseTheory", 1000, 32),
)
LEFT_OUT = {
    "StochasticVolatilitySP500, VectorizedStochasticVolatility(Log)SP500": "2519 dimensions: beyond this budget",
    "VectorizedStochasticVolatility(Log)SP500Small": "the same posterior as StochasticVolatilitySP500Small",
    "ConvectionLorenzBridgeUnknownScales": "a variant of ConvectionLorenzBridge",
    "SyntheticPlasmaSpectroscopy(WithBump)": "no ground truth, and 1-6 s per evaluation of 500 points",
    "GermanCredit*, Radon*": "need TensorFlow Datasets and a download",
}

# A job above 1e11 units (about 3e11 flops: tens of minutes of one core here) is refused before it starts.
FULL = Scale(TARGETS, num_runs=3, eval_draws=5000, max_job_work=1e11)
QUICK = Scale(tuple(t for t in TARGETS if t.name in ("Banana", "EightSchools")), num_runs=2, eval_draws=500,
              max_job_work=1e11, step_factor=0.05)
