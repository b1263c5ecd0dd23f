"""The study's statements on what a flow does to a density (section IV, Figures 8-16), each checked against our
exact densities: one row per statement, its verdict computed (``experiments.common.claims``). Nothing here is
random, so each holds or does not."""
from experiments.common.claims import by_flag, claim
from experiments.flow_geometry.layers import (DET_PANELS, PLANAR_CONTRACTION, PLANAR_EXPANSION, RADIAL_FROM_085,
                                              RADIAL_TO_075, site)
from experiments.flow_geometry.report import crater, det_agrees, drawn_towards, piles_up, ridge, valley

SECTIONS = {"fig10": "IV.A, Fig. 10", "fig14": "IV.B, Fig. 14"}


def checked(m):
    """Every statement of section IV that our numbers test, from ``jobs.measure``'s numbers ``m``."""
    out = [claim("the exponential flow compacts the negative half-line into (0, 1), where the density piles up",
                 "IV, Fig. 8", f"the log-normal's mode at z' = {m['fig8']['mode']:.2f}", by_flag(piles_up(m["fig8"])))]
    for fid, panels in DET_PANELS.items():
        for (label, _), p in zip(panels, m[fid]):
            out.append(claim(f"|det ∂f/∂z|⁻¹ shows {label}", SECTIONS[fid],
                             f"|det|⁻¹ reaches {p['value']:.3f} at {p['distance']:.3f} from where the layer acts, "
                             f"{p['far']:.3f} far from it", by_flag(det_agrees(p))))
    twelve, thirteen = m["fig12"], m["fig13"]
    has_ridge, dip, depth, _ = valley(thirteen)
    out += [
        claim(f"a planar contraction squeezes q_0 towards the line {site(PLANAR_CONTRACTION)}", "IV.A, Fig. 12",
              f"the mode {twelve['distance']:.3f} from the line, the density {twelve['max']:.3f} there",
              by_flag(ridge(twelve))),
        claim(f"planar expansions away from {site(PLANAR_EXPANSION)} split the contracted density", "IV.A, Fig. 13",
              "the ridge " + ("remains" if has_ridge else "is gone") + "; the valley across the line lies at "
              f"x = {thirteen['valley']:.2f}" + (f", {depth:.0%} of the smaller lobe's height" if depth is not None
                                                 else ""), by_flag(has_ridge and dip)),
        claim(f"a radial contraction draws q_0 towards {site(RADIAL_TO_075)}", "IV.B, Fig. 15",
              f"the peak {m['fig15']['distance']:.3f} from the point", by_flag(drawn_towards(m["fig15"]))),
        claim(f"a radial expansion away from {site(RADIAL_FROM_085)} hollows the contracted density", "IV.B, Fig. 16",
              f"the density there {m['fig16']['before']:.3f} before, {m['fig16']['after']:.3f} after",
              by_flag(crater(m["fig16"]))),
    ]
    return out
