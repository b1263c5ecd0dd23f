"""One Adam step (Kingma & Ba 2014), written out so that a compiled training loop holds its own state.

``vinf.fit`` and ``vinf.npe.train`` keep the moments ``m``, ``v`` and the step
count ``t`` as variables of their own (a batch of independent surrogates has
one state per member's variables), so the update is plain TensorFlow ops.
"""
import tensorflow as tf

BETA1, BETA2, EPSILON = 0.9, 0.999, 1e-8


def step(variables, grads, m_slots, v_slots, learning_rate, t):
    """Update ``variables`` in place by Adam with bias-corrected step size at step ``t`` (1 for the first);
    a variable's ``constraint``, if any, is applied after its update."""
    lr = learning_rate * tf.sqrt(1.0 - BETA2**t) / (1.0 - BETA1**t)
    for var, g, m, v in zip(variables, grads, m_slots, v_slots):
        m.assign(BETA1 * m + (1.0 - BETA1) * g)
        v.assign(BETA2 * v + (1.0 - BETA2) * tf.square(g))
        var.assign_sub(tf.cast(lr, var.dtype) * m / (tf.sqrt(v) + EPSILON))
        if getattr(var, "constraint", None) is not None:
            var.assign(var.constraint(var))
