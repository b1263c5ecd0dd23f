"""The report's sentences are computed: flip a number in a copy of the rows and the sentence flips with it."""
import copy
import math

import pytest

from experiments.ablations import report as ablations
from experiments.beyond import report as beyond
from experiments.beyond.config import SLOW
from experiments.common import agreement
from experiments.eight_schools import claims, report


def _row(key, table="II", method="mean_field", centered=True, num_schools=8, num_flows=0, compat=True,
         khat=0.78, elbo=-60.71, sd=0.04, thesis=(0.78, 0.049, -60.71, 0.027), log_z=-59.42, variant="default"):
    return dict(key=key, table=table, method=method, centered=centered, num_schools=num_schools,
                num_flows=num_flows, thesis_compat=compat, variant=variant,
                khat_mean=khat + 0.05, khat_std=sd, khat_thesis_mean=khat, khat_thesis_std=sd,
                elbo_mean=elbo, elbo_std=sd / 2, elbo_runs=[elbo] * 5, khat_thesis_runs=[khat] * 5,
                log_evidence=log_z,
                thesis=None if thesis is None else dict(zip(("khat_mean", "khat_std", "elbo_mean", "elbo_std"), thesis)))


def test_the_agreement_rule_is_z_with_standard_errors_of_five_trainings():
    row = _row("a", khat=0.78 + 2.5 * math.hypot(0.04, 0.049) / math.sqrt(5))
    assert agreement.z_thesis(row, "khat") == pytest.approx(2.5)
    assert not agreement.agrees(agreement.z_thesis(row, "khat"))
    row["khat_thesis_mean"] -= 1.0 * math.hypot(0.04, 0.049) / math.sqrt(5)
    assert agreement.agrees(agreement.z_thesis(row, "khat"))
    assert agreement.z_between(1.0, 0.0, 5, 1.0, 0.0, 5) == 0.0
    assert agreement.z_between(1.1, 0.0, 5, 1.0, 0.0, 5) == math.inf


def test_counts_and_differences_flip_with_a_number():
    rows = [_row("II-c"), _row("II-nc", centered=False, khat=0.11, elbo=-60.20, thesis=(0.11, 0.036, -60.20, 0.022))]
    assert "2 of 2 reported rows agree with the thesis's ELBO and 2 of 2 with its k̂" in report.agreement_text(rows)
    assert report.differences_text(rows).startswith("Every reported row agrees")
    flipped = copy.deepcopy(rows)
    flipped[1]["khat_thesis_mean"] = 0.40
    assert "2 of 2 reported rows agree with the thesis's ELBO and 1 of 2 with its k̂" in report.agreement_text(flipped)
    text = report.differences_text(flipped)
    assert "Of the 1 row whose k̂ differs, ours is the higher in 1" in text and "II-nc 0.40 against 0.11" in text
    assert "II-nc (k̂)" in report.table_differences(flipped, "II")
    flipped[1]["khat_thesis_mean"] = -0.2
    assert "ours is the higher in 0" in report.differences_text(flipped)


def test_the_estimator_sentence_follows_the_sign_of_the_difference():
    rows = [_row("a"), _row("b", khat=0.3)]
    assert "higher than the study's estimator in every row" in report.estimator_text(rows)
    rows[1]["khat_mean"] = 0.1
    assert "higher than the study's estimator in 1 of 2 rows" in report.estimator_text(rows)


def _claim_rows(advi_khat, planar_elbo):
    rows = []
    for compat in (True, False):
        tag = "thesis" if compat else "true"
        rows.append(_row(f"II-c-{tag}", khat=advi_khat, compat=compat))
        rows.append(_row(f"II-nc-{tag}", centered=False, khat=0.1, compat=compat))
        rows.append(_row(f"III-c-{tag}", table="III", method="planar", num_flows=64, khat=0.6, compat=compat,
                         elbo=planar_elbo))
    return rows


