"""One training step of a planar flow in vinf, Pyro and normflows, timed in one run.

The step is the one of thesis Algorithm 1 at the study's settings: eight schools,
non-centered, the true model (``vinf.targets.eight_schools(centered=False)``,
D = 10), a diagonal Gaussian base and K = 64 planar layers (eqs. 60-64),
S = 500 draws, the ELBO's reparameterised gradient, Adam with learning rate 1e-2.

- vinf: ``vinf.fit`` on ``vinf.surrogates.planar``.
- Pyro: ``pyro.distributions.transforms.Planar`` layers in a
  ``pyro.distributions.TransformedDistribution``, trained by a plain torch loop
  (``rsample``, then ``log_prob`` of the draws, which Pyro's transform cache
  scores without an inverse; no SVI, so no Pyro tracing is timed).
- normflows: ``normflows.flows.Planar`` layers in a ``normflows.NormalizingFlow``
  with a ``DiagGaussian`` base, trained by a plain torch loop on ``reverse_kld``.

The torch peers score the draws with ``eight_schools_log_prob`` below, the same
formula as ``vinf.targets.eight_schools`` (checked on random points first). Each library first trains for
``--train`` steps (which also warms up compilation and caches) and its ELBO is
checked to be finite and below log p(y), so that a working step is timed.
Then rounds of ``--steps`` steps of vinf, Pyro, normflows, in turn, are timed;
the medians over ``--rounds`` rounds are reported, and ratios are taken
within each round, since the machine may be shared.

torch runs on ``--torch-threads`` threads, 1 by default: at these sizes
([500, 10] tensors) a second thread gains nothing, and on a machine whose cores
are busy torch's OpenMP barriers then stall each op (measured here with two
threads under load: Pyro 1.7-3 s per step instead of 24 ms).

    pip install -e ".[bench]"
    python benchmarks/peers.py

Results are printed and written to ``benchmarks/peers.json``.
"""
import argparse
import json
import math
import os
import platform
import time
from pathlib import Path

import normflows
import numpy as np
import pyro
import pyro.distributions as pdist
import tensorflow as tf
import tensorflow_probability as tfp
import torch

import vinf
from vinf.targets import EIGHT_SCHOOLS_SIGMA, EIGHT_SCHOOLS_Y

NUM_FLOWS, SAMPLE_SIZE, LEARNING_RATE = 64, 500, 1e-2
PRIOR_SCALE = 5.0  # mu ~ N(0, 5^2), tau ~ Half-Cauchy(0, 5) (eq. 92)
ELBO_DRAWS = 5000


def eight_schools_log_prob(z):
    """Non-centered eight schools (eqs. 92, 95, 100) over ``z = (theta_tilde, mu, log tau)``, in torch."""
    y, sigma = torch.tensor(EIGHT_SCHOOLS_Y), torch.tensor(EIGHT_SCHOOLS_SIGMA)
    theta_tilde, mu, log_tau = z[..., :-2], z[..., -2], z[..., -1]
    tau = torch.exp(log_tau)
    theta = mu[..., None] + tau[..., None] * theta_tilde
    normal = torch.distributions.Normal
    return (
        (normal(theta, sigma).log_prob(y) + normal(0.0, 1.0).log_prob(theta_tilde)).sum(-1)
        + normal(0.0, PRIOR_SCALE).log_prob(mu)
        + math.log(2.0 / math.pi) - math.log(PRIOR_SCALE) - torch.log1p((tau / PRIOR_SCALE) ** 2)
        + log_tau
    )


def torch_trainer(parameters, loss_fn, elbo_fn):
    """``train(steps)`` with Adam on ``loss_fn() = -ELBO estimate``, and ``elbo()``."""
    optimizer = torch.optim.Adam(parameters, lr=LEARNING_RATE)

    def train(steps):
        for _ in range(steps):
            optimizer.zero_grad()
            loss_fn().backward()
            optimizer.step()

    def elbo():
        with torch.no_grad():
            return float(elbo_fn())

    return train, elbo


def pyro_planar(target_log_prob, dim):
    loc, log_scale = torch.zeros(dim, requires_grad=True), torch.zeros(dim, requires_grad=True)
    flows = [pdist.transforms.Planar(dim) for _ in range(NUM_FLOWS)]

    def q():
        base = pdist.Normal(loc, torch.exp(log_scale)).to_event(1)
        return pdist.TransformedDistribution(base, flows)

    def neg_elbo(num_draws=SAMPLE_SIZE):
        flow = q()
        z = flow.rsample((num_draws,))
        return (flow.log_prob(z) - target_log_prob(z)).mean()

    parameters = [loc, log_scale] + [p for f in flows for p in f.parameters()]
    return torch_trainer(parameters, neg_elbo, lambda: -neg_elbo(ELBO_DRAWS))


