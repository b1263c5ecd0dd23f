"""Section IV's flow geometry (Figures 8-16): exact densities, the intended shapes, and the experiment end to end."""
import json

import numpy as np
import pytest
from scipy import stats

from experiments.flow_geometry import experiment as flow_geometry
from experiments.common.claims import FAILS, HOLDS
from experiments.flow_geometry import claims as fgc
from experiments.flow_geometry import config, figures, jobs, layers
from experiments.flow_geometry import report as fgr

GRID = 301  # the full-scale grid; every data function here takes well under a second at this size
DENSITY_FIGURES = tuple(layers.FLOWS)
ALL_LAYERS = (layers.PLANAR_EXPANSION, layers.PLANAR_CONTRACTION, layers.RADIAL_EXPANSION, layers.RADIAL_CONTRACTION,
              *layers.FIG9_LAYERS, *(layer for flow in layers.FLOWS.values() for layer in flow))


@pytest.fixture(scope="module")
def densities():
    return {fid: jobs.density_data(fid, GRID) for fid in DENSITY_FIGURES}


def test_exponential_flow_density_is_the_log_normal():
    data = jobs.exponential_flow()
    np.testing.assert_allclose(data["z_prime"], np.exp(data["z"]), rtol=1e-14)
    np.testing.assert_allclose(data["q"], stats.norm.pdf(data["z_grid"]), rtol=1e-12)
    np.testing.assert_allclose(data["q_prime"], stats.lognorm(s=1.0).pdf(data["z_prime_grid"]), rtol=1e-10, atol=1e-300)


@pytest.mark.parametrize("layer", ALL_LAYERS, ids=lambda layer: type(layer).__name__)
def test_raw_parameters_give_the_intended_corrected_ones(layer):
    bijector = layer.bijector()
    if isinstance(layer, layers.PlanarLayer):
        np.testing.assert_allclose(bijector.u_hat.numpy(), layer.u_hat, atol=1e-12)
    else:
        np.testing.assert_allclose(bijector.beta_hat.numpy(), layer.beta_hat, atol=1e-12)


def test_unreachable_corrected_parameters_are_refused():
    with pytest.raises(ValueError, match="eq. 64"):
        layers.PlanarLayer(w=(1.0, 0.0), b=0.0, u_hat=(-1.5, 0.0)).raw_u
    with pytest.raises(ValueError, match="eq. 75"):
        layers.RadialLayer(z0=(0.0, 0.0), alpha=0.5, beta_hat=-0.6).raw_beta


@pytest.mark.parametrize("fid", DENSITY_FIGURES)
def test_every_plotted_density_integrates_to_one(densities, fid):
    # The grids hold all but ~1e-5 of the mass; the rest of the tolerance is the
    # trapezoid error on the sharpest features (the contraction ridge, the radial cusp).
    assert jobs.grid_mass(*densities[fid]) == pytest.approx(1.0, abs=2e-3)


@pytest.mark.parametrize("fid", ["fig12", "fig13"])
def test_the_mass_check_catches_a_missing_log_det_jacobian(densities, fid):
    """Without the log-det term of eq. 59 the pushed-forward 'density' no longer integrates to 1."""
    X_k, Y_k, _ = densities[fid]
    X, Y = jobs.regular_grid(-config.DENSITY_WINDOW, config.DENSITY_WINDOW, GRID)
    q0 = stats.multivariate_normal(np.zeros(2)).pdf(np.stack([X, Y], axis=-1))
    assert abs(jobs.grid_mass(X_k, Y_k, q0) - 1.0) > 1e-2


def _all_figure_data():
    """Every array behind Figures 8-16 (coarse grids), flattened into one list."""
    items = [jobs.exponential_flow().values(), jobs.warped_mesh(layers.FIG9_LAYERS, num_points=50),
             *(jobs.inverse_det_jacobian(layer, 41) for panels in layers.DET_PANELS.values() for _, layer in panels),
             *(jobs.density_data(fid, 41) for fid in DENSITY_FIGURES)]
    return [array for item in items for array in item]


def test_figure_data_is_deterministic():
    first, second = _all_figure_data(), _all_figure_data()
    assert len(first) == len(second) == 6 + 2 + 4 * 3 + len(DENSITY_FIGURES) * 3
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def _extreme_at(layer, kind):
    X, Y, inv_det = jobs.inverse_det_jacobian(layer, 101)  # spacing 0.05: x = 1 and y = 1 are grid lines
    index = np.unravel_index((np.argmax if kind == "max" else np.argmin)(inv_det), inv_det.shape)
    return X[index], Y[index], inv_det[index], inv_det


def test_planar_contraction_peaks_on_the_line_y_equals_1():
    _, y, value, inv_det = _extreme_at(layers.PLANAR_CONTRACTION, "max")
    assert y == pytest.approx(1.0) and value > 2.0
    assert np.ptp(inv_det[:, 50]) < 1e-12  # constant along the line: it depends on y only
    assert inv_det.min() >= 1.0 - 1e-12  # a contraction nowhere dilutes


