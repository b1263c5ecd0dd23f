"""The flow-geometry experiment's report (``report.md``): each figure with its layers, the integral of its
density, and a note computed from ``jobs.measure``'s numbers (at full scale, against the thesis's caption)."""
import math

import numpy as np

from experiments.common.prose import Note, percent, quick_banner
from experiments.flow_geometry.config import DENSITY_WINDOW, EXP_RANGE, FULL
from experiments.flow_geometry.figures import FIGURES
from experiments.flow_geometry.layers import (DET_PANELS, FIG9_LAYERS, PLANAR_CONTRACTION, RADIAL_FROM_085,
                                              RADIAL_TO_075, PlanarLayer, parameters, site, vector_text)

AT_SITE = 1.5  # grid spacings: a mode or extreme this close to where a layer acts lies "at" it
VALLEY_DISTANCE = 0.5  # Figure 13's valley lies "across" the expansions' line within this distance of it
VALLEY_DEPTH = 0.8  # and is a valley when no higher than this share of the smaller lobe's peak
CRATER = 0.5  # Figure 16: the expansion hollows a crater when the density at its point falls below this share


def planar_effect(layer):
    """A planar layer's effect, from the sign of ``w^T u_hat`` (eq. 62)."""
    s = float(np.dot(layer.w, layer.u_hat))
    if s == 0:
        return "a shear along its line"
    return ("an expansion away from" if s > 0 else "a contraction towards") + " its line"


def piles_up(m):
    """Figure 8: the log-normal's mode lies in (0, 1), where the negative half-line is compacted."""
    return 0 < m["mode"] < 1


def note_fig8(m):
    return Note(
        f"The {m['points']} evenly spaced points of [−{EXP_RANGE:g}, {EXP_RANGE:g}] land on (0, e^{EXP_RANGE:g}]: "
        f"{m['beyond']} of their images lie beyond the plot's right edge (the last at e^{EXP_RANGE:g} ≈ "
        f"{m['last']:.1f}). The log-normal peaks at z' = "
        f"{m['mode']:.2f} and thins out to the right; the plotted density is TFP's "
        "`TransformedDistribution(Normal(0, 1), Exp())`, within a relative "
        f"{m['lognormal_error']:.1e} of scipy's log-normal pdf.",
        "Agrees with the text: the negative half-line is compacted into (0, 1), where the density piles up."
        if piles_up(m) else "Unlike the text, the density does not pile up just right of 0.")


def note_fig9():
    effects = [planar_effect(layer) if isinstance(layer, PlanarLayer) else
               f"{'pulled in' if layer.beta_hat < 0 else 'pushed out'} around {vector_text(layer.z0)}"
               for layer in FIG9_LAYERS]
    return Note("The thesis gives no layers for its Figure 9; these are ours, in order: " + "; ".join(effects)
                + ". The grey mesh z₀ and its blue image z_K.")


def det_agrees(p):
    """Figures 10 and 14, one panel: the layer is the expansion or contraction its label names, acting most where
    it acts, on one side of 1 everywhere, and nearer 1 away from there."""
    kind = "expansion" if p["value"] < 1 else "contraction"
    at_site = p["distance"] <= AT_SITE * p["spacing"]
    one_side = p["highest"] <= 1 + 1e-9 if kind == "expansion" else p["lowest"] >= 1 - 1e-9
    fades = abs(math.log(p["far"])) < 0.5 * abs(math.log(p["value"]))
    return kind in p["label"] and at_site and one_side and fades


def note_det(fid, panels):
    """Figures 10 and 14: per panel, the extreme of |det|⁻¹, where it lies and how far from 1 it ends."""
    parts, agree = [], all(det_agrees(p) for p in panels)
    for side, p in zip(("Left", "right"), panels):
        kind = "expansion" if p["value"] < 1 else "contraction"
        one_side = p["highest"] <= 1 + 1e-9 if kind == "expansion" else p["lowest"] >= 1 - 1e-9
        if kind == "expansion":
            stays = "stays below 1 everywhere" if one_side else f"goes above 1 somewhere (max {p['highest']:.3f})"
        else:
            stays = "stays above 1 everywhere" if one_side else f"goes below 1 somewhere (min {p['lowest']:.3f})"
        parts.append(f"{side} ({p['label']}): |det|⁻¹ reaches {p['value']:.3f} ({kind}) {p['distance']:.3f} from "
                     f"where the layer acts, {stays}, and is {p['far']:.3f} at the window's point farthest from there")
    names = "u, û, eq. 64" if fid == "fig10" else "β, β̂, eq. 75"
    raw, corrected, eq = names.split(", ")
    return Note("; ".join(parts) + f". The thesis set {raw} directly; here the raw {raw} is the one that {eq} maps "
                f"onto the intended {corrected}, so the map drawn is the same.",
                "Agrees with the caption: each layer is an expansion or contraction as its panel names it, acting "
                "most where it should and nearer 1 away from it (eqs. 62, 70)." if agree else
                "Does not agree with the caption in full: see the numbers.")


