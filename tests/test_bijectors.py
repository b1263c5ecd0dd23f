"""Exactness of the planar, radial and model-informed flows: log-det-Jacobians against autodiff, inverses,
densities; eqs. 64 and 75 and their inverses; TFP's bijector contract (parameter properties, CompositeTensor,
validation)."""
import functools

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from vinf.bijectors import (
    LEAKY_RELU_SLOPE,
    PLANAR_ACTIVATIONS,
    ModelInformed,
    ModelInformedStack,
    Planar,
    PlanarStack,
    Radial,
    RadialStack,
    planar_raw_u,
    planar_u_hat,
    radial_beta_hat,
    radial_raw_beta,
    softplus_inverse,
)

from autodiff import jacobian_and_log_abs_det

tfb, tfd = tfp.bijectors, tfp.distributions
DIMS = [1, 2, 5, 10]


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
        _, sign, expected = jacobian_and_log_abs_det(bijector, x)
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


def _toy_prior(y):
    """The conditional priors of a toy hierarchy, in its order, groups ``(1, 1, D - 2)``: a root ``N(0.5, 2^2)``,
    a root without prior inputs ``(0, 0)``, then children ``N(y0 + sin(y1), exp(0.5 y1 - 0.1 y0^2)^2)``."""
    y0, y1, rest = y[..., :1], y[..., 1:2], tf.ones_like(y[..., 2:])
    loc = tf.concat([0.5 * tf.ones_like(y0), tf.zeros_like(y1), (y0 + tf.sin(y1)) * rest], axis=-1)
    log_scale = tf.concat([np.log(2.0) * tf.ones_like(y0), tf.zeros_like(y1), (0.5 * y1 - 0.1 * y0**2) * rest], axis=-1)
    return loc, log_scale


def _toy_groups(dim):
    return (1, 1, dim - 2)


def _mif_params(rng, shape, dim, full_rank=True):
    """Parameters of model-informed layers of ``shape`` (``[D]`` or ``[K, D]``), well away from their start."""
    params = dict(
        shift=rng.normal(size=shape), log_scale=0.3 * rng.normal(size=shape),
        lam=rng.uniform(-0.5, 1.5, size=shape), gamma=rng.uniform(-0.5, 1.5, size=shape),
    )
    if full_rank:
        params["tril"] = 0.5 * rng.normal(size=shape + (dim,))
    return params


@pytest.mark.parametrize("kind", ["planar", "planar-leaky_relu", "radial", "mif"])
def test_stack_equals_chain_of_layers(kind):
    rng = np.random.default_rng(7)
    dim, num_layers = 3, 5
    if kind.startswith("planar"):
        params = dict(u=rng.normal(size=(num_layers, dim)), w=rng.normal(size=(num_layers, dim)), b=rng.normal(size=num_layers))
        settings = dict(activation="leaky_relu") if kind == "planar-leaky_relu" else {}
        stack, chain = _stack_and_chain(PlanarStack, Planar, params, dict(u=-2, w=-2, b=-1), **settings)
    elif kind.startswith("mif"):
        params = _mif_params(rng, (num_layers, dim), dim)
        axes = dict(shift=-2, log_scale=-2, lam=-2, gamma=-2, tril=-3)
        stack, chain = _stack_and_chain(ModelInformedStack, ModelInformed, params, axes, prior=_toy_prior,
                                        group_sizes=_toy_groups(dim))
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
    _, sign, expected = jacobian_and_log_abs_det(stack, x)
    np.testing.assert_allclose(stack.forward_log_det_jacobian(x, event_ndims=1).numpy(), expected, atol=1e-8)
    assert np.all(sign > 0)
    if not kind.startswith("planar"):
        np.testing.assert_allclose(stack.inverse(tf.constant(stack.forward(x).numpy())).numpy(), x, atol=1e-9)


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


# ------------------------------------------------------------------ model-informed layers


