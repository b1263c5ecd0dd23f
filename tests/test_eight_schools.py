"""Eight schools at reduced scale: the study's findings that must hold, and the experiment end to end."""
import json
import math

import arviz as az
import numpy as np
import pytest

import vinf
from experiments import eight_schools

ROW_FIELDS = {"table", "method", "centered", "num_schools", "num_flows", "thesis_compat",
              "khat_mean", "khat_std", "elbo_mean", "elbo_std", "log_evidence"}


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("eight_schools")
    eight_schools.main(["--quick", "--jobs", "2", "--out", str(out)])
    return out, json.loads((out / "results.json").read_text())["rows"]


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
    assert "The study's target is not the eight-schools posterior" in (out / "report.md").read_text()


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
    for method in ("planar", "radial"):
        flow = _row(rows, table="III", method=method, centered=centered, thesis_compat=compat)
        noise = 3 * math.hypot(advi["elbo_std"], flow["elbo_std"]) + 0.05
        assert flow["elbo_mean"] >= advi["elbo_mean"] - noise, flow["key"]


def _mean_and_mcse(idata, name):
    draws = idata.posterior[name].values
    return float(draws.mean()), float(az.mcse(idata, var_names=[name])[name].values)


def test_nuts_means_agree_with_a_longer_run():
    short = vinf.mcmc.eight_schools_nuts(draws=1000, tune=500, seed=1)
    long = vinf.mcmc.eight_schools_nuts(draws=4000, tune=1000, seed=2)
    for name in ("mu", "tau"):
        (m1, e1), (m2, e2) = _mean_and_mcse(short, name), _mean_and_mcse(long, name)
        assert abs(m1 - m2) < 4 * math.hypot(e1, e2), name


def test_report_says_which_way_rows_differ_from_the_thesis():
    from experiments.eight_schools_figures import _agreement, _differences

    def row(key, elbo, khat):
        thesis = dict(elbo_mean=-60.7, elbo_std=0.02, khat_mean=0.78, khat_std=0.05)
        return dict(key=key, elbo_mean=elbo, elbo_std=0.01, khat_mean=khat, khat_std=0.02,
                    log_evidence=-59.42, thesis=thesis)

    rows = [row("agrees", -60.7, 0.78), row("tighter", -60.2, 0.78), row("looser", -61.5, 0.30)]
    compared = [(r, _agreement(r)) for r in rows]
    assert [v["elbo"] for _, v in compared] == [True, False, False]
    text = _differences(compared)
    assert "Of the 2 rows whose ELBO differs, ours is the higher in 1" in text
    assert "looser: k̂ 0.30 against the study's 0.78" in text and "agrees" not in text
    assert _differences(compared[:1]) == ""
