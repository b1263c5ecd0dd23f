"""Step time of ``vinf.fit`` against a hand-fused floor, and radial against planar, measured in one run.

Eight schools (non-centered), flows with K = 64 layers, S = 500 draws,
Adam. The floor is the same planar training written by hand as one XLA-compiled
function: stacked parameters, the eq. 64 correction computed once for all
layers, the layers unrolled, the same chunked loop and Adam update. Whatever
``vinf.fit`` spends above it is the price of the TFP bijector / distribution
machinery. ``vinf.fit`` on a radial surrogate of the same K, D and S is timed
beside it (eqs. 65-75).

The three are compiled first, then timed in ``--rounds`` rounds of ``--steps``
steps each, in turn (floor, planar, radial), so that a shared machine slows
them alike; each reported time is the median over rounds, and each ratio the
median of the within-round ratios.

    python benchmarks/step_time.py [--batch 1 5] [--steps 500] [--rounds 5] [--chunks 1] [--naive]

``--chunks N`` passes ``sample_chunks=N`` to ``vinf.fit``. ``--naive`` also
times a ``tfb.Chain`` of K ``Planar`` bijectors in a plain ``tf.function`` (no
XLA), the design the study's code resembles. Results are printed and written
to ``benchmarks/step_time.json``.
"""
import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

import vinf
from vinf.bijectors import Planar, planar_u_hat

tfb, tfd = tfp.bijectors, tfp.distributions
CHUNK = 250


def hand_fused_floor(target, num_flows, batch, sample_size):
    """A compiled chunk of Adam steps on a planar flow written without TFP."""
    dim, rng = target.dim, np.random.default_rng(0)
    shape = list(batch)

    def variable(*tail):
        return tf.Variable((0.01 * rng.standard_normal(shape + list(tail))).astype(np.float32))

    loc, log_scale, u, w, b = variable(dim), variable(dim), variable(num_flows, dim), variable(num_flows, dim), variable(num_flows)
    params = [loc, log_scale, u, w, b]
    slots = [(tf.Variable(tf.zeros_like(p)), tf.Variable(tf.zeros_like(p))) for p in params]
    t = tf.Variable(0.0)

    def loss_fn(eps):
        z = loc + tf.exp(log_scale) * eps
        log_q = tf.reduce_sum(-0.5 * tf.square(eps) - log_scale, -1) - 0.5 * dim * np.log(2 * np.pi)
        u_hat = planar_u_hat(u, w)
        w_u_hat = tf.reduce_sum(w * u_hat, -1)
        for k in range(num_flows):
            h = tf.tanh(tf.reduce_sum(z * w[..., k, :], -1) + b[..., k])
            log_q -= tf.math.log1p((1.0 - tf.square(h)) * w_u_hat[..., k])
            z = z + u_hat[..., k, :] * h[..., None]
        return tf.reduce_sum(tf.reduce_mean(log_q - target.log_prob(z), 0))

    @tf.function(jit_compile=True, autograph=False)
    def run(seed, num):
        def body(i):
            step_seed = tf.random.experimental.stateless_fold_in(seed, i)
            eps = tf.random.stateless_normal([sample_size] + shape + [dim], seed=step_seed)
            with tf.GradientTape() as tape:
                loss = loss_fn(eps)
            grads = tape.gradient(loss, params)
            tt = t.assign_add(1.0)
            lr = 1e-2 * tf.sqrt(1.0 - 0.999**tt) / (1.0 - 0.9**tt)
            for p, g, (m, v) in zip(params, grads, slots):
                m.assign(0.9 * m + 0.1 * g)
                v.assign(0.999 * v + 0.001 * tf.square(g))
                p.assign_sub(lr * m / (tf.sqrt(v) + 1e-8))
            return (i + 1,)

        return tf.while_loop(lambda i: i < num, body, (tf.constant(0),), maximum_iterations=CHUNK)

    def train(steps, seed):
        for start in range(0, steps, CHUNK):
            run(tf.constant([seed, start], tf.int32), tf.constant(min(CHUNK, steps - start)))

    return train


