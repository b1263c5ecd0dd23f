"""The trained fits, rebuilt in the driver from their saved parameters, and their seeded draws.

``load`` rebuilds every group's surrogate once and draws from the table's
flows (stream ``Stream.BASE_DRAWS`` of the run's seed, so every rerun draws the
same points); ``measure`` and ``figures`` both read the ``Fits`` it returns.
"""
import dataclasses

import numpy as np
import tensorflow_probability as tfp

from experiments.common.seeds import Stream
from experiments.common.toys import build, load_loss, load_surrogate, target_dim
from experiments.toy_targets.config import FLOWS

__all__ = ["push_forward", "draw", "exact_line_density", "Fits", "load"]


def push_forward(q, z0):
    """``z_K = f_K o ... o f_1(z_0)`` and ``log q_K(z_K) = log q_0(z_0) - sum_k log|det df_k/dz|`` (eq. 59).

    A mean-field surrogate has no flow: ``z_K = z_0``.
    """
    base = getattr(q, "distribution", q)
    flow = getattr(q, "bijector", tfp.bijectors.Identity())
    z_k = flow.forward(z0)
    log_q = base.log_prob(z0) - flow.forward_log_det_jacobian(z0, event_ndims=1)
    return z_k.numpy().astype(np.float64), log_q.numpy().astype(np.float64)


def draw(q, num, seed):
    """``num`` draws of every member: ``z0``, ``zK`` ``[num, members, dim]`` and ``q_K(z_K)`` ``[num, members]``."""
    z0 = getattr(q, "distribution", q).sample(num, seed=(seed, Stream.BASE_DRAWS))
    z_k, log_q = push_forward(q, z0)
    return dict(z0=z0.numpy().astype(np.float64), zK=z_k, q=np.exp(log_q))


def exact_line_density(q, member, low, high, num=2001):
    """A 1-D flow's density as a curve: a grid of ``z_0`` pushed forward, ``(z_K, q_K(z_K))`` (eq. 79).

    1-D planar and radial layers are monotone, so the pushed grid is ordered and
    the curve is exact. ``member`` indexes the batch; returns ``z0``, ``q0``, ``zK``, ``qK``.
    """
    base = getattr(q, "distribution", q)
    (members,) = base.batch_shape.as_list()
    z0 = np.repeat(np.linspace(low, high, num, dtype=np.float32)[:, None, None], members, axis=1)
    z_k, log_q = push_forward(q, z0)
    q0 = np.exp(base.log_prob(z0).numpy())
    return z0[:, member, 0], q0[:, member], z_k[:, member, 0], np.exp(log_q[:, member])


@dataclasses.dataclass(frozen=True)
class Fits:
    """Every trained group of a run, rebuilt.

    Attributes:
      tables, traces, modes: the groups of the KL table, of Figure 17's other S and of the mode study.
      targets: ``{name: vinf target}`` of every table target.
      rows: ``{key: row}`` of every training.
      surrogates: ``{group key: (q, loss trace)}`` of every group of the table and of Figure 17.
      mode_losses: ``{group key: loss trace}`` of the mode study's groups.
      draws: ``{(target, family): {"z0", "zK", "q"}}``: draws of each flow's fit in the table.
      nuts: the NUTS row, and its draws under ``"z"``.
    """

    tables: list
    traces: list
    modes: list
    targets: dict
    rows: dict
    surrogates: dict
    mode_losses: dict
    draws: dict
    nuts: dict

    def group(self, name, family):
        """The table's group that fits ``name`` by ``family``."""
        return next(g for g in self.tables if g.family == family and name in g.targets)

    def row(self, name, family):
        """The table's row of ``name`` fitted by ``family``."""
        return self.rows[self.group(name, family).member_key(name)]

    def member(self, name, family):
        """``(q, batch index)`` of run 0 of ``name`` in the table's ``family`` group."""
        group = self.group(name, family)
        return self.surrogates[group.key][0], group.targets.index(name) * group.num_runs

    def setting(self, name):
        """``(K, steps)`` of the planar fit of ``name`` in the table."""
        row = self.rows.get(self.group(name, "planar").member_key(name))
        return (row["num_flows"], row["num_steps"]) if row else ("?", "?")

    def circle_groups(self):
        """Figure 17's groups: planar flows on the circle at every S, by increasing S."""
        table = [g for g in self.tables if g.family == "planar" and "circle" in g.targets]
        return sorted(self.traces + table, key=lambda g: g.sample_size)

    def circle_traces(self):
        """``{S: loss trace}`` of run 0 on the circle (Figure 17)."""
        out = {}
        for group in self.circle_groups():
            _, loss = self.surrogates[group.key]
            out[group.sample_size] = group.members(loss, axis=1)[:, group.targets.index("circle"), 0]
        return out

    def log_z(self):
        """``{target: log Z}`` by quadrature."""
        return {name: target.log_evidence() for name, target in self.targets.items()}

    def mode_rows(self):
        """The mode study's rows, one per group (each group fits one target)."""
        return [self.rows[g.member_key(g.targets[0])] for g in self.modes]


def load(run, tables, traces, modes, nuts, num_draws):
    """Rebuild every group from ``run.draws``; draw ``num_draws`` from each flow of the table (``tables``)."""
    targets = {name: build(name) for g in tables for name in g.targets}
    surrogates = {g.key: load_surrogate(g, run.draws, target_dim(g.targets[0])) for g in tables + traces}
    losses = {g.key: load_loss(g, run.draws) for g in modes}
    draws = {}
    for group in tables:
        if group.family not in FLOWS:
            continue
        q, _ = surrogates[group.key]
        sample = {k: group.members(v, axis=1) for k, v in draw(q, num_draws, run.seed).items()}
        for t, name in enumerate(group.targets):
            draws[(name, group.family)] = {k: v[:, t, 0] for k, v in sample.items()}
    with np.load(run.draws / nuts.filename) as data:
        z = data["z"]
    rows = {row["key"]: row for row in run.rows}
    return Fits(tables, traces, modes, targets, rows, surrogates, losses, draws, dict(rows[nuts.key], z=z))
