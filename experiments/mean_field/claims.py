"""The study's conclusions on the mean-field approximation, CAVI and ADVI (sections II-III), each checked against
our results: one row per claim of the thesis's text that our numbers can test, its verdict computed
(``experiments.common.claims``)."""
import numpy as np

from experiments.common.agreement import agrees, format_z
from experiments.common.claims import FAILS, HOLDS, by_flag, by_z, claim
from experiments.mean_field.figures import vector_text
from experiments.mean_field.jobs import never_decreases
from experiments.mean_field.report import FAR_KL, z_to


def family(f2):
    """Fig. 2: a Gaussian cannot come close to a bimodal posterior."""
    return claim("a Gaussian family cannot approximate a bimodal posterior closely", "II.A, Fig. 2",
                 f"the best of {len(f2['elbo'])} ADVI Gaussians has KL {f2['kl']:.3f} (≥ {FAR_KL:g} counts as far)",
                 by_flag(f2["kl"] >= FAR_KL))


def compactness(f3):
    """Fig. 3: mean field is too compact; it finds the mean; its variances are set by the smallest direction."""
    mf, cov = f3["mean_field"], np.asarray(f3["cov"])
    variances = np.diagonal(np.asarray(mf["cov"]), axis1=1, axis2=2)
    marginal, optimum = np.diag(cov), np.asarray(f3["mean_field_variance"])
    narrower = [-z for z in z_to(variances, marginal)]  # positive when q is narrower than p's marginals
    z_mean = z_to(mf["mean"], f3["loc"])
    nearer = bool(np.all(np.abs(variances.mean(0) - optimum) < np.abs(variances.mean(0) - marginal)))
    return [
        claim("mean field's q(z1)q(z2) of a correlated Gaussian is too compact", "II.A, Fig. 3",
              f"variances {vector_text(variances.mean(0), 3)} against the marginals {vector_text(marginal, 3)} "
              f"(z {' / '.join(format_z(-z) for z in narrower)})", by_z(min(narrower))),
        claim("mean field captures the mean correctly", "II.A, Fig. 3",
              f"mean {vector_text(np.mean(mf['mean'], axis=0), 3)} against {vector_text(f3['loc'], 3)} "
              f"(z {' / '.join(format_z(z) for z in z_mean)})", HOLDS if all(agrees(z) for z in z_mean) else FAILS),
        claim("mean field's variances are set by the direction of smallest variance (1/Λ_ii, not Σ_ii)",
              "II.A, Fig. 3", f"variances {vector_text(variances.mean(0), 3)}: 1/Λ_ii {vector_text(optimum, 3)}, "
                              f"Σ_ii {vector_text(marginal, 3)}", by_flag(nearer)),
    ]


def cavi(cavi_result):
    """Section II: CAVI's updates converge; Fig. 6: its predictive shows both components."""
    rises = never_decreases(cavi_result)
    between, at_means = cavi_result["predictive_between"], cavi_result["predictive_at_means"]
    return [
        claim("cycling through the factors (CAVI) converges, the bound rising at every update", "II.A-B, eqs. 13, 37-44",
              f"{cavi_result['num_iterations']} iterations, converged: {cavi_result['converged']}, smallest step "
              f"{cavi_result['min_elbo_step'] if cavi_result['min_elbo_step'] is not None else float('nan'):.2e}",
              by_flag(None if rises is None else bool(rises and cavi_result["converged"]))),
        claim("the predictive density shows the two components clearly", "II.B, Fig. 6",
              f"density {at_means[0]:.2e} and {at_means[1]:.2e} at the means, {between:.2e} between them",
              by_flag(between < min(at_means))),
    ]


def advi_mixture(f7):
    """Fig. 7: ADVI captures one component of the mixture (from the study's start), too compactly (tested on the
    best start that captured one)."""
    captured = f7["captured"]
    on_one = [i for i in np.argsort(f7["elbo"])[::-1] if captured[i] is not None]
    best = int(on_one[0]) if on_one else None
    comp = None if best is None else f7["components"][captured[best]]
    out = [claim("mean-field ADVI on the mixture captures one of its components", "III, Fig. 7",
                 f"from the study's start near the origin it ends on "
                 f"{'neither component' if captured[0] is None else ('the top', 'the bottom')[captured[0]] + ' one'}; "
                 f"{sum(c is not None for c in captured)} of {len(captured)} starts end on a component",
                 by_flag(captured[0] is not None))]
    if comp is None:
        out.append(claim("mean-field ADVI's q is too compact against the component it captures", "III, Fig. 7",
                         "no start captured a component", by_flag(None)))
    else:
        q_sd = np.sqrt(np.diag(f7["cov"][best]))
        out.append(claim("mean-field ADVI's q is too compact against the component it captures", "III, Fig. 7",
                         f"the best start on a component: sd {vector_text(q_sd)} against the component's "
                         f"{vector_text(comp['sd'])}",
                         by_flag(bool(np.all(q_sd < np.asarray(comp["sd"]))))))
    return out


def checked(results):
    """Every claim of sections II-III that our results test: a list of claims-table rows."""
    return [family(results["fig2"])] + compactness(results["fig3"]) + cavi(results["cavi"]) + advi_mixture(
        results["fig7"])
