"""vinf.fit: argument checks, divergence handling, reuse of the compiled step, the best-parameter
checkpoint, every family on a correlated Gaussian, any TFP flow, float64."""
import gc
import sys
import weakref

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import vinf

tfb, tfd = tfp.bijectors, tfp.distributions

fit_module = sys.modules["vinf.fit"]


def gaussian_log_prob(z):
    """Unnormalised N(z | (1, -2), diag(0.5^2, 2^2))."""
    loc = tf.constant([1.0, -2.0], dtype=z.dtype)
    scale = tf.constant([0.5, 2.0], dtype=z.dtype)
    return -0.5 * tf.reduce_sum(tf.square((z - loc) / scale), axis=-1)


@pytest.fixture(scope="module")
def mean_field_fit():
    q = vinf.surrogates.mean_field(2, seed=0)
    result = vinf.fit(gaussian_log_prob, q, num_steps=1500, sample_size=200, seed=0, progress=False)
    return q, result


def test_mean_field_recovers_a_gaussian_target(mean_field_fit):
    q, _ = mean_field_fit
    np.testing.assert_allclose(q.mean().numpy(), [1.0, -2.0], atol=0.1)
    np.testing.assert_allclose(q.stddev().numpy(), [0.5, 2.0], rtol=0.1)


def test_best_parameters_are_restored(mean_field_fit):
    q, result = mean_field_fit
    assert result.loss.shape == (1500,)
    smoothed = fit_module.smoothed_loss(result.loss)
    assert result.best_step == int(np.argmin(smoothed))
    assert result.best_loss == pytest.approx(float(np.min(smoothed)), rel=1e-5)
    np.testing.assert_allclose(result.elbo, -result.loss)


def test_second_fit_reuses_the_compiled_step(mean_field_fit):
    q, _ = mean_field_fit
    vinf.fit(gaussian_log_prob, q, num_steps=300, sample_size=200, seed=3, learning_rate=5e-3, progress=False)
    vinf.fit(gaussian_log_prob, q, num_steps=777, sample_size=200, seed=4, progress=False)
    compiled = q._vinf_trainer.compiled
    assert len(compiled) == 1
    (run,) = compiled.values()
    assert run.experimental_get_tracing_count() == 1


def test_same_seed_gives_the_same_fit():
    traces = []
    for _ in range(2):
        q = vinf.surrogates.mean_field(2, seed=5)
        traces.append(vinf.fit(gaussian_log_prob, q, num_steps=300, sample_size=50, seed=11, progress=False).loss)
    np.testing.assert_array_equal(traces[0], traces[1])


def test_batched_surrogates_train_independently():
    q = vinf.surrogates.mean_field(2, seed=0, batch_shape=[3])
    result = vinf.fit(gaussian_log_prob, q, num_steps=1500, sample_size=200, seed=0, progress=False)
    assert result.loss.shape == (1500, 3)
    assert result.best_step.shape == (3,)
    np.testing.assert_array_equal(result.best_step, np.argmin(fit_module.smoothed_loss(result.loss), axis=0))
    np.testing.assert_allclose(q.mean().numpy(), np.tile([1.0, -2.0], (3, 1)), atol=0.1)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_steps=0), "num_steps"),
        (dict(num_steps=2.5), "num_steps"),
        (dict(sample_size=-1), "sample_size"),
        (dict(learning_rate=0.0), "learning_rate"),
        (dict(learning_rate=float("nan")), "learning_rate"),
        (dict(seed=-3), "seed"),
        (dict(anneal_steps=-1), "anneal_steps"),
        (dict(anneal_steps=0.5), "anneal_steps"),
        (dict(checkpoint="best"), "unknown checkpoint 'best'; choose one of: smoothed, lowest, lowest_post_update, "
                                  "two_percent_post_update, last"),
        (dict(target="banana"), "target must be a vinf.targets.Target or a callable"),
        (dict(q=object()), "q must be a tfp distribution"),
        (dict(target=lambda z: tf.reduce_sum(z)), r"log_prob must map \[..., dim\] to \[...\]"),
        (dict(target=vinf.targets.get("banana"), q=vinf.surrogates.mean_field(3)), "does not match target 'banana'"),
        (dict(target=lambda z: tf.reduce_sum(tf.cast(z, tf.float64) * tf.ones(2, tf.float64), -1)),
         "returned float64 for float32 draws.*build q with that dtype"),
        (dict(target=lambda z: tf.reduce_sum(z * tf.ones(2, tf.float64), -1)), "failed on float32 draws.*dtype"),
        (dict(gradient="score"), "unknown gradient 'score'; choose one of: reparameterized, stl"),
        (dict(q=vinf.surrogates.planar(2, num_flows=2), gradient="stl"),
         "gradient='stl' evaluates q.log_prob at points other than q's own draws.*no closed-form inverse"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs, message):
    args = dict(target=gaussian_log_prob, q=vinf.surrogates.mean_field(2), num_steps=10)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        vinf.fit(**args, progress=False)


