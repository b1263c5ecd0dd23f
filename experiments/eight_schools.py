"""Section VI.B: the eight-schools model, Tables I-V and Figures 37-48.

``python -m experiments.eight_schools [--quick | --full] [--out DIR] [--seed N] [--force] [--jobs N]``

Every table row follows the thesis's protocol: R = 5 trainings of 15000 Adam
steps (S = 500, learning rate 1e-2), trained together as one batched surrogate;
after training, 50 sets of 5000 draws each give k-hat and the ELBO, averaged per
training; the row reports their mean and sd over trainings. Each row is run on
the study's target (``thesis_compat=True``, which its numbers belong to) and on
the true model, beside the exact log evidence by quadrature. Radial flows are
a further method on Tables III-V. Rows are saved as they finish; a rerun skips
them (and ``--jobs N`` trains rows in N processes).
"""
import concurrent.futures
import dataclasses
import multiprocessing
import zlib

import numpy as np
from tqdm.auto import tqdm

from experiments import eight_schools_figures as figures
from experiments._common import Run, parse_args

NAME = "eight_schools"


@dataclasses.dataclass(frozen=True)
class Scale:
    num_steps: int
    num_runs: int
    num_sets: int
    num_draws: int
    deep: int  # K of Tables III and IV
    depths: tuple  # K of Table V
    nuts_draws: int
    nuts_tune: int


FULL = Scale(15000, 5, 50, 5000, 64, (10, 20, 30, 40, 60, 80, 128), 5000, 1000)
QUICK = Scale(300, 2, 2, 500, 4, (2, 4), 300, 300)

# The thesis's Tables II-V: (k-hat mean, sd, ELBO mean, sd), on its own target.
THESIS = {
    ("II", "advi", True, 8, 0): (0.78, 0.049, -60.71, 0.027),
    ("II", "advi", False, 8, 0): (0.11, 0.036, -60.20, 0.022),
    ("III", "planar", True, 8, 64): (0.65, 0.050, -60.05, 0.012),
    ("III", "planar", False, 8, 64): (0.23, 0.039, -59.50, 0.006),
    ("IV", "planar", True, 1, 64): (0.46, 0.048, -5.24, 0.005),
    ("IV", "planar", False, 1, 64): (0.28, 0.042, -5.13, 0.003),
    ("V", "planar", True, 2, 10): (0.54, 0.080, -13.32, 0.020),
    ("V", "planar", True, 2, 20): (0.46, 0.064, -13.29, 0.011),
    ("V", "planar", True, 2, 30): (0.40, 0.056, -13.28, 0.008),
    ("V", "planar", True, 2, 40): (0.38, 0.050, -13.28, 0.008),
    ("V", "planar", True, 2, 60): (0.33, 0.074, -13.28, 0.009),
    ("V", "planar", True, 2, 80): (0.28, 0.083, -13.29, 0.023),
    ("V", "planar", True, 2, 128): (0.33, 0.030, -13.28, 0.012),
}


@dataclasses.dataclass(frozen=True)
class Spec:
    """One table row: a method on one version of the model and target."""

    table: str
    method: str  # "advi" | "planar" | "radial"
    centered: bool
    num_schools: int
    num_flows: int  # 0 for ADVI
    thesis_compat: bool

    @property
    def key(self):
        param = "c" if self.centered else "nc"
        target = "thesis" if self.thesis_compat else "true"
        return f"{self.table}-{self.method}-{param}-J{self.num_schools}-K{self.num_flows}-{target}"

    def target(self):
        import vinf

        return vinf.targets.eight_schools(self.centered, self.num_schools, self.thesis_compat)

    def surrogate(self, num_runs, seed):
        import vinf

        dim = self.num_schools + 2
        if self.method == "advi":
            return vinf.surrogates.mean_field(dim, seed=seed, batch_shape=[num_runs])
        make = getattr(vinf.surrogates, self.method)
        return make(dim, num_flows=self.num_flows, seed=seed, batch_shape=[num_runs])


def table_specs(scale):
    """Every row of Tables II-V, on both targets."""
    specs = []
    for compat in (True, False):
        for centered in (True, False):
            specs.append(Spec("II", "advi", centered, 8, 0, compat))
            for method in ("planar", "radial"):
                specs.append(Spec("III", method, centered, 8, scale.deep, compat))
                specs.append(Spec("IV", method, centered, 1, scale.deep, compat))
        for method in ("planar", "radial"):
            for depth in scale.depths:
                specs.append(Spec("V", method, True, 2, depth, compat))
    return specs


def _seed(base, key):
    return (base * 1_000_003 + zlib.crc32(key.encode())) % 2**31


def train_row(spec, scale, base_seed, draws_path):
    """Train and score one row by the section VI.B protocol; save the best training's draws."""
    import vinf

    target = spec.target()
    seed = _seed(base_seed, spec.key)
    for attempt in range(2):  # one retry with a new seed if a training diverges
        q = spec.surrogate(scale.num_runs, seed + attempt)
        try:
            fit = vinf.fit(target.log_prob, q, num_steps=scale.num_steps, sample_size=500,
                           learning_rate=1e-2, seed=seed + attempt, progress=False)
            break
        except FloatingPointError:
            if attempt == 1:
                raise
    runs = vinf.diagnostics.evaluate_runs(target.log_prob, q, scale.num_sets, scale.num_draws, seed=seed)
    best = int(np.argmin(runs.khat))
    # The figures show the best training (lowest k-hat), as the thesis did.
    z, log_q = q.experimental_sample_and_log_prob(scale.num_draws, seed=(seed, 7))
    np.savez_compressed(draws_path, z=z.numpy()[:, best], log_q=log_q.numpy()[:, best])
    thesis = THESIS.get((spec.table, spec.method, spec.centered, spec.num_schools, spec.num_flows))
    return dict(
        key=spec.key,
        **dataclasses.asdict(spec),
        **runs.summary(),
        log_evidence=target.log_evidence(),
        khat_runs=runs.khat.tolist(),
        elbo_runs=runs.elbo.tolist(),
        best_run=best,
        retried=attempt > 0,
        train_seconds=fit.seconds,
        thesis=None if thesis is None or not spec.thesis_compat else dict(zip(
            ("khat_mean", "khat_std", "elbo_mean", "elbo_std"), thesis)),
    )


