"""Surrogates: every family by name passes one harness (shapes, seeds, independent batch members,
exact densities, saving); the registry's errors; the planar initialisation."""
import functools

import numpy as np
import pytest
import tensorflow as tf

import vinf


@functools.lru_cache(maxsize=None)
def one_school(dim):
    """A hierarchical target of ``dim`` coordinates for the model-informed family: the one-school centred
    eight-schools model pinned at y = 28 (mu, tau, theta; dim 3), with mu pinned at 0 too for dim 2."""
    pins = dict(y=[28.0], mu=0.0) if dim == 2 else dict(y=[28.0])
    return vinf.targets.from_joint_distribution(vinf.targets.eight_schools_model(centered=True, num_schools=1), **pins)


# One line per case, "family" or "family-variant": the options that keep it small in tests (an option
# given as a function is called with the dimension).
SMALL = {
    "mean_field": {},
    "full_rank": {},
    "planar": dict(num_flows=4),
    "planar-leaky_relu": dict(num_flows=4, activation="leaky_relu"),
    "radial": dict(num_flows=4),
    "iaf": dict(num_flows=2, hidden_units=(8,)),
    "realnvp": dict(num_flows=2, hidden_units=(8,)),
    "spline": dict(num_flows=2, hidden_units=(8,), num_bins=4),
    "mif": dict(num_flows=2, target=one_school),
}


def family(case):
    return case.split("-")[0]


def make(case, dim=3, **kwargs):
    options = {key: value(dim) if callable(value) else value for key, value in SMALL[case].items()}
    return vinf.surrogates.get(family(case), dim, **options, **kwargs)


def test_every_registered_family_is_tested():
    assert set(vinf.surrogates.names()) == {family(case) for case in SMALL}


def _perturb(q, scale, seed=0):
    """Move every variable away from its near-identity start, so the flows are not trivial."""
    rng = np.random.default_rng(seed)
    for v in q.trainable_variables:
        v.assign(v + scale * rng.standard_normal(v.shape).astype(v.dtype.as_numpy_dtype))


@pytest.mark.parametrize("case", SMALL)
def test_shapes_seeds_and_initialisation(case):
    q = make(case, seed=1, batch_shape=[2])
    z, log_q = q.experimental_sample_and_log_prob(5, seed=(0, 1))
    assert z.shape == (5, 2, 3) and log_q.shape == (5, 2)
    assert np.all(np.isfinite(log_q.numpy()))
    same = [v.numpy() for v in make(case, seed=1, batch_shape=[2]).trainable_variables]
    other = [v.numpy() for v in make(case, seed=2, batch_shape=[2]).trainable_variables]
    for v, b, c in zip(q.trainable_variables, same, other):
        a = v.numpy()
        assert a.shape[0] == 2, "every variable starts with the batch shape"
        np.testing.assert_array_equal(a, b)
        if a.std() > 0:
            assert not np.array_equal(a, c)
    if family(case) == "planar":
        return  # eq. 64 makes a fresh planar layer contract along w: w^T u_hat = m(0) = -0.31
    # A fresh surrogate is close to N(loc, scale^2) with loc ~ 0 and scale ~ 1 (the mean-field start).
    draws = make(case, seed=1).sample(4000, seed=(2, 3)).numpy()
    np.testing.assert_allclose(draws.mean(axis=0), 0.0, atol=0.15)
    np.testing.assert_allclose(draws.std(axis=0), 1.0, atol=0.15)


