"""``Target``, the registry of targets by name, and what every target module shares."""
import math

import numpy as np
import tensorflow as tf
from scipy.special import logsumexp

from vinf._registry import Registry

__all__ = ["Target", "get", "names", "register", "side_by_side", "log_density", "group_by_name"]

_LOG_2PI = math.log(2.0 * math.pi)
_REGISTRY = Registry("target", sort=True)
_NOT_COMPUTED = object()  # Target.log_evidence not yet evaluated (None is a result: not computable)
register = _REGISTRY.register  # decorator: add a factory under a name (usable by ``get``)
names = _REGISTRY.names  # names of every registered target


def get(name, **kwargs):
    """Build the target registered as ``name``, passing ``kwargs`` to its factory."""
    return _REGISTRY.factory(name)(**kwargs)


class Target:
    """A target density known up to its normaliser, over unconstrained ``z`` in R^dim.

    Args:
      name: registry name.
      log_prob: ``z [..., dim] -> [...]``, TensorFlow ops. ``Target.log_prob``
        refuses draws whose last axis is not ``dim`` (a surrogate of the wrong
        size would otherwise fit a slice of the target and report a meaningless
        ELBO).
      names: one label per coordinate, ``"theta[0]"`` style for vector variables.
      bounds: ``[(low, high)] * dim``, a box holding essentially all the mass:
        the plotting window, and the quadrature domain when ``dim <= 2``.
      log_evidence_fn: optional exact ``log Z``; otherwise ``log_evidence``
        integrates on a grid over ``bounds`` (dim 1 or 2 only).
      constrain: optional ``z -> {variable: values}`` in the model's own terms
        (e.g. ``tau = exp(log_tau)``); by default the coordinates grouped by name.
      dtype: the float type ``log_prob`` computes in, or ``None`` when it
        follows its input (``vinf.fit`` casts draws to it and back).
      ground_truth: optional reference moments of the posterior (e.g. the
        Inference Gym's ``vinf.targets.GroundTruth``), kept as ``target.ground_truth``.
      hierarchy: optional ``vinf.targets.joint.Hierarchy`` (the model's variables in
        hierarchical order with their conditional priors, which the ``mif`` family
        reads), kept as ``target.hierarchy``; ``from_joint_distribution`` sets it.
    """

    def __init__(self, name, log_prob, names, bounds=None, log_evidence_fn=None, constrain=None, dtype=None,
                 ground_truth=None, hierarchy=None):
        if not callable(log_prob):
            raise ValueError(f"log_prob must be callable, got {type(log_prob).__name__}")
        self.name = name
        self.names = tuple(names)
        self.dim = len(self.names)
        self.bounds = None if bounds is None else tuple(tuple(map(float, b)) for b in bounds)
        self.dtype = None if dtype is None else tf.as_dtype(dtype)
        self._log_evidence_fn = log_evidence_fn
        self._log_evidence = _NOT_COMPUTED  # per target: a class-level cache would keep every target alive
        self.ground_truth = ground_truth
        self.hierarchy = hierarchy
        self._constrain = constrain
        self._raw_log_prob = log_prob
        self._cast = {}
        # One function object per target: compiled steps are cached by its identity.
        self.log_prob = self._checked_log_prob

    def _checked_log_prob(self, z):
        z = tf.convert_to_tensor(z, dtype_hint=self.dtype or tf.float32)
        if z.shape.rank is not None and z.shape[-1] is not None and z.shape[-1] != self.dim:
            raise ValueError(
                f"target {self.name!r} has dim {self.dim} ({', '.join(self.names[:4])}"
                f"{', ...' if self.dim > 4 else ''}) but got points of shape {z.shape.as_list()}"
            )
        return self._raw_log_prob(z)

    def __repr__(self):
        return f"Target({self.name!r}, dim={self.dim})"

    def log_prob_as(self, dtype):
        """``log_prob`` taking and returning ``dtype``, casting around a target of another fixed dtype."""
        dtype = tf.as_dtype(dtype)
        if self.dtype is None or self.dtype == dtype:
            return self.log_prob
        if dtype not in self._cast:
            self._cast[dtype] = lambda z: tf.cast(self.log_prob(tf.cast(z, self.dtype)), dtype)
        return self._cast[dtype]

    def constrain(self, z):
        """Points ``z [..., dim]`` in the model's own terms: ``{variable: array [..., *shape]}`` (NumPy)."""
        z = np.asarray(z)
        if z.shape[-1] != self.dim:
            raise ValueError(f"target {self.name!r} has dim {self.dim}, got points of shape {z.shape}")
        if self._constrain is not None:
            return {key: np.asarray(value) for key, value in self._constrain(z).items()}
        return group_by_name(z, self.names)

    def grid(self, num=400):
        """A regular grid over ``bounds``: (axes, points of shape ``[num**dim, dim]``)."""
        if self.bounds is None:
            raise ValueError(f"target {self.name!r} has no bounds to grid")
        axes = [np.linspace(lo, hi, num) for lo, hi in self.bounds]
        mesh = np.meshgrid(*axes, indexing="ij")
        return axes, np.stack([m.ravel() for m in mesh], axis=-1)

    def log_prob_numpy(self, z):
        """``log_prob`` on a NumPy array, in float64 unless the target has another fixed dtype."""
        return self.log_prob(tf.constant(np.asarray(z), dtype=self.dtype or tf.float64)).numpy()

    def log_evidence(self):
        """``log Z`` exactly or by quadrature; ``None`` when not computable. Computed once per target."""
        if self._log_evidence is _NOT_COMPUTED:
            self._log_evidence = self._compute_log_evidence()
        return self._log_evidence

    def _compute_log_evidence(self):
        if self._log_evidence_fn is not None:
            return float(self._log_evidence_fn())
        if self.bounds is None or self.dim > 2:
            return None
        num = 20001 if self.dim == 1 else 1201
        axes, points = self.grid(num)
        log_p = self.log_prob_numpy(points).reshape((num,) * self.dim)
        cell = np.prod([ax[1] - ax[0] for ax in axes])
        # Trapezoid weights in log space: halve the edges of every axis.
        log_w = np.zeros_like(log_p)
        for axis in range(self.dim):
            edge = [slice(None)] * self.dim
            for end in (0, -1):
                edge[axis] = end
                log_w[tuple(edge)] += math.log(0.5)
        return float(logsumexp(log_p + log_w) + math.log(cell))


