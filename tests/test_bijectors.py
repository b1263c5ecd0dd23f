"""Exactness of the planar and radial flows: log-det-Jacobians against autodiff, inverses, densities."""
import functools

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from vinf.bijectors import LEAKY_RELU_SLOPE, PLANAR_ACTIVATIONS, Planar, PlanarStack, Radial, RadialStack, planar_u_hat

tfb, tfd = tfp.bijectors, tfp.distributions
DIMS = [1, 2, 5, 10]


def _autodiff_log_abs_det(bijector, x):
    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = bijector.forward(x)
    jac = tape.batch_jacobian(y, x)
    sign, log_abs_det = tf.linalg.slogdet(jac)
    return sign.numpy(), log_abs_det.numpy()


def _planar(rng, dim, violate, activation="tanh"):
    u, w = rng.normal(size=dim), rng.normal(size=dim)
    if violate:  # make w.u far below -1, where the raw map is not invertible
        u = u - (w @ u + 3.0 + rng.uniform()) * w / (w @ w)
        assert w @ u < -1.0
    return Planar(u=u, w=w, b=rng.normal(), activation=activation)


def _radial(rng, dim, violate):
    alpha = rng.uniform(0.1, 2.0)
    beta = -5.0 - rng.uniform() if violate else rng.normal()
    return Radial(z0=rng.normal(size=dim), alpha=alpha, beta=beta)


@pytest.mark.parametrize(
    "make", [_planar, functools.partial(_planar, activation="leaky_relu"), _radial],
    ids=["planar", "planar-leaky_relu", "radial"],
)
@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("violate", [False, True], ids=["raw-ok", "raw-violating"])
def test_log_det_jacobian_matches_autodiff(make, dim, violate):
    rng = np.random.default_rng(dim + 10 * violate)
    for _ in range(4):
        bijector = make(rng, dim, violate)
        x = rng.normal(scale=2.0, size=(64, dim))
        sign, expected = _autodiff_log_abs_det(bijector, x)
        ldj = bijector.forward_log_det_jacobian(x, event_ndims=1).numpy()
        np.testing.assert_allclose(ldj, expected, rtol=1e-8, atol=1e-8)
        assert np.all(sign > 0), "the constrained flow must preserve orientation (det J > 0)"


# NumPy's h of every planar non-linearity: the flows must apply the function they are named after.
NUMPY_ACTIVATIONS = {"tanh": np.tanh, "leaky_relu": lambda a: np.where(a > 0, a, LEAKY_RELU_SLOPE * a)}


@pytest.mark.parametrize("activation", NUMPY_ACTIVATIONS)
def test_planar_applies_its_named_activation(activation):
    """``f(x) = x + u_hat h(w^T x + b)`` with NumPy's ``h``, through a layer and a stack of one."""
    assert set(NUMPY_ACTIVATIONS) == set(PLANAR_ACTIVATIONS.names())
    rng = np.random.default_rng(11)
    u, w, b = rng.normal(size=3), rng.normal(size=3), 0.3
    x = rng.normal(scale=2.0, size=(100, 3))
    u_hat = planar_u_hat(tf.constant(u), tf.constant(w)).numpy()
    expected = x + u_hat * NUMPY_ACTIVATIONS[activation](x @ w + b)[:, None]
    layer = Planar(u=u, w=w, b=b, activation=activation)
    stack = PlanarStack(u=u[None], w=w[None], b=[b], activation=activation)
    assert layer.activation == stack.activation == activation
    for flow in (layer, stack):
        np.testing.assert_allclose(flow.forward(x).numpy(), expected, atol=1e-12)


def test_unknown_planar_activation_is_refused():
    for make in (lambda: Planar(u=[1.0], w=[1.0], b=0.0, activation="relu"),
                 lambda: PlanarStack(u=[[1.0]], w=[[1.0]], b=[0.0], activation="relu")):
        with pytest.raises(ValueError, match="unknown planar activation 'relu'; known .*: tanh, leaky_relu"):
            make()


def test_planar_u_hat_enforces_invertibility_condition():
    rng = np.random.default_rng(0)
    u, w = rng.normal(size=(1000, 3)) * 5, rng.normal(size=(1000, 3))
    w_u_hat = np.sum(w * planar_u_hat(tf.constant(u), tf.constant(w)).numpy(), axis=-1)
    assert np.all(w_u_hat > -1.0)


@pytest.mark.parametrize("dim", DIMS)
def test_radial_inverse_undoes_forward(dim):
    rng = np.random.default_rng(dim)
    for violate in (False, True):
        bijector = _radial(rng, dim, violate)
        x = rng.normal(scale=3.0, size=(200, dim))
        np.testing.assert_allclose(bijector.inverse(bijector.forward(x)).numpy(), x, atol=1e-9)
        ildj = bijector.inverse_log_det_jacobian(bijector.forward(x), event_ndims=1).numpy()
        np.testing.assert_allclose(ildj, -bijector.forward_log_det_jacobian(x, event_ndims=1).numpy(), atol=1e-9)


def _grid_mass(dist, half_width=9.0, num=801):
    axis = np.linspace(-half_width, half_width, num)
    xx, yy = np.meshgrid(axis, axis, indexing="ij")
    points = np.stack([xx.ravel(), yy.ravel()], axis=-1)
    density = dist.prob(points).numpy()
    return density.sum() * (axis[1] - axis[0]) ** 2


def test_radial_flow_density_integrates_to_one():
    rng = np.random.default_rng(3)
    base = tfd.MultivariateNormalDiag(loc=np.zeros(2), scale_diag=np.ones(2))
    layers = [Radial(z0=rng.normal(size=2), alpha=rng.uniform(0.3, 1.5), beta=rng.normal(scale=2.0)) for _ in range(4)]
    flow = tfd.TransformedDistribution(base, tfb.Chain(layers[::-1]))
    assert _grid_mass(flow) == pytest.approx(1.0, abs=2e-3)