def note_fig11(m):
    peak = 1 / (2 * math.pi)
    ok = m["distance"] <= AT_SITE * m["spacing"] and abs(m["max"] - peak) < 0.01 * peak
    return Note(f"The unit Gaussian (drawn by the same push-forward code with zero layers): maximum {m['max']:.4f} "
                f"(1/2π = {peak:.4f}) at {m['distance']:.3f} from the origin.",
                "As in the thesis." if ok else "Not the unit Gaussian: a bug.")


def ridge(m):
    """Figure 12: the mode lies on the contraction's line and rises above q_0's peak."""
    return m["distance"] <= AT_SITE * m["spacing"] and m["max"] > 1 / (2 * math.pi)


def note_fig12(m, layer=PLANAR_CONTRACTION):
    peak = 1 / (2 * math.pi)
    line = site(layer)
    return Note(f"The mode moves to [{m['mode'][0]:.2f}, {m['mode'][1]:.2f}], {m['distance']:.3f} from the line "
                f"{line}, where the density reaches {m['max']:.3f} ({m['max'] / peak:.2f} times q₀'s peak).",
                f"Agrees with the caption: the band around {line} is squeezed onto the line, raising a ridge along it."
                if ridge(m) else f"Does not agree with the caption: no ridge forms on {line}.")


def valley(m):
    """Figure 13: ``(the ridge remains, a valley opens across the expansions' line, the valley's depth as a share
    of the smaller lobe's height, the smaller lobe)``."""
    heights = {"left": m["left_height"], "right": m["right_height"]}
    lower = min(heights, key=heights.get)
    smaller = heights[lower]
    depth = m["valley_height"] / smaller if smaller > 0 else None
    dip = abs(m["valley"] - m["line"]) < VALLEY_DISTANCE and depth is not None and depth < VALLEY_DEPTH
    return m["ridge_distance"] <= AT_SITE * m["spacing"], dip, depth, lower


def note_fig13(m, ridge_layer=PLANAR_CONTRACTION):
    """Figure 13: the two lobes of the density integrated over y either side of the expansions' line, the
    valley between them, and whether the contraction's ridge remains (the mode on its line)."""
    line, ridge_line = f"x = {m['line']:g}", site(ridge_layer)
    ridge, dip, depth, lower = valley(m)
    measured = (f"Integrated over y, the density has a lobe left of {line}, peaking at x = {m['left_peak']:.2f} and "
                f"holding {percent(m['left_mass'])} of the mass, and one right of it, peaking at x = "
                f"{m['right_peak']:.2f} and holding {percent(m['right_mass'])}; its lowest point between them is at "
                f"x = {m['valley']:.2f}, " + (f"{percent(depth, 0)} of the smaller ({lower}) lobe's height"
                                              if depth is not None else "the smaller lobe having no height")
                + f". The mode is at [{m['mode'][0]:.2f}, {m['mode'][1]:.2f}], {m['ridge_distance']:.3f} from the line "
                f"{ridge_line}. The colour scale is a square root, so the lower {lower} lobe shows beside the ridge.")
    if ridge and dip:
        study = (f"Agrees with the caption: the ridge along {ridge_line} remains and the expansions open a valley "
                 f"across {line}.")
    elif ridge:
        study = (f"Does not agree with the caption in full: the ridge along {ridge_line} remains, but no valley opens "
                 f"across {line}.")
    elif dip:
        study = (f"Does not agree with the caption in full: a valley opens across {line}, but the mode leaves the "
                 f"ridge along {ridge_line}.")
    else:
        study = f"Does not agree with the caption: no ridge along {ridge_line} and no valley across {line}."
    return Note(measured, study)


def drawn_towards(m):
    """Figure 15: the density peaks at the contraction's point."""
    return m["distance"] <= AT_SITE * m["spacing"]


def note_fig15(m, layer=RADIAL_TO_075):
    ok = drawn_towards(m)
    point = site(layer)
    return Note(f"The density now peaks at [{m['mode'][0]:.2f}, {m['mode'][1]:.2f}], {m['distance']:.3f} from "
                f"{point}, reaching {m['max']:.3f} (a cusp: the radial map's Jacobian is not smooth at its "
                "reference point).",
                f"Agrees with the caption: the Gaussian is drawn towards {point}." if ok else
                f"Does not agree with the caption: the peak is not at {point}.")


