"""The mean-field experiment's scales (the thesis's ``FULL`` and a reduced ``QUICK``) and its two posteriors."""
import dataclasses

NAME = "mean_field"
SAMPLE_SIZE = 500  # S of eq. 51, as in the thesis
LEARNING_RATE = 1e-2
BIMODAL = dict(weights=(0.6, 0.4), locs=(-1.5, 1.5), scales=(0.6, 0.8))  # Figure 2's posterior
CORRELATED = dict(loc=(1.0, 0.5), cov=((2.0, 1.2), (1.2, 1.0)))  # Figure 3's posterior, correlation 0.85


@dataclasses.dataclass(frozen=True)
class Scale:
    num_steps: int  # Adam steps of every ADVI fit
    num_runs: int  # independent trainings of Figures 2-3 (one batched surrogate)
    num_restarts: int  # starts of mean-field ADVI on the mixture (Figure 7)
    elbo_draws: int  # draws of the final ELBO estimates
    optimum_starts: int = 16  # starts of the best diagonal Gaussian by quadrature beside Figure 7


FULL = Scale(num_steps=10000, num_runs=5, num_restarts=8, elbo_draws=100_000)
QUICK = Scale(num_steps=1500, num_runs=4, num_restarts=3, elbo_draws=10_000)