class _NormflowsTarget(normflows.distributions.Target):
    def __init__(self, log_prob):
        super().__init__()
        self._log_prob = log_prob

    def log_prob(self, z):
        return self._log_prob(z)


def normflows_planar(target_log_prob, dim):
    model = normflows.NormalizingFlow(
        q0=normflows.distributions.DiagGaussian(dim),
        flows=[normflows.flows.Planar((dim,)) for _ in range(NUM_FLOWS)],
        p=_NormflowsTarget(target_log_prob),
    )
    return torch_trainer(
        model.parameters(), lambda: model.reverse_kld(SAMPLE_SIZE), lambda: -model.reverse_kld(ELBO_DRAWS)
    )


def vinf_planar(target):
    q = vinf.surrogates.planar(target.dim, num_flows=NUM_FLOWS, seed=0)
    seeds = iter(range(1, 1 << 30))

    def train(steps):
        vinf.fit(target.log_prob, q, num_steps=steps, sample_size=SAMPLE_SIZE,
                 learning_rate=LEARNING_RATE, seed=next(seeds), progress=False)

    return train, lambda: float(vinf.diagnostics.elbo(target.log_prob, q, num_samples=ELBO_DRAWS, seed=0))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=1000, help="steps of training (and warm-up) before timing")
    parser.add_argument("--rounds", type=int, default=7, help="rounds of timing, each library once per round")
    parser.add_argument("--steps", type=int, default=100, help="torch steps timed per round (vinf: 5x as many)")
    parser.add_argument("--torch-threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("peers.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.torch_threads)
    torch.manual_seed(0)
    pyro.set_rng_seed(0)
    target = vinf.targets.eight_schools(centered=False)
    z = np.random.default_rng(0).normal(scale=2.0, size=(100, target.dim))
    np.testing.assert_allclose(eight_schools_log_prob(torch.tensor(z)).numpy(), target.log_prob(tf.constant(z)), rtol=1e-6)
    log_evidence = target.log_evidence()
    libraries = {
        "vinf": (vinf_planar(target), 5 * args.steps),  # more steps: each is ~20x shorter
        "pyro": (pyro_planar(eight_schools_log_prob, target.dim), args.steps),
        "normflows": (normflows_planar(eight_schools_log_prob, target.dim), args.steps),
    }
    elbos = {}
    for name, ((train, elbo), _) in libraries.items():
        train(args.train)
        elbos[name] = elbo()
        print(f"{name}: ELBO after {args.train} steps {elbos[name]:.2f} (log p(y) = {log_evidence:.2f})", flush=True)
        if not (np.isfinite(elbos[name]) and elbos[name] < log_evidence):
            raise SystemExit(f"{name}: ELBO {elbos[name]} is not finite and below log p(y); not timing a broken step")
    times = {name: [] for name in libraries}
    for _ in range(args.rounds):
        for name, ((train, _), steps) in libraries.items():
            started = time.perf_counter()
            train(steps)
            times[name].append((time.perf_counter() - started) / steps * 1e3)
    vinf_ms = np.array(times["vinf"])
    result = {
        "ms_per_step": {name: float(np.median(ms)) for name, ms in times.items()},
        "ratio": {f"{name}_over_vinf": float(np.median(np.array(ms) / vinf_ms))
                  for name, ms in times.items() if name != "vinf"},
        "settings": {
            "target": "eight_schools non-centered, true model (J = 8, D = 10)",
            "num_flows": NUM_FLOWS, "sample_size": SAMPLE_SIZE, "optimizer": f"Adam, lr {LEARNING_RATE}",
            "pyro_training": "plain torch loop: rsample, log_prob of the draws, Adam (no SVI)",
            "normflows_training": "plain torch loop on NormalizingFlow.reverse_kld, Adam",
            "train_steps_before_timing": args.train, "rounds": args.rounds,
            "steps_per_round": {name: steps for name, (_, steps) in libraries.items()},
            "statistic": "median over rounds; ratios are medians of within-round ratios",
            "elbo_after_training": elbos, "log_evidence": log_evidence,
        },
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                   f"torch threads {torch.get_num_threads()}, TensorFlow intra-op threads "
                   f"{tf.config.threading.get_intra_op_parallelism_threads() or 'default'}",
        "versions": {"python": platform.python_version(), "vinf": vinf.__version__, "tensorflow": tf.__version__,
                     "tensorflow_probability": tfp.__version__, "torch": torch.__version__,
                     "pyro": pyro.__version__, "normflows": normflows.__version__},
        "ms_per_step_by_round": times,
    }
    for name, ms in result["ms_per_step"].items():
        print(f"{name}: {ms:.2f} ms/step (median of {args.rounds} rounds)")
    print("; ".join(f"{k} {v:.1f}" for k, v in result["ratio"].items()))
    args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
