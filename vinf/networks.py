"""Small dense networks with a batch of independent weight sets, for the neural flows.

A surrogate with ``batch_shape`` ``[R]`` holds ``R`` independent approximations;
its networks therefore hold ``R`` independent sets of weights (``[R, out, in]``
kernels) and map inputs ``[..., R, in]`` to ``[..., R, out]`` in one batched
matrix product. Keras layers cannot do that (one weight set per layer), and
their masks live in kernel constraints that only Keras optimisers apply; these
networks apply their masks in the forward pass, so any optimiser keeps them
autoregressive.

Hidden layers start at sd ``1/sqrt(fan_in)``; the output layer starts at sd
``INIT_SCALE`` (1e-2, thesis section V), so a fresh flow is close to the identity.
"""
import numpy as np
import tensorflow as tf

__all__ = ["DenseNetwork", "made_masks"]


def made_masks(dim, hidden_units, outputs_per_dim):
    """The masks of a MADE network (Germain et al. 2015, "MADE: Masked autoencoder for distribution
    estimation", section 4): output ``i`` may depend on inputs ``< i`` only.

    Inputs have degrees ``1..dim``, hidden unit ``h`` of a layer degree ``1 + h mod (dim - 1)``;
    a hidden unit sees inputs of degree ``<=`` its own, an output of degree ``d`` sees hidden units
    of degree ``< d``. Outputs are grouped ``[outputs_per_dim, dim]``, flattened.
    Returns one ``[out, in]`` float mask per layer.
    """
    degrees = [np.arange(1, dim + 1)]
    for units in hidden_units:
        degrees.append(1 + np.arange(units) % max(dim - 1, 1))
    masks = [(later[:, None] >= earlier[None, :]) for earlier, later in zip(degrees[:-1], degrees[1:])]
    output_degrees = np.tile(np.arange(1, dim + 1), outputs_per_dim)
    masks.append(output_degrees[:, None] > degrees[-1][None, :])
    return [m.astype(np.float32) for m in masks]


def _batched_dense(x, kernel):
    """``x [..., *B, in]`` times the kernels ``[*B, out, in]``, member by member: ``[..., *B, out]``.

    The draws' axes move behind the batch axes, so each member is one matrix
    product ``[N, in] x [in, out]``; ``tf.linalg.matvec`` would broadcast the
    kernels over every draw and do ``N * B`` matrix-vector products instead.
    """
    batch = len(kernel.shape) - 2
    lead = len(x.shape) - 1 - batch
    if lead == 0:
        return tf.linalg.matvec(kernel, x)
    shape = tf.shape(x)
    flat = tf.reshape(x, tf.concat([[-1], shape[lead:]], axis=0))  # [N, *B, in]
    perm = list(range(1, batch + 1)) + [0, batch + 1]
    out = tf.matmul(tf.transpose(flat, perm), kernel, transpose_b=True)  # [*B, N, out]
    back = [batch] + list(range(batch)) + [batch + 1]
    out = tf.transpose(out, back)  # [N, *B, out]
    return tf.reshape(out, tf.concat([shape[:lead], tf.shape(out)[1:]], axis=0))


class DenseNetwork(tf.Module):
    """A multilayer perceptron ``in -> hidden_units -> out`` with batched weights and optional masks.

    Args:
      sizes: layer widths ``[in, *hidden, out]``.
      batch_shape: shape of the independent weight sets.
      init: ``init(shape, scale)`` drawing initial values (``vinf.surrogates``' initialiser).
      activation: the hidden non-linearity.
      masks: optional ``[out, in]`` 0/1 masks, one per layer (``made_masks``).
    """

    def __init__(self, sizes, batch_shape, init, activation=tf.nn.relu, masks=None, dtype=tf.float32, name="network"):
        super().__init__(name=name)
        self.activation = activation
        self.kernels, self.biases = [], []
        last = len(sizes) - 2
        with self.name_scope:  # variable names carry the network's: "made0/kernel1:0"
            for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
                scale = None if i == last else fan_in ** -0.5
                kernel = init(tuple(batch_shape) + (fan_out, fan_in), scale=scale)
                self.kernels.append(tf.Variable(kernel, name=f"kernel{i}"))
                self.biases.append(tf.Variable(init(tuple(batch_shape) + (fan_out,)), name=f"bias{i}"))
        self.masks = None if masks is None else [tf.constant(m, dtype=dtype) for m in masks]

    def __call__(self, x):
        for i, (kernel, bias) in enumerate(zip(self.kernels, self.biases)):
            if self.masks is not None:
                kernel = kernel * self.masks[i]
            x = _batched_dense(x, kernel) + bias
            if i < len(self.kernels) - 1:
                x = self.activation(x)
        return x