def group_by_name(z, names):
    """Coordinates ``z [..., dim]`` grouped into variables by their labels: ``"theta[0]"``,
    ``"theta[1]"`` become ``{"theta": [..., 2]}``, ``"theta[0,1]"`` a matrix entry, ``"mu"`` a scalar."""
    z = np.asarray(z)
    groups = {}
    for i, label in enumerate(names):
        base, _, index = label.partition("[")
        groups.setdefault(base, []).append((tuple(int(j) for j in index.rstrip("]").split(",")) if index else (), i))
    out = {}
    for base, entries in groups.items():
        if entries[0][0] == ():
            out[base] = z[..., entries[0][1]]
            continue
        shape = tuple(max(idx[k] for idx, _ in entries) + 1 for k in range(len(entries[0][0])))
        value = np.full(z.shape[:-1] + shape, np.nan, dtype=z.dtype)
        for idx, i in entries:
            value[(Ellipsis,) + idx] = z[..., i]
        out[base] = value
    return out


def log_density(target, q=None):
    """The log density that ``vinf.fit`` and ``vinf.diagnostics`` evaluate on draws of ``q``.

    ``target`` is a ``Target`` (its dim is checked against ``q``'s event size,
    and a target of a fixed dtype is cast to ``q``'s) or any callable
    ``z [..., dim] -> [...]``, used as it is.
    """
    if isinstance(target, Target):
        if q is None:
            return target.log_prob
        event = q.event_shape
        size = event[-1] if event.rank else 1
        if event.rank != 1 or size != target.dim:
            raise ValueError(
                f"the surrogate's event shape {event.as_list()} does not match target {target.name!r} of dim "
                f"{target.dim}: build it with dim={target.dim}"
            )
        return target.log_prob_as(q.dtype)
    if not callable(target):
        raise ValueError(
            f"target must be a vinf.targets.Target or a callable log density, got {type(target).__name__}"
        )
    return target


def side_by_side(targets, repeats=1):
    """One log density for a batched surrogate whose members fit different targets.

    Batch members ``[i * repeats, (i + 1) * repeats)`` fit ``targets[i]``: the
    returned target maps ``z [..., len(targets) * repeats, dim]`` to
    ``[..., len(targets) * repeats]``. Trainings on several targets of one
    dimension then share a single surrogate and a single compiled step
    (``vinf.fit``, ``vinf.diagnostics.evaluate_runs``), each member still
    following its own target.
    """
    targets = list(targets)
    if not targets or len({t.dim for t in targets}) != 1:
        raise ValueError("side_by_side needs one or more targets of the same dim")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be a positive integer, got {repeats!r}")
    size = len(targets) * repeats

    def log_prob(z):
        if z.shape[-2] != size:
            raise ValueError(f"side_by_side expects {size} batch members on axis -2, got shape {z.shape}")
        blocks = tf.split(z, len(targets), axis=-2)
        return tf.concat([t.log_prob(block) for t, block in zip(targets, blocks)], axis=-1)

    return Target(" | ".join(t.name for t in targets), log_prob, targets[0].names)


def _normal_log_prob(x, loc, scale):
    return -0.5 * tf.square((x - loc) / scale) - tf.math.log(scale) - 0.5 * _LOG_2PI


def _const(value, like):
    return tf.constant(value, dtype=like.dtype)