@pytest.mark.parametrize("full_rank", [True, False], ids=["full_rank", "diagonal"])
def test_model_informed_log_det_matches_autodiff_and_the_inverse_undoes_forward(full_rank):
    rng = np.random.default_rng(3 + full_rank)
    dim = 5
    for _ in range(3):
        layer = ModelInformed(**_mif_params(rng, (dim,), dim, full_rank), prior=_toy_prior,
                              group_sizes=_toy_groups(dim))
        x = rng.normal(size=(64, dim))
        _, sign, expected = jacobian_and_log_abs_det(layer, x)
        ldj = layer.forward_log_det_jacobian(x, event_ndims=1).numpy()
        np.testing.assert_allclose(ldj, expected, rtol=1e-8, atol=1e-8)
        assert np.all(sign > 0)
        y = tf.constant(layer.forward(x).numpy())  # a fresh tensor, not in the bijector cache: the inverse runs
        np.testing.assert_allclose(layer.inverse(y).numpy(), x, atol=1e-9)
        np.testing.assert_allclose(layer.inverse_log_det_jacobian(y, event_ndims=1).numpy(), -ldj, atol=1e-9)


def test_one_model_informed_layer_with_gamma_one_minus_lambda_is_vip():
    """Gorinova et al. (2020): z_tilde = a + C x (C lower-triangular, diagonal exp(s): VIP's full-rank
    Gaussian), then z = f + g^(1 - lambda) (z_tilde - lambda f), variable by variable with f, g at the z drawn."""
    rng = np.random.default_rng(5)
    dim = 5
    params = _mif_params(rng, (dim,), dim)
    params["gamma"] = 1.0 - params["lam"]
    layer = ModelInformed(**params, prior=_toy_prior, group_sizes=_toy_groups(dim))
    x = rng.normal(size=(20, dim))
    z_tilde = params["shift"] + x @ (np.diag(np.exp(params["log_scale"])) + np.tril(params["tril"], -1)).T
    lam = params["lam"]
    z = np.empty_like(x)
    z[:, 0] = 0.5 + 2.0 ** (1 - lam[0]) * (z_tilde[:, 0] - lam[0] * 0.5)
    z[:, 1] = z_tilde[:, 1]  # no prior inputs: f = 0, g = 1
    f = (z[:, 0] + np.sin(z[:, 1]))[:, None]
    g = np.exp(0.5 * z[:, 1] - 0.1 * z[:, 0] ** 2)[:, None]
    z[:, 2:] = f + g ** (1 - lam[2:]) * (z_tilde[:, 2:] - lam[2:] * f)
    np.testing.assert_allclose(layer.forward(x).numpy(), z, atol=1e-12)


def test_model_informed_refuses_bad_settings():
    params = _mif_params(np.random.default_rng(0), (3,), 3)
    with pytest.raises(ValueError, match=r"group_sizes \(1, 1, 2\) cover 4 coordinates, the flow acts on 3"):
        ModelInformed(**params, prior=_toy_prior, group_sizes=(1, 1, 2))
    with pytest.raises(ValueError, match="group_sizes must be positive integers"):
        ModelInformed(**params, prior=_toy_prior, group_sizes=(1, 0, 2))
    with pytest.raises(ValueError, match="prior must be callable"):
        ModelInformedStack(**{k: v[None] for k, v in params.items()}, prior=None, group_sizes=(1, 1, 1))


# ------------------------------------------------------------------ eqs. 64 and 75 inverted


def test_softplus_inverse_inverts_softplus():
    x = np.logspace(-12, 2.5, 200)
    np.testing.assert_allclose(np.logaddexp(0.0, softplus_inverse(x)), x, rtol=1e-12)
    assert softplus_inverse(np.float32(1.0)).dtype == np.float32
    with pytest.raises(ValueError, match="softplus_inverse needs x > 0"):
        softplus_inverse([1.0, 0.0])


def test_planar_raw_u_inverts_eq_64():
    rng = np.random.default_rng(2)
    u, w = 1.5 * rng.normal(size=(500, 4)), rng.normal(size=(500, 4))
    u_hat = planar_u_hat(tf.constant(u), tf.constant(w)).numpy()
    raw = planar_raw_u(u_hat, w)
    np.testing.assert_allclose(raw, u, atol=1e-9)  # eq. 64 is one-to-one in u
    np.testing.assert_allclose(planar_u_hat(tf.constant(raw), tf.constant(w)).numpy(), u_hat, atol=1e-12)
    with pytest.raises(ValueError, match="w\\^T u_hat = -1 <= -1: no raw u"):
        planar_raw_u([-1.0, 0.0], [1.0, 0.0])
    with pytest.raises(ValueError, match="w != 0"):
        planar_raw_u([1.0, 0.0], [0.0, 0.0])