def test_divergence_names_the_step_and_keeps_the_last_finite_state():
    def runaway_log_prob(z):
        # A linear pull to the right, and a wall of -inf past z = 4 that draws eventually hit.
        x = z[..., 0]
        return 10.0 * x + tf.where(x > 4.0, tf.constant(-np.inf, z.dtype), tf.zeros_like(x))

    q = vinf.surrogates.mean_field(1, seed=0)
    start = float(q.mean().numpy()[0])
    with pytest.raises(FloatingPointError, match=r"non-finite loss or gradient at step (\d+)") as info:
        vinf.fit(runaway_log_prob, q, num_steps=5000, sample_size=100, learning_rate=0.05, seed=0, progress=False)
    step = int(str(info.value).split("at step ")[1].split(";")[0])
    trace = info.value.result.loss
    assert step > 0 and trace.shape == (step + 1,)
    assert np.all(np.isfinite(trace[:-1])) and not np.isfinite(trace[-1])
    assert all(np.all(np.isfinite(v.numpy())) for v in q.trainable_variables)
    assert start + 0.05 < float(q.mean().numpy()[0]) < 4.0  # moved right, stopped before the wall


def test_annealing_trains_on_the_tempered_target_but_records_the_true_elbo():
    """With beta stuck near ANNEAL_START, q spreads towards N(loc, scale^2 / beta): the true
    -ELBO that fit records then rises, and the checkpoint stays early; without annealing it falls."""
    traces = {}
    for anneal_steps in (0, 10**9):
        q = vinf.surrogates.mean_field(2, seed=0)
        result = vinf.fit(gaussian_log_prob, q, num_steps=2000, sample_size=200, learning_rate=0.05,
                          seed=0, anneal_steps=anneal_steps, progress=False)
        traces[anneal_steps] = result
    plain, annealed = traces[0], traces[10**9]
    assert plain.loss[-100:].mean() < plain.loss[:100].mean()
    assert annealed.loss[-100:].mean() > annealed.loss[:100].mean() + 1.0
    assert annealed.best_step < 500 < plain.best_step


def test_numpy_integers_are_accepted():
    q = vinf.surrogates.mean_field(2, seed=0)
    result = vinf.fit(gaussian_log_prob, q, num_steps=np.int64(10), sample_size=np.int32(20), seed=np.int64(1),
                      progress=False)
    assert result.loss.shape == (10,)


def test_a_surrogate_is_released_with_its_compiled_step():
    q = vinf.surrogates.mean_field(2, seed=0)
    vinf.fit(gaussian_log_prob, q, num_steps=10, progress=False)
    vinf.diagnostics.elbo(gaussian_log_prob, q, num_samples=100)
    ref = weakref.ref(q)
    del q
    gc.collect()
    assert ref() is None, "fit or diagnostics keep the surrogate alive"


def test_the_checkpoint_restores_the_best_parameters_seen():
    """With a noisy objective (few draws, a large step) the smoothed checkpoint restores the
    parameters of its best step, which a fit stopped there reaches, and which differ from the last."""
    settings = dict(sample_size=4, learning_rate=0.3, seed=2, progress=False)
    params = {}
    for rule in ("smoothed", "last"):
        q = vinf.surrogates.mean_field(2, seed=0)
        result = vinf.fit(gaussian_log_prob, q, num_steps=600, checkpoint=rule, **settings)
        params[rule] = [v.numpy() for v in q.trainable_variables]
        if rule == "smoothed":
            best = int(result.best_step)
    assert 0 < best < 599
    q = vinf.surrogates.mean_field(2, seed=0)
    vinf.fit(gaussian_log_prob, q, num_steps=best, checkpoint="last", **settings)
    for restored, reached in zip(params["smoothed"], q.trainable_variables):
        np.testing.assert_allclose(restored, reached.numpy(), rtol=1e-5, atol=1e-6)
    assert not all(np.allclose(a, b) for a, b in zip(params["smoothed"], params["last"]))


