"""Eight schools at reduced scale: the study's findings that must hold, and the experiment end to end."""
import json
import math

import arviz as az
import pytest

import vinf
from experiments.eight_schools import experiment as eight_schools
from experiments.common.schools import NUTS_SCHOOLS

ROW_FIELDS = {"table", "method", "centered", "num_schools", "num_flows", "thesis_compat",
              "khat_mean", "khat_std", "elbo_mean", "elbo_std", "log_evidence"}


@pytest.fixture(scope="module")
def quick(eight_schools_quick):
    _, out, rows = eight_schools_quick
    return out, rows


def _row(rows, **match):
    (row,) = [r for r in rows if all(r[k] == v for k, v in match.items())]
    return row


def test_quick_run_writes_every_table_and_figure(quick):
    out, rows = quick
    assert len(rows) == len(eight_schools.table_specs(eight_schools.QUICK))
    for row in rows:
        assert ROW_FIELDS <= set(row)
    for table in ("I", "II", "III", "IV", "V"):
        assert (out / f"table{table}.md").read_text().count("|") > 10
    for number in range(37, 49):
        assert list(out.glob(f"fig{number}_*.png")), f"figure {number} missing"
    report = (out / "report.md").read_text()
    assert "The study's target is not the eight-schools posterior" in report
    assert report.startswith("**Quick run, reduced scale**") and "agree with the thesis" not in report
    assert (out / "traces.png").exists() and (out / "khat_vs_elbo.png").exists()
    for row in rows:
        assert row["variant"] == "default" and len(row["best_steps"]) == 2
        assert set(row["posterior"]) == {"mu", "tau", "log_tau", "theta_1"}
        assert row["posterior"]["tau"]["mean"] > 0 and row["posterior"]["log_tau"]["sd"] > 0
    results = json.loads((out / "results.json").read_text())
    for j in NUTS_SCHOOLS:
        diagnostics = results["extra"][f"nuts_diagnostics_J{j}"]
        assert {"r_hat_max", "ess_bulk_min", "divergences", "converged"} <= set(diagnostics)


def test_every_elbo_is_below_the_log_evidence_of_its_target(quick):
    _, rows = quick
    for row in rows:
        spread = 3 * max(row["elbo_std"], 0.01)
        assert row["elbo_mean"] <= row["log_evidence"] + spread, row["key"]


@pytest.mark.parametrize("compat", [True, False], ids=["thesis-target", "true-model"])
def test_noncentered_advi_has_the_lower_khat(quick, compat):
    _, rows = quick
    centered = _row(rows, table="II", centered=True, thesis_compat=compat)
    noncentered = _row(rows, table="II", centered=False, thesis_compat=compat)
    assert noncentered["khat_mean"] < centered["khat_mean"]


@pytest.mark.parametrize("compat", [True, False], ids=["thesis-target", "true-model"])
@pytest.mark.parametrize("centered", [True, False], ids=["centered", "non-centered"])
def test_flows_do_not_lower_the_advi_elbo(quick, compat, centered):
    _, rows = quick
    advi = _row(rows, table="II", centered=centered, thesis_compat=compat)
    flow = _row(rows, table="III", method="planar", centered=centered, thesis_compat=compat)
    noise = 3 * math.hypot(advi["elbo_std"], flow["elbo_std"]) + 0.05
    assert flow["elbo_mean"] >= advi["elbo_mean"] - noise, flow["key"]


def _mean_and_mcse(idata, name):
    draws = idata.posterior[name].values
    return float(draws.mean()), float(az.mcse(idata, var_names=[name])[name].values)


def test_nuts_means_agree_with_a_longer_run():
    short = vinf.mcmc.eight_schools_nuts(draws=500, tune=500, seed=1)
    long = vinf.mcmc.eight_schools_nuts(draws=2000, tune=500, seed=2)
    for name in ("mu", "tau"):
        (m1, e1), (m2, e2) = _mean_and_mcse(short, name), _mean_and_mcse(long, name)
        assert abs(m1 - m2) < 4 * math.hypot(e1, e2), name