def test_radial_raw_beta_inverts_eq_75():
    rng = np.random.default_rng(3)
    alpha, beta = rng.uniform(0.1, 2.0, size=500), 3.0 * rng.normal(size=500)
    beta_hat = radial_beta_hat(tf.constant(alpha), tf.constant(beta)).numpy()
    raw = radial_raw_beta(alpha, beta_hat)
    np.testing.assert_allclose(raw, beta, atol=1e-9)
    np.testing.assert_allclose(radial_beta_hat(tf.constant(alpha), tf.constant(raw)).numpy(), beta_hat, atol=1e-12)
    with pytest.raises(ValueError, match="no raw beta gives this beta_hat"):
        radial_raw_beta(1.0, [0.5, -1.0])


# ------------------------------------------------------------------ TFP's bijector contract

FLOW_CLASSES = [Planar, PlanarStack, Radial, RadialStack, ModelInformed, ModelInformedStack]


@pytest.mark.parametrize("flow_class", FLOW_CLASSES, ids=lambda c: c.__name__)
def test_parameter_properties_declare_each_constraint(flow_class):
    """TFP's tools (e.g. tfp.experimental.util.make_trainable) read the constraints here: Radial's alpha is
    positive (a Softplus), every other parameter is unconstrained."""
    properties = flow_class.parameter_properties(tf.float64)
    for key, prop in properties.items():
        bijector = prop.default_constraining_bijector_fn()
        if key == "alpha":
            assert isinstance(bijector, tfb.Softplus)
            assert np.all(bijector.forward(np.array([-50.0, 0.0, 50.0])).numpy() > 0)
        else:
            assert isinstance(bijector, tfb.Identity)


def _variable_flows():
    """One stack of each family with trainable variables (Radial's alpha through a Softplus)."""
    rng = np.random.default_rng(4)
    dim, num_layers = 3, 2
    mif = _mif_params(rng, (num_layers, dim), dim)
    return [
        PlanarStack(*(tf.Variable(rng.normal(size=s)) for s in [(num_layers, dim), (num_layers, dim), (num_layers,)])),
        RadialStack(tf.Variable(rng.normal(size=(num_layers, dim))),
                    tfp.util.TransformedVariable(np.ones(num_layers), tfb.Softplus()),
                    tf.Variable(rng.normal(size=num_layers))),
        ModelInformedStack(**{k: tf.Variable(v) for k, v in mif.items()}, prior=_toy_prior,
                           group_sizes=_toy_groups(dim)),
    ]


@pytest.mark.parametrize("flow", _variable_flows(), ids=lambda b: type(b).__name__)
def test_flows_are_composite_tensors(flow):
    """A flow enters a compiled function as an argument without baking its variables in (one trace sees their
    later values), and is rebuilt from its tensor parts."""
    x = tf.constant(np.random.default_rng(0).normal(size=(10, 3)))

    @tf.function(autograph=False)
    def forward(bijector, x):
        return bijector.forward(x)

    np.testing.assert_allclose(forward(flow, x).numpy(), flow.forward(x).numpy(), atol=1e-12)
    for v in flow.trainable_variables:
        v.assign(v + 0.1)
    np.testing.assert_allclose(forward(flow, x).numpy(), flow.forward(x).numpy(), atol=1e-12)
    assert forward.experimental_get_tracing_count() == 1
    parts = tf.nest.flatten(flow, expand_composites=True)
    rebuilt = tf.nest.pack_sequence_as(flow, parts, expand_composites=True)
    assert type(rebuilt) is type(flow)
    np.testing.assert_allclose(rebuilt.forward(x).numpy(), flow.forward(x).numpy(), atol=1e-12)


def test_validation_checks_constants_once_and_variables_at_every_call():
    """TFP's is_init idiom: a constant is checked when the flow is built, a variable whenever it is used."""
    with pytest.raises(tf.errors.InvalidArgumentError, match="alpha must be positive"):
        Radial(z0=[0.0], alpha=-1.0, beta=0.0, validate_args=True)
    with pytest.raises(tf.errors.InvalidArgumentError, match="w must be nonzero"):
        PlanarStack(u=[[1.0, 0.0]], w=[[0.0, 0.0]], b=[0.0], validate_args=True)
    alpha = tf.Variable([1.0, 2.0])
    stack = RadialStack(z0=[[0.0], [1.0]], alpha=alpha, beta=[0.0, 0.0], validate_args=True)
    stack.forward([[1.0]])
    alpha.assign([1.0, -2.0])
    with pytest.raises(tf.errors.InvalidArgumentError, match="alpha must be positive"):
        stack.forward([[1.0]])