def _stack_and_chain(stack_class, layer_class, params, layer_axes, **settings):
    num_layers = next(iter(params.values())).shape[layer_axes[next(iter(params))]]
    layers = [
        layer_class(**{key: np.take(value, k, axis=layer_axes[key]) for key, value in params.items()}, **settings)
        for k in range(num_layers)
    ]
    return stack_class(**params, **settings), tfb.Chain(layers[::-1])


@pytest.mark.parametrize("kind", ["planar", "planar-leaky_relu", "radial"])
def test_stack_equals_chain_of_layers(kind):
    rng = np.random.default_rng(7)
    dim, num_layers = 3, 5
    if kind.startswith("planar"):
        params = dict(u=rng.normal(size=(num_layers, dim)), w=rng.normal(size=(num_layers, dim)), b=rng.normal(size=num_layers))
        settings = dict(activation="leaky_relu") if kind == "planar-leaky_relu" else {}
        stack, chain = _stack_and_chain(PlanarStack, Planar, params, dict(u=-2, w=-2, b=-1), **settings)
    else:
        params = dict(z0=rng.normal(size=(num_layers, dim)), alpha=rng.uniform(0.2, 2, size=num_layers), beta=rng.normal(size=num_layers))
        stack, chain = _stack_and_chain(RadialStack, Radial, params, dict(z0=-2, alpha=-1, beta=-1))
    x = rng.normal(size=(50, dim))
    np.testing.assert_allclose(stack.forward(x).numpy(), chain.forward(x).numpy(), atol=1e-10)
    np.testing.assert_allclose(
        stack.forward_log_det_jacobian(x, event_ndims=1).numpy(),
        chain.forward_log_det_jacobian(x, event_ndims=1).numpy(),
        atol=1e-10,
    )
    sign, expected = _autodiff_log_abs_det(stack, x)
    np.testing.assert_allclose(stack.forward_log_det_jacobian(x, event_ndims=1).numpy(), expected, atol=1e-8)
    assert np.all(sign > 0)
    if kind == "radial":
        np.testing.assert_allclose(stack.inverse(stack.forward(x)).numpy(), x, atol=1e-9)


def test_stack_broadcasts_batched_parameters():
    rng = np.random.default_rng(1)
    batch, num_layers, dim = 4, 3, 2
    stack = PlanarStack(
        u=rng.normal(size=(batch, num_layers, dim)),
        w=rng.normal(size=(batch, num_layers, dim)),
        b=rng.normal(size=(batch, num_layers)),
    )
    x = rng.normal(size=(10, batch, dim))
    y = stack.forward(x).numpy()
    for r in range(batch):
        single = PlanarStack(u=stack.parameters["u"][r], w=stack.parameters["w"][r], b=stack.parameters["b"][r])
        np.testing.assert_allclose(y[:, r], single.forward(x[:, r]).numpy(), atol=1e-12)
    assert stack.forward_log_det_jacobian(x, event_ndims=1).shape == (10, batch)


def test_planar_chain_scores_its_own_draws():
    """Planar has no inverse, yet sampling then log_prob of the same draws works (the bijector cache)."""
    rng = np.random.default_rng(5)
    layers = [
        Planar(u=rng.normal(size=2), w=rng.normal(size=2), b=rng.normal(), name=f"planar_{k}")
        for k in range(3)
    ]
    base = tfd.MultivariateNormalDiag(loc=np.zeros(2))
    flow = tfd.TransformedDistribution(base, tfb.Chain(layers[::-1]))
    z = flow.sample(100, seed=(1, 2))
    z_again, log_q = flow.experimental_sample_and_log_prob(100, seed=(1, 2))
    np.testing.assert_allclose(z.numpy(), z_again.numpy(), atol=1e-6)
    np.testing.assert_allclose(flow.log_prob(z).numpy(), log_q.numpy(), atol=1e-4)
    with pytest.raises(NotImplementedError, match="no closed-form inverse"):
        layers[0].inverse(tf.constant([[0.0, 1.0]], dtype=tf.float64))


def test_radial_validate_args_rejects_non_positive_alpha():
    with pytest.raises(tf.errors.InvalidArgumentError, match="alpha must be positive"):
        Radial(z0=[0.0], alpha=-1.0, beta=0.0, validate_args=True).forward([[1.0]])


@pytest.mark.parametrize("dim", [1, 2])
def test_radial_log_det_stays_finite_where_beta_hat_rounds_to_minus_alpha(dim):
    """softplus(-30) is 1e-13, so in float32 beta_hat = -alpha + 1e-13 rounds to -alpha; at z = z0 the
    log-det is then log(softplus(beta)) - ..., finite, where log1p(beta_hat h) would be log(0)."""
    z0 = np.full(dim, 0.5, dtype=np.float32)
    layer32 = Radial(z0=z0, alpha=np.float32(1.0), beta=np.float32(-30.0))
    layer64 = Radial(z0=z0.astype(np.float64), alpha=1.0, beta=-30.0)
    x = np.stack([z0, z0 + 1e-3, z0 + 1.0]).astype(np.float32)
    ldj32 = layer32.forward_log_det_jacobian(x, event_ndims=1).numpy()
    assert np.all(np.isfinite(ldj32))
    ldj64 = layer64.forward_log_det_jacobian(x.astype(np.float64), event_ndims=1).numpy()
    np.testing.assert_allclose(ldj32, ldj64, rtol=1e-5)