def test_the_lowest_checkpoint_is_the_thesis_rule():
    q = vinf.surrogates.mean_field(2, seed=0, batch_shape=[2])
    result = vinf.fit(gaussian_log_prob, q, num_steps=300, sample_size=20, checkpoint="lowest", progress=False)
    np.testing.assert_array_equal(result.best_step, np.argmin(result.loss, axis=0))
    np.testing.assert_allclose(result.best_loss, np.min(result.loss, axis=0))


def _study_saves(loss, start, tolerance):
    """The study's checkpoint loop (VINF code/train.py) on a loss trace: the step of its last save, or -1."""
    best, saved = np.inf, -1
    for index, value in enumerate(loss):
        if index >= start and value < best and (np.isinf(best) or best - value > tolerance * abs(best)):
            best, saved = value, index
    return saved


@pytest.mark.parametrize("rule", ["lowest_post_update", "two_percent_post_update"])
def test_the_study_checkpoints_keep_the_parameters_after_the_saving_step(rule):
    """The study's code saves after the update that follows a low loss, from its first eligible step; a fit
    stopped one step after the save reaches the same parameters."""
    settings = dict(sample_size=4, learning_rate=0.3, seed=2, progress=False, jit_compile=False)
    q = vinf.surrogates.mean_field(2, seed=0, batch_shape=[2])
    result = vinf.fit(gaussian_log_prob, q, num_steps=620, checkpoint=rule, **settings)
    spec = fit_module.CHECKPOINTS[rule]
    expected = [_study_saves(result.loss[:, m], spec.start, spec.tolerance) for m in range(2)]
    np.testing.assert_array_equal(result.best_step, expected)
    assert all(step >= spec.start for step in expected)
    for m, step in enumerate(expected):
        reached = vinf.surrogates.mean_field(2, seed=0, batch_shape=[2])
        vinf.fit(gaussian_log_prob, reached, num_steps=step + 1, checkpoint="last", **settings)
        for kept, other in zip(q.trainable_variables, reached.trainable_variables):
            np.testing.assert_allclose(kept.numpy()[m], other.numpy()[m], rtol=1e-5, atol=1e-6)


def test_a_member_that_never_checkpoints_keeps_its_last_parameters():
    settings = dict(sample_size=4, learning_rate=0.3, seed=2, progress=False, jit_compile=False)
    q = vinf.surrogates.mean_field(2, seed=0)
    result = vinf.fit(gaussian_log_prob, q, num_steps=100, checkpoint="lowest_post_update", **settings)
    last = vinf.surrogates.mean_field(2, seed=0)
    vinf.fit(gaussian_log_prob, last, num_steps=100, checkpoint="last", **settings)
    assert int(result.best_step) == -1
    for kept, other in zip(q.trainable_variables, last.trainable_variables):
        np.testing.assert_array_equal(kept.numpy(), other.numpy())


# ------------------------------------------------------------ every family, any flow

D5 = 5
_COV5 = 0.6 ** np.abs(np.subtract.outer(np.arange(D5), np.arange(D5))) * np.outer(*[np.linspace(0.5, 2.0, D5)] * 2)
_LOC5 = np.linspace(-1.0, 1.0, D5)


def correlated_gaussian(dtype=None):
    """N(loc, Sigma) in 5-D, AR(1) correlation 0.6 and scales 0.5..2, unnormalised: log Z is exact."""
    precision = np.linalg.inv(_COV5)
    log_z = 0.5 * (D5 * np.log(2 * np.pi) + np.linalg.slogdet(_COV5)[1])

    def log_prob(z):
        d = z - tf.constant(_LOC5, z.dtype)
        return -0.5 * tf.einsum("...i,ij,...j->...", d, tf.constant(precision, z.dtype), d)

    return vinf.targets.Target("correlated_gaussian", log_prob, [f"z[{i}]" for i in range(D5)],
                               log_evidence_fn=lambda: log_z, dtype=dtype)