def quadrant(point, tolerance):
    """Where ``point`` lies around the origin: a quadrant by the signs of its coordinates, or on an axis when
    one is within ``tolerance`` of 0."""
    x, y = point
    if abs(x) <= tolerance or abs(y) <= tolerance:
        return "on an axis through the origin"
    return f"in the {'upper' if y > 0 else 'lower'} {'right' if x > 0 else 'left'} quadrant"


def crater(m):
    """Figure 16: the density at the expansion's point falls below ``CRATER`` of what it was before it."""
    return m["before"] > 0 and m["after"] / m["before"] < CRATER


def note_fig16(m, layer=RADIAL_FROM_085):
    point = site(layer)
    before, after = m["before"], m["after"]
    ratio = after / before if before > 0 else None
    change = "falls" if after < before else "rises" if after > before else "stays"
    share = f" ({percent(ratio, 0)} of it)" if ratio is not None else ""
    moved = (f"{change} from {before:.3f} (Figure 15) to {after:.3f}{share}" if change != "stays" else
             f"stays at {after:.3f}, as in Figure 15")
    return Note(f"At {point} the density {moved}; the mode moves to [{m['mode'][0]:.2f}, {m['mode'][1]:.2f}], "
                f"{quadrant(m['mode'], m['spacing'] / 2)}. The window is zoomed on the crater; the right panel "
                "follows both densities along the line through it.",
                f"Agrees with the caption: the expansion hollows a crater around {point}." if crater(m) else
                f"Does not agree with the caption: no crater opens around {point}.")


def notes(m):
    """Each figure's note from ``measure``'s numbers."""
    return {"fig8": note_fig8(m["fig8"]), "fig9": note_fig9(),
            **{fid: note_det(fid, m[fid]) for fid in DET_PANELS},
            "fig11": note_fig11(m["fig11"]), "fig12": note_fig12(m["fig12"]), "fig13": note_fig13(m["fig13"]),
            "fig15": note_fig15(m["fig15"]), "fig16": note_fig16(m["fig16"])}


def _plain(title):
    return title.replace("$", "")


def write_report(run, summaries, measured):
    """``report.md``: each figure inline, its parameters, a check, its note, the command."""
    folder, scale = run.out.name, run.scale
    params = parameters()
    figure_notes = notes(measured)
    lines = [quick_banner(run, f"grids of {scale.grid} points a side instead of {FULL.grid}, mesh lines of "
                                      f"{scale.line_points} points")] if run.quick else []
    lines.append(
        "Fixed, untrained layers and exact densities. `vinf`'s bijectors always apply the invertibility "
        "corrections û (eq. 64) and β̂ (eq. 75), which the thesis did not use for these figures. So each layer "
        "is given below by the û (β̂) it must have, and the raw u (β) passed to `vinf.bijectors.Planar` "
        "(`Radial`) is the one the correction maps onto it. Planar densities are pushed forward from a "
        f"{scale.grid}×{scale.grid} grid of z₀ over [−{DENSITY_WINDOW:g}, {DENSITY_WINDOW:g}]² (eq. 59: planar "
        "flows have no inverse); radial densities are evaluated on a regular grid through the analytic inverse "
        "(eq. 77). Each density's integral over its grid (over the warped cells, for the planar ones) checks "
        "the log-determinants against the flow's actual change of area. The thesis's images are not available "
        "here, so each figure is compared with the thesis's caption and text.\n")
    for fid in sorted(FIGURES, key=lambda f: int(f[3:])):
        title, filename = FIGURES[fid]
        lines.append(f"### Figure {fid[3:]} — {_plain(title)}\n")
        lines.append(f"![Fig. {fid[3:]}]({folder}/{filename})\n")
        value = params[fid]
        lines.append("Parameters: " + (value if isinstance(value, str) else "; ".join(value)) + ".\n")
        if fid in summaries:
            s = summaries[fid]
            lines.append(f"Integral of the plotted density over its grid: {s['mass']:.5f}; maximum "
                         f"{s['max']:.3f} at [{s['mode'][0]:.2f}, {s['mode'][1]:.2f}].\n")
        lines.append(figure_notes[fid].text(run.quick) + "\n")
        lines.append(f"Command: `{run.command}`\n")
    run.write_text("report.md", "\n".join(lines))