def test_a_claims_verdict_is_computed_on_both_targets():
    verdict = lambda rows, text: next(c for c in claims.checked(rows, 64, ()) if c["claim"].startswith(text))  # noqa: E731
    holds = verdict(_claim_rows(0.9, -60.0), "mean-field ADVI on the centered model is unreliable")
    assert holds["verdict"] == claims.HOLDS
    fails = verdict(_claim_rows(0.5, -60.0), "mean-field ADVI on the centered model is unreliable")
    assert fails["verdict"] == claims.FAILS
    near = verdict(_claim_rows(0.71, -60.0), "mean-field ADVI on the centered model is unreliable")
    assert near["verdict"] == claims.UNDECIDED
    rows = _claim_rows(0.9, -60.0)
    rows[3]["khat_thesis_mean"] = 0.5  # only the true model's ADVI row changes
    assert verdict(rows, "mean-field ADVI")["verdict"] == "holds only on the study's target"
    assert verdict(_claim_rows(0.9, -61.0), "planar flows raise the ELBO of ADVI, centered")["verdict"] == claims.FAILS
    missing = verdict(_claim_rows(0.9, -60.0), "one school")
    assert missing["verdict"] == claims.MISSING


def test_the_deviation_section_names_the_departure_that_restores_agreement():
    default = _row("V-planar-c-J2-K40-thesis", table="V", method="planar", num_schools=2, num_flows=40,
                   khat=0.48, thesis=(0.38, 0.05, -13.28, 0.008), elbo=-13.28)
    init = dict(_row("x", table="V", method="planar", num_schools=2, num_flows=40, khat=0.39, elbo=-13.28,
                     thesis=(0.38, 0.05, -13.28, 0.008), variant="thesis_init"), key=default["key"] + "-thesis_init")
    defaults = {default["key"]: default}
    sentences, explained, unexplained = ablations.deviation_sentences(defaults, [init])
    assert explained == [f"{default['key']} k̂"] and not unexplained
    assert "Agreement is restored by thesis_init" in sentences[0]
    init["khat_thesis_mean"] = 0.47
    sentences, explained, unexplained = ablations.deviation_sentences(defaults, [init])
    assert unexplained and "No departure restores agreement" in sentences[0]
    assert "1 remains unexplained" in ablations.summary_sentence(explained, unexplained)


def test_the_moonshot_sentence_states_its_result_either_way():
    def pair(khat, gap, khat_2015=None, centered_gap=None):
        c = _row("c", compat=False, khat=khat if khat_2015 is None else khat_2015,
                 elbo=-31.31 - (gap if centered_gap is None else centered_gap), log_z=-31.31)
        c["khat_mean"] = khat
        nc = _row("nc", centered=False, compat=False, elbo=-31.31 - gap, log_z=-31.31)
        return [dict(c, family="MIF"), dict(nc, family="MIF")]

    assert "**Reached** by MIF" in beyond.moonshot_text(pair(0.45, 0.01))
    text = beyond.moonshot_text(pair(0.55, 0.01))
    assert "**Not reached.** The lowest centered k̂ is 0.55 (2015 PSIS 0.55; MIF)" in text
    assert "**Not reached.**" in beyond.moonshot_text(pair(0.45, 0.2))
    assert "**Not reached.**" in beyond.moonshot_text(pair(0.45, 0.01, khat_2015=0.6)), "both estimators"
    assert "**Not reached.**" in beyond.moonshot_text(pair(0.45, 0.01, centered_gap=0.3)), "both parameterisations"
    neck = beyond.moonshot_text(pair(0.45, 0.01), neck={"MIF": (0.12, 0.2)})
    assert "MIF puts 12.0% of its draws there, NUTS 20.0%" in neck
    brief = beyond.moonshot_text(pair(0.55, 0.01), neck={"MIF": (0.12, 0.2)}, brief=True)
    assert "**Not reached.**" in brief and "Tried" not in brief and "NUTS 20.0%" not in brief