# One line per case ("family" or "family-variant"): the family's options, fit's (steps, learning rate,
# gradient), and how close to log Z it must come (None: only below it). The spline's ELBO at 1e-2 stalls
# 0.05 nats short, in the noise of its steps; 5e-3 gets closer. With STL, whose gradient vanishes at
# q = p, full_rank ends 2e-7 nats below log Z (0.007 with the reparameterized gradient, same steps).
def _chain_model():
    """The correlated Gaussian above as a chain z0 -> z1 -> ... (an AR(1) of correlation 0.6): the same density,
    written as a model whose hierarchy the mif family reads."""
    scales = np.linspace(0.5, 2.0, D5)

    def chain():
        prev = yield tfd.JointDistributionCoroutine.Root(tfd.Normal(np.float64(_LOC5[0]), scales[0], name="z0"))
        for i in range(1, D5):
            mean = _LOC5[i] + 0.6 * scales[i] / scales[i - 1] * (prev - _LOC5[i - 1])
            prev = yield tfd.Normal(mean, scales[i] * 0.8, name=f"z{i}")

    return vinf.targets.from_joint_distribution(tfd.JointDistributionCoroutine(chain))


FIT5 = {
    "mean_field": ({}, dict(num_steps=1500), None),
    "mif": (dict(target=_chain_model()), dict(num_steps=1000), 0.05),
    "full_rank": ({}, dict(num_steps=1500), 0.05),
    "full_rank-stl": ({}, dict(num_steps=1000, gradient="stl"), 1e-4),
    "planar": (dict(num_flows=8), dict(num_steps=2000), 0.05),
    "planar-leaky_relu": (dict(num_flows=4, activation="leaky_relu"), dict(num_steps=1000), 0.05),
    "radial": (dict(num_flows=16), dict(num_steps=3000), 0.05),
    "radial-stl": (dict(num_flows=2), dict(num_steps=500, gradient="stl"), None),
    "iaf": (dict(num_flows=2, hidden_units=(16,)), dict(num_steps=2000), 0.05),
    "realnvp": (dict(num_flows=2, hidden_units=(16,)), dict(num_steps=2000), 0.05),
    "spline": (dict(num_flows=2, hidden_units=(32,)), dict(num_steps=2000, learning_rate=5e-3), 0.05),
}


def _elbo_and_error(target, q, num_samples=20000):
    lw = vinf.diagnostics.log_weights(target, q, num_samples=num_samples, seed=9)
    return lw.mean(axis=0), 3 * lw.std(axis=0) / np.sqrt(num_samples)


def test_every_family_is_fitted_on_the_correlated_gaussian():
    assert {case.split("-")[0] for case in FIT5} == set(vinf.surrogates.names())


@pytest.mark.parametrize("case", FIT5)
def test_every_family_fits_a_correlated_gaussian_below_log_z(case):
    options, fit_options, tolerance = FIT5[case]
    target = correlated_gaussian()
    q = vinf.surrogates.get(case.split("-")[0], D5, seed=0, batch_shape=[2], **options)
    vinf.fit(target, q, sample_size=200, seed=0, progress=False, **fit_options)
    elbo, error = _elbo_and_error(target, q)
    log_z = target.log_evidence()
    assert np.all(elbo <= log_z + error), "an ELBO above log Z is a bug"
    if tolerance is not None:
        assert np.all(elbo > log_z - tolerance)


@pytest.mark.parametrize("family", ["iaf", "realnvp", "spline"])
def test_neural_flows_train_five_members_in_one_compiled_step(family):
    q = vinf.surrogates.get(family, D5, seed=0, batch_shape=[5], num_flows=1, hidden_units=(8,))
    result = vinf.fit(correlated_gaussian(), q, num_steps=600, sample_size=50, seed=0, progress=False)
    assert result.loss.shape == (600, 5) and result.best_step.shape == (5,)
    (run,) = q._vinf_trainer.compiled.values()
    assert run.experimental_get_tracing_count() == 1
    assert np.all(result.loss[-50:].mean(axis=0) < result.loss[:50].mean(axis=0)), "every member learns"
    assert len(set(np.round(result.loss[-1], 6))) == 5, "members follow their own draws and parameters"


def test_a_hand_built_tfp_iaf_keeps_its_masks_and_its_elbo_below_log_z():
    """TFP's AutoregressiveNetwork keeps its masks as Keras kernel constraints, built lazily: fit
    builds the network with a first draw and applies the constraints after every update."""
    target = vinf.targets.eight_schools(centered=False)
    made = tfb.AutoregressiveNetwork(params=2, hidden_units=[16, 16], activation="relu")
    q = tfd.TransformedDistribution(
        tfd.MultivariateNormalDiag(loc=tf.zeros(target.dim)),
        tfb.Invert(tfb.MaskedAutoregressiveFlow(shift_and_log_scale_fn=made)),
    )
    vinf.fit(target, q, num_steps=1500, sample_size=100, seed=0, progress=False)
    kernels = [v for v in made.trainable_variables if v.constraint is not None]
    assert kernels, "the network's kernels carry their masks as constraints"
    for kernel in kernels:
        np.testing.assert_array_equal(kernel.numpy(), kernel.constraint(kernel).numpy())
    elbo, error = _elbo_and_error(target, q)
    assert elbo <= target.log_evidence() + error, "an ELBO above log Z is a bug (here: a broken mask)"
    assert elbo > target.log_evidence() - 3.0


