"""The eight-schools report's sentences follow their numbers: each outcome has its own wording."""
import numpy as np

from experiments.eight_schools import report


def _nuts(divergences=0, converged=True):
    return dict(chains=4, draws=5000, target_accept=0.95, r_hat_max=1.001, ess_bulk_min=2000.0,
                divergences=divergences, converged=converged)


def test_the_nuts_sentence_says_whether_divergences_remain():
    assert "none remains" in report.nuts_sentence({8: _nuts(), 2: _nuts()})
    text = report.nuts_sentence({8: _nuts(), 2: _nuts(divergences=3)})
    assert "divergences remain in 2 schools (3)" in text and "none remains" not in text
    assert "Not converged by that rule: 8 schools" in report.nuts_sentence({8: _nuts(converged=False)})


def test_shrinkage_counts_the_schools_between_mu_and_their_estimate():
    y = np.array([28.0, 8, -3, 7, -1, 1, 18, 12])
    pooled = 0.5 * y + 0.5 * 4.4
    assert report.shrinkage_sentence(pooled, 4.4).startswith("8 of 8 schools' posterior means")
    beyond = pooled.copy()
    beyond[0] = 30.0  # further out than its own estimate
    text = report.shrinkage_sentence(beyond, 4.4)
    assert text.startswith("7 of 8") and "partial pooling" not in text


def test_a_gap_span_reads_its_signs():
    assert report._span([0.12]) == "0.12 nats below"
    assert report._span([0.12, 0.8]) == "0.12 to 0.80 nats below"
    assert report._span([-0.3, -0.1]) == "0.10 to 0.30 nats above"
    assert report._span([-0.3, 0.2]) == "from 0.30 nats above to 0.20 nats below"


def _rows(khats, gaps):
    return [dict(thesis_compat=compat, log_evidence=0.0, elbo_runs=list(-np.asarray(gaps)), khat_thesis_runs=list(khats),
                 variant="default") for compat in (True, False)]


def test_the_rank_sentence_follows_the_sign_of_rho():
    assert "a smaller gap goes with a smaller k̂" in report.khat_elbo_sentence(_rows([0.1, 0.2, 0.3, 0.4], [1, 2, 3, 4]))
    assert "a smaller gap goes with a larger k̂" in report.khat_elbo_sentence(_rows([0.4, 0.3, 0.2, 0.1], [1, 2, 3, 4]))
    assert report.khat_elbo_sentence(_rows([0.1, 0.2], [1, 2])).startswith("Too few trainings")


def test_the_skew_sentence_says_how_much_of_the_skew_q_carries():
    assert "it carries all of it" in report.skew_sentence(1.02, 1.01, True) and "as the study saw" in report.skew_sentence(1.02, 1.01, True)
    text = report.skew_sentence(0.1, 1.0, True)
    assert "it carries none of it (10%)" in text and "where the study saw it captured" in text
    text = report.skew_sentence(0.76, 1.0, False)
    assert "it carries part of it (76%)" in text and "more than the study saw (none)" in text
    assert "as the study saw" in report.skew_sentence(0.05, 1.0, False)