def test_the_suited_mappings_answer_flips_with_the_numbers():
    def family(name, elbo, khat, spread=0.01):
        rows = []
        for centered in (True, False):
            r = _row(name + str(centered), centered=centered, compat=False, khat=khat, elbo=elbo, sd=spread,
                     log_z=-31.31)
            r.update(khat_runs=[r["khat_mean"]] * 5, elbo_runs=[elbo + spread * (i - 2) for i in range(5)],
                     khat_thesis_runs=[khat + spread * (i - 2) for i in range(5)], seed=1)
            rows.append(dict(r, family=name))
        return rows

    planar = family("planar (tanh)", -31.67, 0.57)
    better = beyond.suited_text(planar + family("IAF", -31.40, 0.40))
    assert "IAF ELBO -31.400" in better and "**Answer" not in better
    assert "every one of them does better than the study's flow" in better
    worse = beyond.suited_text(planar + family("IAF", -32.50, 0.80), headline=True)
    assert "none does better than the study's flow on the funnel, and some do worse" in worse
    same = beyond.suited_text(planar + family("IAF", -31.67, 0.57))
    assert "none is told apart" in same and "not told apart: IAF" in same
    mixed = beyond.suited_text(planar + family("IAF", -31.40, 0.80))
    assert "mixed: IAF" in mixed and "none is better on every measure" in mixed
    assert "did not run" in beyond.suited_text(family("IAF", -31.40, 0.40))


def _verdict(better, worse, same=0, failed=0):
    counts = dict(better=better, worse=worse, same=same)
    return dict(rows=better + worse + same, retried=0, failed=failed, tests=2 * (better + worse + same), khat=counts,
                elbo=counts)


def test_which_choice_to_keep_follows_the_ablation_counts():
    keep = lambda departures: ablations.keep_sentence(dict(total_tests=8, departures=departures))  # noqa: E731
    assert "the study's choice is better than ours" in keep({"thesis_init": _verdict(3, 1)})
    assert "we keep it" in keep({"thesis_init": _verdict(1, 3)})
    text = keep({"thesis_checkpoint": _verdict(0, 0, 5, failed=2)})
    assert "do not tell the choices apart" in text and "2 failed trainings" in text
    assert keep({"thesis_all": _verdict(3, 0)}) == ""


def test_holm_corrects_for_the_number_of_comparisons():
    assert agreement.holm([2.1]) == [True], "one test: the single rule"
    assert agreement.holm([2.1] * 20) == [False] * 20, "twenty tests at |z| = 2.1: about one would pass by chance"
    assert agreement.holm([6.0] + [0.1] * 19) == [True] + [False] * 19


def test_rows_from_the_same_seeds_are_compared_training_by_training():
    a, b = _row("a", elbo=-60.0), _row("b", elbo=-60.1)
    a["elbo_runs"], b["elbo_runs"] = [-60.0, -59.5, -60.5, -60.2, -59.8], [-60.1, -59.6, -60.6, -60.3, -59.9]
    a["elbo_std"] = b["elbo_std"] = 0.38  # the spread of those runs
    assert abs(agreement.z_rows(a, b, "elbo")) < 2, "unpaired: a spread of 0.4 hides a shift of 0.1"
    a["seed"] = b["seed"] = 7
    assert agreement.z_rows(a, b, "elbo") > 1e6, "paired: every training moved by 0.1 (to float rounding)"
    b["retried"] = True
    assert abs(agreement.z_rows(a, b, "elbo")) < 2, "a retried row trained from another seed"


def test_a_failed_training_stands_out_from_its_row():
    assert agreement.failed_trainings([0.03, 0.04, 0.02, 15.7, 0.03]) == [3]
    assert agreement.failed_trainings([0.03, 0.04, 0.02, 0.06, 0.03]) == []
    assert agreement.failed_trainings([0.52, 0.03, 0.02, 0.03, 0.04]) == [0], "the thesis's Table IV centered"


def test_a_claim_of_no_gain_within_the_noise_is_not_shown_either_way():
    rows = [_row(f"V{k}", table="V", method="planar", num_schools=2, num_flows=k, khat=khat, thesis=None)
            for k, khat in ((10, 0.5), (80, 0.30), (128, 0.29))]
    rows += [dict(r, thesis_compat=False) for r in rows]
    (claim,) = [c for c in claims.checked(rows, 64, (10, 80, 128)) if c["claim"].startswith("no gain")]
    assert claim["verdict"] == claims.NOT_SHOWN and "4 times in 5" in claim["thesis_target"]
    rows[2]["khat_thesis_mean"] = rows[5]["khat_thesis_mean"] = 0.10
    (claim,) = [c for c in claims.checked(rows, 64, (10, 80, 128)) if c["claim"].startswith("no gain")]
    assert claim["verdict"] == claims.FAILS


