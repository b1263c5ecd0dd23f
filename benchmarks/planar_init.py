"""How reliably planar flows train from two initialisations of ``w``.

The thesis draws every raw parameter from N(0, 1e-2^2); ``vinf.surrogates.planar``
draws ``w`` from N(0, 1/D) instead (its docstring says why). This script trains
both on the eight-schools target with ``--schools`` schools, centred and
non-centred side by side (5 surrogates each, one batched fit per seed), at the
study's settings (K = 64, S = 500, Adam 1e-2) for ``--steps`` steps, and counts
the fits that stop on a non-finite loss and the spread of the ELBOs.

    python benchmarks/planar_init.py [--schools 1] [--steps 3000] [--seeds 6]

Results are printed and written to ``benchmarks/planar_init.json``.
"""
import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

import vinf

REPEATS = 5
logging.getLogger("tensorflow").setLevel(logging.ERROR)  # each seed's new surrogate compiles anew, by design


def planar_surrogate(dim, seed, thesis_w):
    """``vinf.surrogates.planar``; with ``thesis_w`` its ``w`` redrawn at sd 1e-2."""
    q = vinf.surrogates.planar(dim, num_flows=64, seed=seed, batch_shape=[2 * REPEATS])
    if thesis_w:
        (w,) = [v for v in q.trainable_variables if v.name.startswith("planar_w")]
        rng = np.random.default_rng([seed, 1])
        w.assign((vinf.surrogates.INIT_SCALE * rng.standard_normal(w.shape)).astype(np.float32))
    return q


def trial(targets, thesis_w, seeds, steps):
    combined = vinf.targets.side_by_side(targets, REPEATS)
    failed, elbos, start = [], [], time.perf_counter()
    for seed in range(seeds):
        q = planar_surrogate(combined.dim, seed, thesis_w)
        try:
            vinf.fit(combined.log_prob, q, num_steps=steps, seed=seed, progress=False)
        except FloatingPointError as error:
            failed.append({"seed": seed, "error": str(error).splitlines()[0]})
            continue
        elbos.append(vinf.diagnostics.elbo(combined.log_prob, q, 5000, seed=1).tolist())
    e = np.array(elbos).reshape(-1, 2, REPEATS)
    return {
        "failed_fits": failed,
        "elbo_median_centered": float(np.median(e[:, 0])) if e.size else None,
        "elbo_median_noncentered": float(np.median(e[:, 1])) if e.size else None,
        "elbo_min": float(e.min()) if e.size else None,
        "seconds": time.perf_counter() - start,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schools", type=int, default=1)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--seeds", type=int, default=6)
    args = parser.parse_args()
    targets = [vinf.targets.eight_schools(centered, args.schools) for centered in (True, False)]
    out = {"schools": args.schools, "steps": args.steps, "seeds": args.seeds,
           "surrogates_per_seed": 2 * REPEATS, "log_evidence": float(targets[0].log_evidence())}
    for label, thesis_w in (("thesis: w sd 1e-2", True), ("vinf: w sd 1/sqrt(D)", False)):
        out[label] = trial(targets, thesis_w, args.seeds, args.steps)
        r = out[label]
        medians = f"{r['elbo_median_centered']:.3f} (centred), {r['elbo_median_noncentered']:.3f} (non-centred), " \
            f"min {r['elbo_min']:.2f}" if r["elbo_min"] is not None else "none finished"
        print(f"{label}: {len(r['failed_fits'])}/{args.seeds} fits failed; ELBO medians {medians}; "
              f"log Z {out['log_evidence']:.3f}; {r['seconds']:.0f} s", flush=True)
    Path(__file__).with_suffix(".json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
