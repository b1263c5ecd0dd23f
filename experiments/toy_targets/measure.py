"""What the report states of the trained fits, measured in the driver before anything is drawn.

Every statement of the report about a figure rests on a number measured here
(or, for the mode study, as its trainings ran) and saved in ``results.json``: the
seeds of the mode study (``mode_study``), the noise and collapses of Figure 17's traces, the
banana's arms (Figures 27, 29), mass per mode or branch, the cut of Figure 25,
the peaks of ``q_K`` and where mean field's start near the origin ends
(``measure``, ``origin_starts``). ``everything`` measures them all.
"""
import math

import arviz
import numpy as np
from scipy import integrate, optimize, stats

from experiments.common.baselines import NODES, gauss_hermite_nodes, kl_and_gradient
from experiments.common.toys import CLOSE_KL, ONE_MODE_KL, ONE_MODE_SHARE, PLATEAU
from experiments.toy_targets.config import (BANANA_ARM, CIRCLE_CENTRE, COLLAPSE, ENERGIES, ENERGY_WINDOW,
                                            FIGURE_EIGHT, FLOWS, LOBES, RING_SIDES, SECTOR_DEGREES,
                                            SYMMETRY_TOLERANCE, TAIL_FRACTION)
from vinf.fit import smoothed_loss
from vinf.targets.toy import BANANA_SCALE, w1, w2, w3  # eq. 88's helpers, not re-typed here


# ------------------------------------------------------------------ the mode study


def mode_study(fits):
    """The mode study under our choices: each target's row (measured as it trained,
    ``experiments.common.toys.train_mode_group``) with the criteria that made its counts."""
    return dict(one_mode_share=ONE_MODE_SHARE, one_mode_kl=ONE_MODE_KL, close_kl=CLOSE_KL, plateau=PLATEAU,
                runs=fits.mode_rows())


# ------------------------------------------------------------------ Figure 17's traces


def estimator_noise(trace, tail=TAIL_FRACTION):
    """Robust sd of the per-step ELBO estimate over the last ``tail`` of a trace, from step-to-step changes.

    For independent estimates of sd ``s`` the changes have sd ``s sqrt(2)``; the median absolute change
    (``0.6745 s sqrt(2)``) ignores the rare optimisation jumps that inflate a plain sd.
    """
    trace = np.asarray(trace, dtype=np.float64)
    changes = np.diff(trace[min(int(len(trace) * (1.0 - tail)), len(trace) - 2):])
    return float(np.median(np.abs(changes)) / (0.6745 * math.sqrt(2.0)))