def _depth_row(k, khat, variant="default", sd=0.02, norms=None):
    row = _row(f"V-planar-c-J2-K{k}-thesis" + ("" if variant == "default" else f"-{variant}"), table="V",
               method="planar", num_schools=2, num_flows=k, khat=khat, sd=sd, variant=variant, thesis=None)
    if norms is not None:
        row["gradient_norms"] = dict(before=norms, after=norms)
    return row


def test_the_depth_conclusion_names_the_cause_the_numbers_support():
    flat = [1.0] * 128
    baseline = [_depth_row(k, 0.40) for k in (10, 40, 80)]
    own = [_depth_row(128, 0.40, norms=flat), _depth_row(256, 0.40, norms=[1.0] * 256),
           _depth_row(128, 0.40, "leaky_relu"), _depth_row(256, 0.40, "leaky_relu"),
           _depth_row(256, 0.40, SLOW.name)]
    text = beyond.depth_text(own, baseline)
    assert "within the noise of the k̂ estimate" in text and "K = 256 0.40 against K = 128 0.40" in text
    assert beyond.depth_text(own, baseline, conclusion_only=True).startswith("No test that ran separates")
    better = copy.deepcopy(own)
    better[3]["khat_thesis_mean"] = 0.30  # leaky ReLU at K = 256 beats tanh
    assert "the non-linearity (leaky ReLU" in beyond.depth_text(better, baseline)
    vanishing = copy.deepcopy(own)
    vanishing[1]["gradient_norms"]["after"] = [1e-3] * 32 + [1.0] * 224
    assert "vanishing gradients (the first layers" in beyond.depth_text(vanishing, baseline)
    deeper = copy.deepcopy(own)
    deeper[1]["khat_thesis_mean"] = 0.30
    assert "Depth still helps at the deepest K" in beyond.depth_text(deeper, baseline)
    diverged = [dict(_depth_row(k, 0.40, "leaky_relu"), diverged="non-finite loss at step 9", attempts=3)
                for k in (40, 128, 256)]
    untested = beyond.depth_text(own[:2] + own[4:], baseline, diverged)
    assert "Leaky ReLU could not be tested on deep flows: it diverged in every attempt at K = 40, 128, 256" in untested
    assert "leaky ReLU does no better" not in untested and "not vanishing gradients or optimisation" in untested


def test_the_vanishing_ratio_uses_at_least_one_layer():
    assert beyond.vanishing_ratio([1.0, 2.0, 4.0]) == 0.25
    assert beyond.vanishing_ratio([1.0] * 8 + [2.0] * 8) == 0.5


def test_stl_pairs_are_counted_by_the_z_rule():
    plain = _row("p", method="mean_field", compat=False, elbo=-31.60, sd=0.01)
    stl = dict(plain, key="s", variant="stl", elbo_mean=-31.50)
    text = beyond.stl_text([plain, stl])
    assert text.startswith("Of 1 pairs, STL gives the higher ELBO in 1, the lower in 0")
    stl["elbo_mean"] = -31.601
    assert "the same within the noise in 1" in beyond.stl_text([plain, stl])
    assert beyond.stl_text([plain]).startswith("No STL row")


def test_step_costs_divide_a_group_by_its_steps_and_members():
    rows = [dict(_row(k, compat=False), family=f, group=g, group_train_seconds=s, method=m)
            for k, f, g, s, m in (("a", "IAF", "g1", 30.0, "iaf"), ("b", "IAF", "g1", 30.0, "iaf"),
                                  ("c", "ADVI", "g2", 3.0, "mean_field"))]
    costs = beyond.step_costs(rows, num_steps=1000)
    assert costs == pytest.approx({"IAF": 3.0, "ADVI": 0.6})  # 30 s over 1000 steps and 2 x 5 members; 3 s over 5
    rows[0]["group_train_seconds"] = rows[1]["group_train_seconds"] = 60.0
    assert "IAF 6.0 ms" in beyond.cost_text(rows, 1000) and "10.0× to 10× dearer" in beyond.cost_text(rows, 1000)
    rows[2]["group_train_seconds"] = 60.0  # ADVI's step now costs twice the IAF's: no "dearer"
    assert "from 0.5× to 0× the others'" in beyond.cost_text(rows, 1000) and "dearer" not in beyond.cost_text(rows, 1000)
