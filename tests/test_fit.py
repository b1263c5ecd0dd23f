"""vinf.fit: argument checks, divergence handling, reuse of the compiled step, the best-parameter checkpoint."""
import sys

import numpy as np
import pytest
import tensorflow as tf

import vinf

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
    compiled = fit_module._TRAINERS[q].compiled
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
        (dict(log_prob="banana"), "log_prob must be callable"),
        (dict(q=object()), "q must be a tfp distribution"),
        (dict(log_prob=lambda z: tf.reduce_sum(z)), r"log_prob must map \[..., dim\] to \[...\]"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs, message):
    args = dict(log_prob=gaussian_log_prob, q=vinf.surrogates.mean_field(2), num_steps=10)
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