@pytest.mark.parametrize("case", SMALL)
def test_batch_members_share_no_parameters(case):
    """Changing member 0's parameters leaves member 1's draws and densities untouched."""
    q = make(case, batch_shape=[2])
    before_z, before_lq = (x.numpy() for x in q.experimental_sample_and_log_prob(50, seed=(4, 5)))
    for v in q.trainable_variables:
        v.assign(tf.tensor_scatter_nd_add(v, [[0]], 0.3 * tf.ones_like(v[:1])))
    after_z, after_lq = (x.numpy() for x in q.experimental_sample_and_log_prob(50, seed=(4, 5)))
    np.testing.assert_allclose(after_z[:, 1], before_z[:, 1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(after_lq[:, 1], before_lq[:, 1], rtol=1e-5, atol=1e-5)
    assert not np.allclose(after_z[:, 0], before_z[:, 0])


def _planar_log_prob(q, y):
    """``log q(y)`` of a planar surrogate at any points ``[N, D]``, which its bijector cannot give (no
    closed-form inverse): each layer is inverted by bisection on ``a = w^T x + b``, the root of the
    increasing ``a + w^T u_hat h(a) = w^T y + b``, then eq. 59 from the base."""
    stack = q.bijector
    h = vinf.bijectors.PLANAR_ACTIVATIONS.factory(stack.activation)
    u, w, b = (tf.convert_to_tensor(stack.parameters[key]).numpy() for key in ("u", "w", "b"))
    u_hat = vinf.bijectors.planar_u_hat(u, w).numpy()
    x = y
    for k in reversed(range(stack.num_layers)):
        level, w_u_hat = x @ w[k] + b[k], w[k] @ u_hat[k]
        low, high = np.full(len(x), -1e4), np.full(len(x), 1e4)
        for _ in range(120):
            mid = (low + high) / 2
            above = mid + w_u_hat * h(tf.constant(mid))[0].numpy() > level
            low, high = np.where(above, low, mid), np.where(above, mid, high)
        x = x - u_hat[k] * h(tf.constant((low + high) / 2))[0].numpy()[:, None]
    np.testing.assert_allclose(stack.forward(x).numpy(), y, atol=1e-8)
    return q.distribution.log_prob(x).numpy() - stack.forward_log_det_jacobian(x, event_ndims=1).numpy()


def _log_prob_anywhere(q, points):
    if isinstance(getattr(q, "bijector", None), vinf.bijectors.PlanarStack):
        return _planar_log_prob(q, points)
    return q.log_prob(points).numpy()


@pytest.mark.parametrize("case", SMALL)
def test_density_integrates_to_one_and_matches_the_density_of_draws(case):
    """On a 2-D grid, exp(log q) of a perturbed surrogate integrates to one; log q at fresh
    tensors (no bijector cache, so the inverse runs) equals the density computed with the draws."""
    q = make(case, dim=2, dtype=tf.float64)
    _perturb(q, 0.3)
    z, log_q = q.experimental_sample_and_log_prob(200, seed=(3, 4))
    np.testing.assert_allclose(_log_prob_anywhere(q, z.numpy()), log_q.numpy(), rtol=1e-6, atol=1e-6)
    draws = z.numpy()
    low, high = draws.min(axis=0) - 6.0, draws.max(axis=0) + 6.0
    axes = [np.linspace(lo, hi, 401) for lo, hi in zip(low, high)]
    grid = np.stack([m.ravel() for m in np.meshgrid(*axes, indexing="ij")], axis=-1)
    mass = np.exp(_log_prob_anywhere(q, grid)).sum() * np.prod([a[1] - a[0] for a in axes])
    assert mass == pytest.approx(1.0, abs=5e-3)


@pytest.mark.parametrize("case", SMALL)
def test_save_and_restore_by_name(case, tmp_path):
    q = make(case, seed=0)
    _perturb(q, 0.1)
    prefix = vinf.surrogates.save(q, tmp_path / "q")
    other = make(case, seed=7)
    vinf.surrogates.restore(other, prefix)
    for a, b in zip(q.trainable_variables, other.trainable_variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    wrong = "radial" if family(case) != "radial" else "planar"
    with pytest.raises(ValueError, match="does not match"):
        vinf.surrogates.restore(make(wrong, seed=0), prefix)
    # The same in memory, by variable name.
    third = vinf.surrogates.load_state(make(case, seed=9), vinf.surrogates.state(q))
    for a, b in zip(q.trainable_variables, third.trainable_variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(ValueError, match="does not match"):
        vinf.surrogates.load_state(make(wrong, seed=0), vinf.surrogates.state(q))


@pytest.mark.parametrize("case", SMALL)
def test_float64_surrogates(case):
    q = make(case, dtype=tf.float64)
    assert q.dtype == tf.float64
    assert all(v.dtype == tf.float64 for v in q.trainable_variables)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: vinf.surrogates.get("maf", 2), "unknown family 'maf'; known families: mean_field, full_rank"),
        (lambda: vinf.surrogates.get("mean_field", 2, num_flows=3), "does not take num_flows; it takes: no options"),
        (lambda: vinf.surrogates.get("planar", 2, hidden_units=(4,)), "does not take hidden_units; it takes: num_flows"),
        (lambda: vinf.surrogates.get("planar", 0), "dim"),
        (lambda: vinf.surrogates.get("planar", 2.0), "dim"),
        (lambda: vinf.surrogates.get("planar", 2, batch_shape=[2.7]), "batch_shape"),
        (lambda: vinf.surrogates.get("planar", 2, batch_shape=[0]), "batch_shape"),
        (lambda: vinf.surrogates.get("radial", 2, num_flows=0), "num_flows"),
        (lambda: vinf.surrogates.get("iaf", 2, hidden_units=(0,)), "hidden_units"),
        (lambda: vinf.surrogates.get("iaf", 2, activation="nope"), "activation"),
        (lambda: vinf.surrogates.get("realnvp", 1), "needs dim >= 2"),
        (lambda: vinf.surrogates.get("mean_field", 2, seed=-1), "seed"),
        (lambda: vinf.surrogates.get("mean_field", 2, dtype=tf.int32), "dtype"),
        (lambda: vinf.surrogates.get("planar", 2, activation="relu"),
         "unknown planar activation 'relu'; known planar activations: tanh, leaky_relu"),
        (lambda: vinf.surrogates.get("mif", 3), "mif reads the model's hierarchy: pass target=.*got no target"),
        (lambda: vinf.surrogates.get("mif", 3, target=vinf.targets.get("eight_schools", num_schools=1)),
         "got Target 'eight_schools_centered_J1', which has none"),
        (lambda: vinf.surrogates.get("mif", 2, target=one_school(3)), "dim=2 but target .* has dim 3"),
        (lambda: vinf.surrogates.get("mif", 3, target=one_school(3), init="prior"),
         "unknown init 'prior'; choose one of: mean_field, non_centered"),
        (lambda: vinf.surrogates.get("iaf", 3, order=[0, 0, 1]), "order must be a permutation of range.3."),
        (lambda: vinf.surrogates.get("iaf", 3, order=[0, 1]), "order must be a permutation"),
    ],
)
def test_bad_arguments_raise_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_options_name_what_each_family_takes():
    assert vinf.surrogates.options("spline") == dict(num_flows=4, hidden_units=(64, 64), num_bins=8, activation="relu")
    assert vinf.surrogates.options("full_rank") == {}
    assert vinf.surrogates.options("planar") == dict(num_flows=64, w_scale=None, activation="tanh")


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


@pytest.mark.parametrize("family", ["iaf", "realnvp"])
def test_affine_flows_keep_each_layers_log_scale_within_its_bound(family):
    q = vinf.surrogates.get(family, 4, num_flows=2, hidden_units=(8,), seed=0)
    q.sample(1, seed=(0, 0))  # builds the networks
    for v in q.trainable_variables:
        if "kernel" in v.name or "bias" in v.name:
            v.assign(tf.fill(v.shape, 50.0))  # unbounded, exp(log-scale) would overflow
    z, log_q = q.experimental_sample_and_log_prob(64, seed=(1, 2))
    base = q.distribution.log_prob(q.bijector.inverse(z)).numpy()
    ldj = base - log_q.numpy()  # the flow's log|det| at each draw
    assert np.all(np.isfinite(z.numpy())) and np.all(np.isfinite(log_q.numpy()))
    flows_bound = 2 * 4 * vinf.surrogates.LOG_SCALE_BOUND  # layers x coordinates x bound
    scale = np.sum(np.log(q.bijector.bijectors[1].scale.numpy()))  # the final mean-field scale
    assert np.all(np.abs(ldj - scale) <= flows_bound + 1e-3)