def test_float64_surrogates_and_targets():
    """A float64 surrogate fits in float64; a float64 target with a float32 surrogate is cast."""
    for q_dtype in (tf.float64, tf.float32):
        target = correlated_gaussian(dtype=tf.float64)
        q = vinf.surrogates.get("full_rank", D5, seed=0, dtype=q_dtype)
        result = vinf.fit(target, q, num_steps=1000, sample_size=100, seed=0, progress=False)
        assert result.loss.dtype == q_dtype.as_numpy_dtype
        elbo, error = _elbo_and_error(target, q)
        assert target.log_evidence() - 0.1 < elbo <= target.log_evidence() + error


def test_chunked_draws_estimate_the_same_objective():
    """Drawing S samples in chunks changes the random numbers, not the estimator: two fits reach
    the same optimum; a chunk count that does not divide S is refused."""
    means = []
    for chunks in (1, 4):
        q = vinf.surrogates.mean_field(2, seed=0)
        vinf.fit(gaussian_log_prob, q, num_steps=1500, sample_size=200, seed=0, sample_chunks=chunks, progress=False)
        means.append(q.mean().numpy())
    np.testing.assert_allclose(means[0], means[1], atol=0.1)
    np.testing.assert_allclose(means[1], [1.0, -2.0], atol=0.1)
    with pytest.raises(ValueError, match="sample_chunks=3 must divide sample_size=200"):
        vinf.fit(gaussian_log_prob, q, num_steps=10, sample_size=200, sample_chunks=3, progress=False)


def test_stl_gradient_vanishes_where_q_is_the_target():
    """The defining property of sticking the landing (Roeder et al. 2017): at q = p the path derivative
    is zero for every draw, so the STL gradient is zero for every set of draws, while the reparameterized
    gradient keeps the score's noise. The loss is the same; in fit, Adam's first step (of size
    learning_rate * g / (|g| + 1e-8) per coordinate) leaves q at p with STL and moves it by the full
    learning rate without. (Later steps would not stay put: Adam rescales the STL gradient's rounding
    errors, 1e-15, to steps of the learning rate's size.)"""
    q = vinf.surrogates.mean_field(3, seed=0, dtype=tf.float64)
    rng = np.random.default_rng(0)
    for v in q.trainable_variables:
        v.assign(v + rng.standard_normal(v.shape))
    p = tfd.MultivariateNormalDiag(loc=q.mean().numpy(), scale_diag=q.stddev().numpy())
    for seed in range(5):
        loss, largest = {}, {}
        for gradient in fit_module.GRADIENTS:
            loss[gradient], grads = fit_module.negative_elbo_sums(
                p.log_prob, q, q.trainable_variables, (seed, 0), 100, gradient=gradient)
            largest[gradient] = max(float(np.max(np.abs(g.numpy()))) for g in grads)
        np.testing.assert_array_equal(loss["stl"].numpy(), loss["reparameterized"].numpy())
        assert largest["stl"] < 1e-10 < 1.0 < largest["reparameterized"]
    start = [v.numpy() for v in q.trainable_variables]
    moved, first_loss = {}, {}
    for gradient in fit_module.GRADIENTS:
        result = vinf.fit(p.log_prob, q, num_steps=1, sample_size=50, learning_rate=0.05, checkpoint="last",
                          gradient=gradient, progress=False)
        first_loss[gradient] = result.loss[0]
        moved[gradient] = [np.abs(v.numpy() - s) for v, s in zip(q.trainable_variables, start)]
        for v, s in zip(q.trainable_variables, start):
            v.assign(s)
    assert first_loss["stl"] == first_loss["reparameterized"] == pytest.approx(0.0, abs=1e-10)
    assert max(np.max(m) for m in moved["stl"]) < 1e-6
    for m in moved["reparameterized"]:
        np.testing.assert_allclose(m, 0.05, rtol=1e-3)