def naive_chain(target, num_flows, sample_size):
    """K ``Planar`` bijectors in a ``tfb.Chain``, one graph-mode ``tf.function`` step, no XLA."""
    rng = np.random.default_rng(0)
    dim = target.dim
    variables = [tf.Variable((0.01 * rng.standard_normal(s)).astype(np.float32)) for s in ([dim], [dim])]
    layers = []
    for _ in range(num_flows):
        u, w, b = (tf.Variable((0.01 * rng.standard_normal(s)).astype(np.float32)) for s in ([dim], [dim], []))
        layers.append(Planar(u, w, b))
        variables += [u, w, b]
    base = tfd.MultivariateNormalDiag(variables[0], tfp.util.DeferredTensor(variables[1], tf.exp))
    q = tfd.TransformedDistribution(base, tfb.Chain(layers[::-1]))
    optimizer = tf.keras.optimizers.Adam(1e-2) if hasattr(tf.keras.optimizers, "Adam") else None

    @tf.function(autograph=False)
    def step(seed):
        with tf.GradientTape() as tape:
            z, log_q = q.experimental_sample_and_log_prob(sample_size, seed=seed)
            loss = tf.reduce_mean(log_q - target.log_prob(z))
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables))
        return loss

    def train(steps, seed):
        for i in range(steps):
            step(tf.constant([seed, i], tf.int32))

    return train


def vinf_fit(target, family, num_flows, batch, sample_size, chunks):
    q = vinf.surrogates.get(family, target.dim, num_flows=num_flows, seed=0, batch_shape=batch)

    def train(steps, seed):
        vinf.fit(target.log_prob, q, num_steps=steps, sample_size=sample_size, seed=seed, progress=False,
                 sample_chunks=chunks)

    return train


def compiled(train, warmup):
    """Seconds of the first ``warmup`` steps, which compile."""
    started = time.perf_counter()
    train(warmup, 0)
    return time.perf_counter() - started


def interleaved(trains, steps, rounds):
    """Milliseconds per step of each train, one list over rounds, the trains run in turn in every round."""
    times = {name: [] for name in trains}
    for i in range(rounds):
        for name, train in trains.items():
            started = time.perf_counter()
            train(steps, i + 1)
            times[name].append((time.perf_counter() - started) / steps * 1e3)
    return {name: np.array(ms) for name, ms in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 5], help="batch sizes R to time")
    parser.add_argument("--steps", type=int, default=500, help="steps per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--flows", type=int, default=64)
    parser.add_argument("--chunks", type=int, default=1, help="sample_chunks of vinf.fit")
    parser.add_argument("--naive", action="store_true", help="also time a Chain of Planar bijectors without XLA")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("step_time.json"))
    args = parser.parse_args()
    target = vinf.targets.eight_schools(centered=False)
    rows = []
    for r in args.batch:
        batch = [] if r == 1 else [r]
        trains = {
            "floor": hand_fused_floor(target, args.flows, batch, 500),
            "fit": vinf_fit(target, "planar", args.flows, batch, 500, args.chunks),
            "radial_fit": vinf_fit(target, "radial", args.flows, batch, 500, args.chunks),
        }
        compile_seconds = {name: compiled(train, CHUNK) for name, train in trains.items()}
        ms = interleaved(trains, args.steps, args.rounds)
        row = dict(batch=r, **{f"{name}_ms": float(np.median(t)) for name, t in ms.items()},
                   ratio=float(np.median(ms["fit"] / ms["floor"])),
                   radial_over_planar=float(np.median(ms["radial_fit"] / ms["fit"])),
                   **{f"{name}_compile_s": s for name, s in compile_seconds.items()})
        rows.append(row)
        print(f"R={r}: hand-fused floor {row['floor_ms']:.2f} ms/step; vinf.fit planar {row['fit_ms']:.2f} ms/step "
              f"(x{row['ratio']:.2f} the floor); radial {row['radial_fit_ms']:.2f} ms/step "
              f"(x{row['radial_over_planar']:.2f} planar); medians of {args.rounds} rounds", flush=True)
    result = dict(target="eight_schools non-centered", num_flows=args.flows, sample_size=500, steps=args.steps,
                  rounds=args.rounds, sample_chunks=args.chunks,
                  machine=f"{platform.machine()}, {tf.config.threading.get_intra_op_parallelism_threads() or 'default'} intra-op threads",
                  rows=rows)
    if args.naive:
        naive = naive_chain(target, args.flows, 500)
        compiled(naive, 5)
        naive_ms = float(np.median(interleaved({"naive": naive}, min(args.steps, 300), 1)["naive"]))
        result["naive_chain_ms"] = naive_ms
        print(f"naive tfb.Chain of {args.flows} Planar bijectors, tf.function without XLA: {naive_ms:.2f} ms/step; "
              f"vinf.fit (R=1) is {naive_ms / rows[0]['fit_ms']:.1f}x faster")
    args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