def collapses(trace, drop=COLLAPSE):
    """Episodes where the smoothed ELBO (``vinf.fit.smoothed_loss``) falls more than ``drop`` nats below its
    settled level (its median over the second half of training), once it has first reached that band."""
    elbo = -smoothed_loss(np.asarray(trace, dtype=np.float64))
    below = elbo < np.median(elbo[len(elbo) // 2:]) - drop
    settled = np.flatnonzero(~below)
    below = below[settled[0]:] if settled.size else below[:0]
    return int(np.sum(below[1:] & ~below[:-1]))


# ------------------------------------------------------------------ the banana's arms (Figures 27, 29)


def banana_arm_mass(threshold, scale=BANANA_SCALE):
    """``P(z1 > threshold)`` under the banana of eq. 85 (``z2``'s sd ``scale``), by quadrature:
    ``E_{z2 ~ N(0, scale^2)}[Phi(z2^2 / 4 - threshold)]``."""
    value, _ = integrate.quad(lambda z2: stats.norm.pdf(z2, 0.0, scale) * stats.norm.cdf(z2**2 / 4.0 - threshold),
                              -np.inf, np.inf)
    return value


def indicator_ess(indicator, chains):
    """ArviZ's bulk effective sample size of a 0/1 indicator over ``chains`` chains of draws stored chain after
    chain; None where it is undefined (every draw on one side)."""
    values = np.asarray(indicator, dtype=np.float64).reshape(chains, -1)
    if values.min() == values.max():
        return None
    ess = float(arviz.ess(values))
    return ess if math.isfinite(ess) else None


# ------------------------------------------------------------------ the flows' draws (Figures 20-35)


def component_peaks(z, q, mixture):
    """Per component of a Gaussian ``mixture`` (dict of weights, locs, covs): the share of the draws ``z``
    it explains best, their correlation beside the component's, and the highest ``q_K`` among them with its
    Mahalanobis distance from the component's mean, beside the mixture's density at that mean."""
    locs, covs = np.asarray(mixture["locs"], float), np.asarray(mixture["covs"], float)
    components = [stats.multivariate_normal(m, c) for m, c in zip(locs, covs)]
    owner = np.argmax(np.stack([np.log(w) + c.logpdf(z) for w, c in zip(mixture["weights"], components)], -1), -1)
    out = []
    for k, (loc, cov) in enumerate(zip(locs, covs)):
        mine = np.flatnonzero(owner == k)
        top = mine[np.argmax(q[mine])] if mine.size else None
        d = None if top is None else z[top] - loc
        out.append(dict(
            weight=float(mixture["weights"][k]), share=float(mine.size / len(z)),
            correlation=float(np.corrcoef(z[mine].T)[0, 1]) if mine.size > 2 else None,
            true_correlation=float(cov[0, 1] / math.sqrt(cov[0, 0] * cov[1, 1])),
            peak=None if top is None else float(q[top]),
            peak_distance=None if d is None else float(math.sqrt(d @ np.linalg.solve(cov, d))),
            true_peak=float(sum(w * c.pdf(loc) for w, c in zip(mixture["weights"], components))),
        ))
    return out


MIN_SIDE = 3  # draws on each side that Fisher's discriminant needs (two covariances)


def cut_direction(z0, z_k, axis):
    """The line of ``z_0``'s plane that Figure 25's flow cuts along: draws are labelled by the side of
    ``z_K . axis = 0`` they land on, Fisher's discriminant ``n = S_w^-1 (m_1 - m_0)`` separates them in
    ``z_0``; returns the cut's angle from the z1 axis in degrees, [0, 180), the share it separates, the
    share of the draws on the positive side (how evenly q_0 is split), and the line itself, ``z . normal =
    offset``. With fewer than ``MIN_SIDE`` draws reaching one mode there is no cut to find: the angle, accuracy
    and line are None."""
    side = z_k @ np.asarray(axis, float) > 0
    if min(side.sum(), (~side).sum()) < MIN_SIDE:
        return dict(angle=None, accuracy=None, share=float(np.mean(side)), normal=None, offset=None)
    means = [z0[side == s].mean(axis=0) for s in (False, True)]
    within = sum(np.cov(z0[side == s].T) for s in (False, True))
    normal = np.linalg.solve(within, means[1] - means[0])
    offset = normal @ (means[0] + means[1]) / 2
    accuracy = float(np.mean((z0 @ normal > offset) == side))
    angle = math.degrees(math.atan2(normal[1], normal[0])) + 90.0  # the cut is perpendicular to the normal
    return dict(angle=angle % 180.0, accuracy=accuracy, share=float(np.mean(side)), normal=normal.tolist(),
                offset=float(offset))


def quadrants(z0):
    """Quadrant (0-3) of each base draw around the base's median: the regions that Figures 25 and 33 follow."""
    centred = z0 - np.median(z0, axis=0)
    return (centred[:, 0] > 0).astype(int) + 2 * (centred[:, 1] > 0).astype(int)


def point_symmetric(target, num=101):
    """Whether ``p(z) = p(-z)`` on a grid over the target's box (then the ELBO's gradient in a mean-field
    Gaussian's mean vanishes at the origin)."""
    axes = [np.linspace(lo, hi, num) for lo, hi in target.bounds]
    points = np.stack([m.ravel() for m in np.meshgrid(*axes, indexing="ij")], axis=-1)
    return bool(np.max(np.abs(target.log_prob_numpy(points) - target.log_prob_numpy(-points))) < SYMMETRY_TOLERANCE)


def saddle_kl(target, scale):
    """KL(q || p) of the best diagonal Gaussian centred on the origin (sd by L-BFGS from ``scale``, quadrature of
    ``experiments.common.baselines``): where a mean-field fit stuck at the origin of a point-symmetric target ends."""
    value = kl_and_gradient(target, *gauss_hermite_nodes(target.dim, NODES), target.log_evidence())
    origin = np.zeros(target.dim)

    def kl(log_scale):
        f, gradient = value(np.concatenate([origin, log_scale]))
        return f, gradient[target.dim:]

    result = optimize.minimize(kl, np.log(np.asarray(scale, np.float64)), jac=True, method="L-BFGS-B",
                               bounds=[(-7.0, 3.0)] * target.dim)
    return float(result.fun)


def origin_starts(fits):
    """Where mean field's start near the origin (member 0, the study's initialisation) ended on each target:
    its final mean, whether the target is point-symmetric, and there the KL of the best Gaussian centred on
    the origin (the saddle between mirrored modes)."""
    targets, out = fits.targets, {}
    for group in (g for g in fits.tables if g.family == "mean_field"):
        q, _ = fits.surrogates[group.key]
        locs, scales = group.members(q.loc.numpy()), group.members(q.scale.diag.numpy())
        for t, name in enumerate(group.targets):
            symmetric = point_symmetric(targets[name])
            out[name] = dict(mean=locs[t, 0].astype(float).tolist(), symmetric=symmetric,
                             kl=fits.row(name, group.family)["kl"][0],
                             saddle_kl=saddle_kl(targets[name], scales[t, 0]) if symmetric else None)
    return out


def smaller_side(z):
    """The share of draws ``z`` on the smaller side of ``z1 = 0`` (Figure 18's hills)."""
    left = float(np.mean(z[:, 0] < 0.0))
    return min(left, 1.0 - left)


def peak_location(z, q):
    """Where the draws' density ``q_K`` is highest."""
    return z[np.argmax(q)].tolist()


def centre_share(z, radius=CIRCLE_CENTRE):
    return float(np.mean(np.linalg.norm(z, axis=-1) < radius))


def target_share(target, region, num=400):
    """The target's mass in ``region(points [N, 2]) -> bool [N]``, on a grid over its bounds."""
    axes, points = target.grid(num)
    log_p = target.log_prob_numpy(points)
    p = np.exp(log_p - log_p.max())
    return float(np.sum(p * region(points)) / np.sum(p))


def _regions(z, lobes=LOBES, sides=RING_SIDES):
    a = np.abs(z[:, 0])
    return (a > lobes[0]) & (a < lobes[1]), a > sides


def lobe_contrast(z, density, lobes=LOBES, sides=RING_SIDES):
    """Mean ``density`` of the draws on the ring's lobes (``LOBES``: |z1| around the bumps) over that of its
    sides (|z1| > ``RING_SIDES``): above 1 when the density peaks where the ring meets the bumps; and the
    standard error of its log (the delta method over the two independent means). None, None when no draw lies
    on one of them."""
    on_lobes, on_sides = _regions(z, lobes, sides)
    if on_lobes.sum() < 2 or on_sides.sum() < 2:
        return None, None
    parts = [density[on_lobes], density[on_sides]]
    se = math.sqrt(sum(np.var(d, ddof=1) / (d.size * np.mean(d) ** 2) for d in parts))
    return float(np.mean(parts[0]) / np.mean(parts[1])), se


def exact_lobe_contrast(target, num=800):
    """``lobe_contrast`` of the target itself, by quadrature: ``E_p[p | lobes] / E_p[p | sides]`` on a grid."""
    _, points = target.grid(num)
    p = np.exp(target.log_prob_numpy(points) - target.log_evidence())
    on_lobes, on_sides = _regions(points)
    return float((np.sum(p[on_lobes] ** 2) / np.sum(p[on_lobes])) / (np.sum(p[on_sides] ** 2) / np.sum(p[on_sides])))


def quarter_arcs(z0, z_k, degrees=SECTOR_DEGREES):
    """How Figure 33's quarters of ``q_0`` lie along the ring: the number of arcs (runs of angular sectors
    with the same commonest quarter, around the circle) and the share of draws of their sector's commonest
    quarter (1 when the quarters lie side by side; lower where they lie in layers)."""
    region = quadrants(z0)
    sector = (np.degrees(np.arctan2(z_k[:, 1], z_k[:, 0])) % 360.0 // degrees).astype(int)
    counts = np.zeros((360 // degrees, 4))
    np.add.at(counts, (sector, region), 1)
    filled = counts.sum(axis=1) > 0
    major = np.argmax(counts[filled], axis=1)
    return dict(arcs=int(max(1, np.sum(major != np.roll(major, 1)))),
                purity=float(counts[filled].max(axis=1).sum() / counts.sum()))


def energy_branches():
    """The branches of each energy whose mass Figure 35's draws are measured on: ``{energy: {branch:
    region(points) -> bool}}``. Energy 1's arcs lie either side of z1 = 0; energies 3 and 4 have a lower
    wave ``z2 = w1 - w`` (``w = w2, w3``, eq. 88) under the wave ``z2 = w1``, told apart where the waves are
    more than 1 apart, below their midline. Energy 2 is one band."""
    def lower(shift):
        def region(z):
            upper, w = w1(z[:, 0]).numpy(), shift(z[:, 0]).numpy()
            return (w > 1.0) & (z[:, 1] < upper - w / 2)
        return region

    return {"energy1": {"left arc": lambda z: z[:, 0] < 0, "right arc": lambda z: z[:, 0] >= 0},
            "energy3": {"lower wave": lower(w2)}, "energy4": {"lower wave": lower(w3)}}


def lobes(draws):
    """Figure 32: each flow's ``lobe_contrast``, and under ``"se"`` the standard errors of their logs."""
    contrast = {f: lobe_contrast(draws[("circle", f)]["zK"], draws[("circle", f)]["q"]) for f in FLOWS}
    return dict({f: c[0] for f, c in contrast.items()}, se={f: c[1] for f, c in contrast.items()})


def measure(targets, draws, mixture):
    """The numbers behind the report's sentences on Figures 20-35, from the flows' draws."""
    energy = energy_branches()
    out = dict(
        components={name: {f: component_peaks(draws[(name, f)]["zK"], draws[(name, f)]["q"], mix) for f in FLOWS}
                    for name, mix in (("gaussian_mixture", mixture), ("figure_eight", FIGURE_EIGHT))},
        cut={f: cut_direction(draws[("figure_eight", f)]["z0"], draws[("figure_eight", f)]["zK"], (1.0, 1.0))
             for f in FLOWS},
        banana_peak={f: peak_location(draws[("banana", f)]["zK"], draws[("banana", f)]["q"]) for f in FLOWS},
        hills={f: smaller_side(draws[("two_hills", f)]["zK"]) for f in FLOWS},
        circle_centre=dict(radius=CIRCLE_CENTRE, exact=target_share(
            targets["circle"], lambda z: np.linalg.norm(z, axis=-1) < CIRCLE_CENTRE),
            **{f: centre_share(draws[("circle", f)]["zK"]) for f in FLOWS}),
        lobes=lobes(draws),
        quarters={f: quarter_arcs(draws[("circle", f)]["z0"], draws[("circle", f)]["zK"]) for f in FLOWS},
        branches={name: {branch: dict(exact=target_share(targets[name], region),
                                      **{f: float(np.mean(region(draws[(name, f)]["zK"]))) for f in FLOWS})
                         for branch, region in regions.items()} for name, regions in energy.items()},
    )
    out["window_mass"] = {name: target_share(targets[name], lambda z: np.all(
        (z >= np.asarray(ENERGY_WINDOW)[:, 0]) & (z <= np.asarray(ENERGY_WINDOW)[:, 1]), axis=-1)) for name in ENERGIES}
    out["lobes"]["exact"] = exact_lobe_contrast(targets["circle"])
    return out


# ------------------------------------------------------------------ all of them


def trace_summary(fits):
    """Figure 17, per S: the noise of the per-step ELBO estimate, the collapses, and the fit's final ELBO."""
    elbos = {g.sample_size: fits.rows[g.member_key("circle")]["elbo"][0] for g in fits.circle_groups()}
    return {size: dict(noise=estimator_noise(trace), collapses=collapses(trace), elbo=elbos[size])
            for size, trace in fits.circle_traces().items()}


def banana_arms(fits):
    """Figures 27 and 29: the share of draws beyond ``BANANA_ARM`` of NUTS (with its effective sample size)
    and of each flow, beside the exact mass."""
    chains = fits.nuts.get("chains", 1)
    in_arm = fits.nuts["z"][:, 0] > BANANA_ARM
    return dict(threshold=BANANA_ARM, exact=banana_arm_mass(BANANA_ARM), NUTS=float(np.mean(in_arm)),
                NUTS_ess=indicator_ess(in_arm, chains), NUTS_chains=chains, scale=BANANA_SCALE,
                NUTS_scale=float(np.std(fits.nuts["z"][:, 1])), draws=len(fits.draws[("banana", FLOWS[0])]["zK"]),
                **{f: float(np.mean(fits.draws[("banana", f)]["zK"][:, 0] > BANANA_ARM)) for f in FLOWS})


def everything(fits, mixture):
    """Every number the report states, by its name in ``results.json``'s ``extra`` (``mixture``: Figures
    19-21's mixture's parameters)."""
    measured = measure(fits.targets, fits.draws, mixture)
    measured["origin"] = origin_starts(fits)
    return dict(mode_study=mode_study(fits), fig17_traces=trace_summary(fits), banana_arms=banana_arms(fits),
                measured=measured)