def test_planar_expansion_is_lowest_on_the_line_x_equals_1():
    x, _, value, inv_det = _extreme_at(layers.PLANAR_EXPANSION, "min")
    assert x == pytest.approx(1.0) and value < 0.7
    assert inv_det.max() <= 1.0 + 1e-12


@pytest.mark.parametrize("layer, kind", [(layers.RADIAL_CONTRACTION, "max"), (layers.RADIAL_EXPANSION, "min")],
                         ids=["contraction", "expansion"])
def test_radial_layers_act_most_at_their_reference_point(layer, kind):
    x, y, value, _ = _extreme_at(layer, kind)
    assert (x, y) == (pytest.approx(1.0), pytest.approx(1.0))
    assert value > 5.0 if kind == "max" else value < 0.2


def _mode(X, Y, q):
    index = np.unravel_index(np.argmax(q), q.shape)
    return np.array([X[index], Y[index]])


def test_planar_contraction_raises_a_ridge_on_y_equals_1(densities):
    X, Y, q = densities["fig12"]
    assert abs(_mode(X, Y, q)[1] - 1.0) < 0.05
    assert q.max() > 1.5 * stats.multivariate_normal(np.zeros(2)).pdf([0.0, 0.0])


def test_planar_expansions_open_a_valley_across_x_equals_1(densities):
    X, Y, q = densities["fig13"]
    # Both layer kinds act on one coordinate each, so the warped grid stays rectilinear.
    assert np.ptp(X, axis=1).max() < 1e-12 and np.ptp(Y, axis=0).max() < 1e-12
    row = np.argmin(np.abs(Y[0] - 0.0))
    x, profile = X[:, row], q[:, row]
    valley = np.argmin(np.where(np.abs(x - 1.0) < 0.5, profile, np.inf))
    assert profile[:valley].max() > 3 * profile[valley] and profile[valley:].max() > 1.5 * profile[valley]


def test_radial_contraction_peaks_at_its_reference_point(densities):
    np.testing.assert_allclose(_mode(*densities["fig15"]), [0.75, 0.75], atol=0.031)


def test_radial_expansion_hollows_the_contracted_peak(densities):
    X, Y, q15 = densities["fig15"]
    q16 = densities["fig16"][2]
    at = np.unravel_index(np.argmin((X - 0.85) ** 2 + (Y - 0.85) ** 2), X.shape)
    assert q16[at] < 0.25 * q15[at]


def test_quick_run_writes_every_figure_and_the_report(tmp_path):
    out = tmp_path / "flow_geometry"
    flow_geometry.main(["--quick", "--out", str(out)])
    for fid, (_, filename) in figures.FIGURES.items():
        path = out / filename
        assert path.exists() and path.stat().st_size > 10_000, fid
    report = (out / "report.md").read_text()
    for number in range(8, 17):
        assert f"### Figure {number} " in report
        assert f"![Fig. {number}](flow_geometry/fig{number}_" in report
    results = json.loads((out / "results.json").read_text())
    assert set(results["extra"]["densities"]) == set(DENSITY_FIGURES)
    assert set(results["extra"]["parameters"]) == set(figures.FIGURES)
    assert results["extra"]["measured"]["fig8"]["beyond"] == 2  # e^2.5 and e^3 lie right of the plot
    assert {c["verdict"] for c in results["extra"]["claims"]} == {HOLDS}
    assert report.startswith("**Quick run, reduced scale**")
    for judgement in ("Agrees with", "As in the thesis", "Does not agree"):
        assert judgement not in report, judgement


def test_fig8_counts_the_points_beyond_the_plot():
    data = jobs.exponential_flow()
    assert (jobs.beyond_plot(data["z_prime"]) == int(np.sum(np.exp(np.linspace(-3, 3, config.EXP_SAMPLES)) > 8.0))
            == 2)
    assert "2 of their images lie beyond" in fgr.note_fig8(jobs.measure(config.QUICK)["fig8"]).measured


@pytest.fixture(scope="module")
def measured():
    return jobs.measure(config.QUICK)


def test_every_figure_agrees_with_its_caption_at_full_grid(measured):
    notes = fgr.notes(jobs.measure(config.FULL))
    for fid, note in notes.items():
        assert "Does not agree" not in note.study and "Unlike" not in note.study and "bug" not in note.study, fid


def test_a_moved_valley_flips_the_fig13_sentence(measured):
    m = dict(measured["fig13"])
    assert fgr.note_fig13(m).study.startswith("Agrees")
    m["valley"] = 2.5  # the lowest point between the lobes no longer on x = 1
    assert fgr.note_fig13(m).study.startswith("Does not agree")


def test_a_filled_crater_flips_the_fig16_sentence(measured):
    m = dict(measured["fig16"])
    assert fgr.note_fig16(m).study.startswith("Agrees")
    m["after"] = m["before"]
    assert fgr.note_fig16(m).study.startswith("Does not agree")


