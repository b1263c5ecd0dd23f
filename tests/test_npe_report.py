"""The NPE section's sentences follow the numbers: flip a number, and the sentence flips with it."""
import copy

from experiments.beyond import npe_report
from experiments.common import agreement

LOG_Z = -31.31
NAMES = ["theta[0]", "theta[1]", "mu", "log_tau"]
NUTS = {n: dict(mean=m, sd=s) for n, m, s in (("mu", 4.4, 3.3), ("tau", 3.6, 3.2), ("log_tau", 0.9, 1.0),
                                               ("theta_1", 6.2, 5.6))}
MCSE = {n: (0.01 * v["sd"], 0.01 * v["sd"]) for n, v in NUTS.items()}  # NUTS's Monte-Carlo error: 0.01 sd


def _posterior(shift=0.0):
    """q's posterior summaries: NUTS's, with the mean of log tau moved by ``shift`` of NUTS's sd."""
    out = {n: dict(mean=v["mean"], sd=v["sd"], mean_weighted=v["mean"], sd_weighted=v["sd"]) for n, v in NUTS.items()}
    out["log_tau"]["mean"] += shift * NUTS["log_tau"]["sd"]
    return out


def _row(elbo=-31.34, khat=0.2, centered=False, family="NPE (conditional MAF)", group="VI-npe-nc", seconds=40.0,
         runs=5, seed=1):
    return dict(key=f"{family}-{centered}", family=family, method="npe", centered=centered, thesis_compat=False,
                variant="default", num_flows=4, log_evidence=LOG_Z, elbo_mean=elbo, elbo_std=0.01,
                elbo_runs=[elbo] * runs, khat_mean=khat, khat_std=0.03, khat_runs=[khat] * runs,
                khat_thesis_mean=khat, khat_thesis_std=0.03, khat_thesis_runs=[khat] * runs, above_log_z_runs=[],
                posterior=_posterior(), sbc_p_values=[[0.5] * len(NAMES) for _ in range(runs)], sbc_names=NAMES,
                sbc_datasets=200, sbc_draws=99, sbc_bins=10, steps=20000, batch_size=256,
                simulations_per_training=20000 * 256, simulations=runs * (20000 * 256 + 200),
                group=group, group_train_seconds=seconds * runs, group_evaluate_seconds=2.0 * runs, seed=seed)


def _fit(elbo=-31.37, khat=0.2, family="model-informed (MIF)", seconds=400.0):
    """A per-y fit's row: its group of 20 trainings (4 rows of 5) took ``seconds``."""
    return dict(_row(elbo, khat, family=family, group=f"VI-{family}", seed=2), group_train_seconds=seconds)


def _fits(**kwargs):
    return [("model-informed (MIF) K = 2", _fit(**kwargs))]


def test_elbo_sentence_flips_with_the_gap_and_the_per_y_fit():
    assert "0.030 nats below it, within the moonshot's 0.05 nats" in npe_report.elbo_text(_row(), [])
    assert "beyond the moonshot's 0.05 nats" in npe_report.elbo_text(_row(elbo=-31.40), [])
    assert "0.001 nats below it (not distinguishable from it over the trainings" in npe_report.elbo_text(
        _row(elbo=-31.311), [])
    assert "No training's ELBO lies above log p(y)" in npe_report.elbo_text(_row(), [])
    bug = npe_report.elbo_text(_row(elbo=-31.2), [])
    assert "a bug, not a result" in bug and "the mean 0.110 nats above it" in bug
    one = dict(_row(elbo=-31.312), above_log_z_runs=[2])
    assert "a bug, not a result** (training 3 above it" in npe_report.elbo_text(one, [])
    assert "higher than model-informed (MIF) K = 2's -31.370" in npe_report.elbo_text(_row(), _fits(elbo=-31.37))
    assert "lower than model-informed (MIF) K = 2's -31.320" in npe_report.elbo_text(_row(), _fits(elbo=-31.32))
    assert "the same as model-informed (MIF) K = 2's -31.345 within the noise" in npe_report.elbo_text(
        _row(), _fits(elbo=-31.345))
    assert "No per-y fit" in npe_report.elbo_text(_row(), [])


def test_trainings_that_disagree_are_shown_one_by_one_not_by_their_mean():
    row = dict(_row(), elbo_runs=[-33.36, -447.8, -4211.4, -7.7e6, -1.45e8])
    row["elbo_mean"], row["elbo_std"] = -3.06e7, 6.4e7  # the mean's se is so large that the z rule would call it close
    text = npe_report.elbo_text(row, _fits(elbo=-31.49))
    assert "the 5 trainings disagree at the observed y" in text and "gaps from 2.05 to 1.45e+08 nats" in text
    assert "0 of 5 are within the moonshot's 0.05 nats" in text and "0 of 5 are above model-informed (MIF)" in text
    assert "not distinguishable" not in text and "the same as" not in text
    assert "the trainings' ELBOs disagree (gaps 2.05 to 1.45e+08 nats)" in npe_report.headline([row])
    close = dict(_row(), elbo_runs=[-31.36, -31.35, -31.34, -31.34, -31.33])  # gaps 0.02-0.05: they agree
    assert not npe_report.trainings_disagree(close) and "disagree" not in npe_report.elbo_text(close, [])