def run_rows(run, scale, specs):
    """Train the rows not already in ``results.json``, in ``run.jobs`` processes."""
    draws_dir = run.path("draws")
    draws_dir.mkdir(exist_ok=True)
    todo = [s for s in specs if run.cached_row(s.key) is None or not (draws_dir / f"{s.key}.npz").exists()]
    if not todo:
        return
    bar = tqdm(total=len(todo), desc="table rows", unit="row")
    jobs = [(s, scale, run.seed, draws_dir / f"{s.key}.npz") for s in todo]
    if run.jobs == 1:
        for job in jobs:
            run.add_row(train_row(*job))
            bar.update()
    else:
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(run.jobs, mp_context=context) as pool:
            for future in concurrent.futures.as_completed([pool.submit(train_row, *job) for job in jobs]):
                run.add_row(future.result())
                bar.update()
    bar.close()


def nuts(run, scale, num_schools):
    """NUTS on the non-centered true model (eq. 100), cached as ``nuts_J{J}.nc``."""
    import arviz as az

    import vinf

    path = run.path(f"nuts_J{num_schools}.nc")
    if path.exists() and not run.force:
        return az.from_netcdf(path)
    idata = vinf.mcmc.eight_schools_nuts(
        centered=False, num_schools=num_schools, draws=scale.nuts_draws, tune=scale.nuts_tune,
        chains=2, seed=run.seed,
    )
    tmp = path.with_name(f".{path.name}.tmp")
    idata.to_netcdf(str(tmp), groups=["posterior", "sample_stats"])
    tmp.replace(path)
    return idata


# ------------------------------------------------------------------ tables


def _fmt(mean, sd, digits):
    return f"{mean:.{digits}f} ± {sd:.{digits}f}"


def table_markdown(rows, table):
    """One thesis table, both targets side by side, with log Z and the thesis's values."""
    rows = sorted(
        (r for r in rows if r["table"] == table),
        key=lambda r: (not r["thesis_compat"], r["method"], r["num_flows"], not r["centered"]),
    )
    head = ("| target | method | centered | K | k̂ (ours) | ELBO (ours) | log Z | ELBO gap "
            "| k̂ (thesis) | ELBO (thesis) |")
    lines = [head, "|" + " --- |" * 10]
    for r in rows:
        thesis = r.get("thesis")
        lines.append(
            f"| {'thesis' if r['thesis_compat'] else 'true model'} | {r['method']} "
            f"| {'yes' if r['centered'] else 'no'} | {r['num_flows'] or '–'} "
            f"| {_fmt(r['khat_mean'], r['khat_std'], 2)} | {_fmt(r['elbo_mean'], r['elbo_std'], 2)} "
            f"| {r['log_evidence']:.2f} | {r['log_evidence'] - r['elbo_mean']:.2f} "
            f"| {_fmt(thesis['khat_mean'], thesis['khat_std'], 2) if thesis else ''} "
            f"| {_fmt(thesis['elbo_mean'], thesis['elbo_std'], 2) if thesis else ''} |"
        )
    return "\n".join(lines)


def data_table():
    from vinf.targets import EIGHT_SCHOOLS_SIGMA, EIGHT_SCHOOLS_Y

    lines = ["| school | estimated effect y_i | standard error σ_i |", "| --- | ---: | ---: |"]
    lines += [f"| {i + 1} | {y:g} | {s:g} |" for i, (y, s) in enumerate(zip(EIGHT_SCHOOLS_Y, EIGHT_SCHOOLS_SIGMA))]
    return "\n".join(lines)


TABLE_TITLES = {
    "II": "Table II: mean-field ADVI, eight schools",
    "III": "Table III: ADVI + flows, eight schools",
    "IV": "Table IV: ADVI + flows, first school only",
    "V": "Table V: ADVI + flows by depth, first two schools, centered",
}


def main(argv=None):
    args = parse_args(NAME, __doc__.splitlines()[0], argv)
    run = Run(NAME, args)
    scale = QUICK if run.quick else FULL
    specs = table_specs(scale)
    print(f"eight schools: {len(specs)} table rows, {scale.num_runs} trainings x {scale.num_steps} steps each")
    run.save_table(data_table(), "tableI.md", ["tableI"])
    run_rows(run, scale, specs)
    rows = [run.cached_row(s.key) for s in specs]
    for table, title in TABLE_TITLES.items():
        run.save_table(f"**{title}**\n\n" + table_markdown(rows, table), f"table{table}.md", [f"table{table}"])
    posteriors = {j: nuts(run, scale, j) for j in (8, 2, 1)}
    figures.make_all(run, scale, specs, rows, posteriors)
    figures.write_report(run, rows, posteriors)
    seconds = run.finish()
    print(f"eight schools done in {seconds:.0f} s -> {run.out}")


if __name__ == "__main__":
    main()
