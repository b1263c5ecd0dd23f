"""Surrogates: shapes, seeds, initialisation, and consistent densities."""
import numpy as np
import pytest

import vinf

FAMILIES = {
    "mean_field": lambda dim, **kw: vinf.surrogates.mean_field(dim, **kw),
    "full_rank": lambda dim, **kw: vinf.surrogates.full_rank(dim, **kw),
    "planar": lambda dim, **kw: vinf.surrogates.planar(dim, num_flows=4, **kw),
    "radial": lambda dim, **kw: vinf.surrogates.radial(dim, num_flows=4, **kw),
}


@pytest.mark.parametrize("family", FAMILIES)
def test_shapes_seeds_and_initialisation(family):
    make = FAMILIES[family]
    q = make(3, seed=1, batch_shape=[2])
    z, log_q = q.experimental_sample_and_log_prob(5, seed=(0, 1))
    assert z.shape == (5, 2, 3) and log_q.shape == (5, 2)
    assert np.all(np.isfinite(log_q.numpy()))
    same = [v.numpy() for v in make(3, seed=1, batch_shape=[2]).trainable_variables]
    other = [v.numpy() for v in make(3, seed=2, batch_shape=[2]).trainable_variables]
    for v, b, c in zip(q.trainable_variables, same, other):
        a = v.numpy()
        assert a.shape[0] == 2, "every variable starts with the batch shape"
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)
        if not v.name.startswith("planar_w"):
            assert np.all(np.abs(a) < 0.1), "raw parameters start near zero (sd 1e-2, thesis section V)"


@pytest.mark.parametrize("dim", [1, 3, 10])
def test_planar_w_starts_at_unit_scale_and_u_hat_stays_moderate(dim):
    """``w`` ~ N(0, 1/D) so |w| is near 1 and the eq. 64 correction (which grows as 1/|w|) stays small."""
    q = vinf.surrogates.planar(dim, num_flows=500, seed=0)
    (w,) = [v.numpy() for v in q.trainable_variables if v.name.startswith("planar_w")]
    (u,) = [v.numpy() for v in q.trainable_variables if v.name.startswith("planar_u")]
    assert abs(w.std() * np.sqrt(dim) - 1) < 0.1
    assert abs(u.std() / vinf.surrogates.INIT_SCALE - 1) < 0.1
    u_hat = vinf.bijectors.planar_u_hat(u, w).numpy()
    assert np.median(np.linalg.norm(u_hat, axis=-1)) < 1.0


@pytest.mark.parametrize("family", ["mean_field", "full_rank", "radial"])
def test_log_prob_of_fresh_points_matches_sample_and_log_prob(family):
    """For invertible families, log_prob at new tensors (no cache) equals the density of the draws."""
    q = FAMILIES[family](2, seed=0)
    z, log_q = q.experimental_sample_and_log_prob(100, seed=(3, 4))
    np.testing.assert_allclose(q.log_prob(z.numpy()).numpy(), log_q.numpy(), atol=1e-4)


@pytest.mark.parametrize("family", FAMILIES)
def test_bad_arguments(family):
    with pytest.raises(ValueError, match="dim"):
        FAMILIES[family](0)
    with pytest.raises(ValueError, match="batch_shape"):
        FAMILIES[family](2, batch_shape=[0])
    if family in ("planar", "radial"):
        with pytest.raises(ValueError, match="num_flows"):
            getattr(vinf.surrogates, family)(2, num_flows=0)