def test_khat_sentence_places_both_estimators_and_compares():
    assert "both below 0.5, where importance sampling from q at y is reliable" in npe_report.khat_text(_row(), [])
    assert "both above 0.7, where importance sampling" in npe_report.khat_text(_row(khat=0.9), [])
    assert "both between 0.5 and 0.7" in npe_report.khat_text(_row(khat=0.6), [])
    assert "both not distinguishable from 0.5" in npe_report.khat_text(_row(khat=0.51), [])
    mixed = dict(_row(), khat_thesis_mean=0.9)
    assert "below 0.5 on ArviZ's and above 0.7 on the 2015 PSIS" in npe_report.khat_text(mixed, [])
    assert "higher (worse) on both against" in npe_report.khat_text(_row(khat=0.4), _fits(khat=0.2))
    assert "lower (better) on both against" in npe_report.khat_text(_row(khat=0.2), _fits(khat=0.4))
    assert "the same within the noise on both" in npe_report.khat_text(_row(khat=0.2), _fits(khat=0.21))


def test_errors_against_nuts_are_judged_by_their_monte_carlo_error():
    row = _row()
    text = npe_report.error_text(row, [], NUTS, MCSE, 5000)
    assert "none of these 8 exceeds twice its Monte-Carlo error" in text
    row["posterior"] = _posterior(shift=0.3)
    text = npe_report.error_text(row, [], NUTS, MCSE, 5000)
    assert "1 of these 8 exceed twice their Monte-Carlo error" in text and "the mean of log τ (+0.30)" in text
    assert "the largest is 0.30, the mean of log τ" in text
    assert "NPE has more such errors than each per-y fit" in npe_report.error_text(row, _fits(), NUTS, MCSE, 5000)
    two = _fits() + [("planar (tanh) K = 64", _fit(family="planar (tanh)"))]
    assert "NPE has as many such errors as each per-y fit" in npe_report.error_text(_row(), two, NUTS, MCSE, 5000)
    fit = _fit()
    fit["posterior"] = _posterior(shift=-0.5)
    text = npe_report.error_text(_row(), [("MIF", fit)], NUTS, MCSE, 5000)
    assert "NPE has fewer such errors than each per-y fit" in text and "MIF 1 of 8 (largest 0.50" in text
    mixed = npe_report.error_text(row, [("MIF", fit), two[1]], NUTS, MCSE, 5000)
    assert "NPE has as many such errors as MIF and more such errors than planar (tanh) K = 64" in mixed


def test_sbc_counts_rejections_after_bonferroni():
    row = _row()
    tests, level = npe_report.sbc_level(row)
    assert tests == 20 and level == agreement.P_AGREE / 20
    assert "0 of 20 rank histograms" in npe_report.sbc_text(row) and "no coordinate's ranks" in npe_report.sbc_text(row)
    row["sbc_p_values"][1][3] = 0.01  # below the single test's level, above the corrected one
    assert "0 of 20" in npe_report.sbc_text(row)
    row["sbc_p_values"][1][3] = 1e-4
    row["sbc_p_values"][4][3] = 1e-5
    row["sbc_p_values"][0][0] = 1e-6
    assert npe_report.sbc_rejected(row) == {"theta[0]": [1], "log_tau": [2, 5]}
    assert "3 of 20 rank histograms" in npe_report.sbc_text(row)
    assert "θ₁ in training 1; log τ in trainings 2, 5." in npe_report.sbc_text(row)


def test_sbc_verdict_has_a_sentence_for_each_outcome():
    good, bad_khat = _row(), _row(khat=0.9)
    miscalibrated = copy.deepcopy(good)
    miscalibrated["sbc_p_values"][0][2] = 1e-9
    bad_both = dict(copy.deepcopy(miscalibrated), khat_mean=0.9, khat_thesis_mean=0.9)
    assert "both checks pass" in npe_report.sbc_verdict(good)
    assert "SBC passes yet k̂" in npe_report.sbc_verdict(bad_khat)
    assert "q errs elsewhere in the prior predictive" in npe_report.sbc_verdict(miscalibrated)
    assert "both checks find fault" in npe_report.sbc_verdict(bad_both)


def test_costs_say_when_amortisation_pays():
    rows6 = [dict(_fit(seconds=400.0), centered=c, thesis_compat=t) for c in (True, False) for t in (True, False)]
    # 400 s over 20 trainings: 20 s a per-y training; NPE's 40 s are two per-y fits' worth
    text = npe_report.cost_text([_row(seconds=40.0)], rows6, 15000)
    assert "against 20 s of model-informed (MIF) K = 4 per training" in text
    assert "costs as much as 2.0 of model-informed (MIF) K = 4's (NPE pays from 3 data sets on)" in text
    assert "(NPE pays from 2 data sets on)" in npe_report.cost_text([_row(seconds=30.0)], rows6, 15000)
    assert "NPE pays from the first data set" in npe_report.cost_text([_row(seconds=10.0)], rows6, 15000)
    assert "5.12 M (non-centered)" in text and "7.50 M times" in text


def test_headline_counts_rejections():
    row = _row()
    row["sbc_p_values"][0][0] = 1e-9
    line = npe_report.headline([row])
    assert "SBC rejects 1 of 20 rank histograms" in line and "gap 0.030" in line
    assert "not run" in npe_report.headline([])