def test_a_wrong_kind_of_layer_flips_the_det_sentence(measured):
    panels = [dict(p) for p in measured["fig10"]]
    assert fgr.note_det("fig10", panels).study.startswith("Agrees")
    panels[0]["value"] = 1.0 / panels[0]["value"]  # the expansion panel now shows a contraction
    assert fgr.note_det("fig10", panels).study.startswith("Does not agree")


def test_the_fig16_sentence_follows_the_sign_of_the_change(measured):
    m = dict(measured["fig16"])
    assert "density falls from" in fgr.note_fig16(m).measured
    m["after"] = 2 * m["before"]
    note = fgr.note_fig16(m)
    assert "density rises from" in note.measured and note.study.startswith("Does not agree")
    m["after"] = m["before"]
    assert "stays at" in fgr.note_fig16(m).measured
    m["before"] = 0.0  # no share of nothing
    assert fgr.note_fig16(m).study.startswith("Does not agree")


@pytest.mark.parametrize("point, where", [((-0.3, -0.3), "in the lower left quadrant"),
                                          ((0.3, -0.3), "in the lower right quadrant"),
                                          ((-0.3, 0.3), "in the upper left quadrant"),
                                          ((0.3, 0.3), "in the upper right quadrant"),
                                          ((0.01, -0.3), "on an axis through the origin")])
def test_quadrant_is_named_from_the_signs(point, where):
    assert fgr.quadrant(point, 0.05) == where


def test_the_fig13_sentence_checks_the_ridge_and_names_the_lower_lobe(measured):
    m = dict(measured["fig13"])
    note = fgr.note_fig13(m)
    assert (note.study.startswith("Agrees")
            and f"the ridge along {layers.site(layers.PLANAR_CONTRACTION)} remains" in note.study)
    lower = "right" if m["right_height"] < m["left_height"] else "left"
    assert f"the lower {lower} lobe" in note.measured
    off = dict(m, ridge_distance=10 * m["spacing"])  # the mode leaves the line y = 1
    assert "the mode leaves the ridge" in fgr.note_fig13(off).study
    flat = dict(m, left_height=m["right_height"], right_height=m["left_height"])
    assert f"the lower {'left' if lower == 'right' else 'right'} lobe" in fgr.note_fig13(flat).measured
    empty = dict(m, right_height=0.0)
    assert "the smaller lobe having no height" in fgr.note_fig13(empty).measured


def test_sites_and_titles_come_from_the_layers():
    assert layers.site(layers.PLANAR_CONTRACTION) == "y = 1" and layers.site(layers.PLANAR_EXPANSION) == "x = 1"
    assert layers.site(layers.RADIAL_FROM_085) == "[0.85, 0.85]"
    assert figures.FIGURES["fig16"][0].endswith(f"expanded away from {layers.site(layers.FLOWS['fig16'][-1])}")


def test_the_det_sentence_says_where_a_panel_crosses_1(measured):
    panels = [dict(p) for p in measured["fig10"]]
    panels[0]["highest"] = 1.2  # the expansion panel goes above 1 somewhere
    text = fgr.note_det("fig10", panels)
    assert "goes above 1 somewhere (max 1.200)" in text.measured and text.study.startswith("Does not agree")


def test_the_fig16_profile_shows_the_hollow():
    point = layers.RADIAL_FROM_085.z0
    x, after = jobs.line_density(layers.FLOWS["fig16"], point, -1.5, 2.5)
    _, before = jobs.line_density(layers.FLOWS["fig15"], point, -1.5, 2.5)
    at = np.argmin(np.abs(x - point[0]))
    assert after[at] < fgr.CRATER * before[at]


def test_every_claim_holds_and_flips_with_its_number(measured):
    """Section IV's statements, checked on the exact densities: each holds, and a moved number flips it."""
    rows = fgc.checked(measured)
    assert len(rows) == 9 and {c["verdict"] for c in rows} == {HOLDS}
    flips = {"the exponential flow": ("fig8", dict(mode=1.5)), "a planar contraction": ("fig12", dict(distance=1.0)),
             "planar expansions": ("fig13", dict(valley=2.5)), "a radial contraction": ("fig15", dict(distance=1.0))}
    for text, (fid, change) in flips.items():
        moved = dict(measured, **{fid: dict(measured[fid], **change)})
        assert next(c for c in fgc.checked(moved) if c["claim"].startswith(text))["verdict"] == FAILS, text
    filled = dict(measured, fig16=dict(measured["fig16"], after=measured["fig16"]["before"]))
    assert next(c for c in fgc.checked(filled) if "hollows" in c["claim"])["verdict"] == FAILS
    wrong = dict(measured, fig14=[dict(p, value=1.0 / p["value"]) for p in measured["fig14"]])
    assert [c["verdict"] for c in fgc.checked(wrong) if c["section"] == "IV.B, Fig. 14"] == [FAILS, FAILS]
