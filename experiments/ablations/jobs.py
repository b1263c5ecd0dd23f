"""The ablations' trainings: every row of ours that deviates from the thesis, under each of the study's choices."""
from experiments.common import agreement
from experiments.common.schools import Spec
from experiments.common.variants import THESIS_ALL, THESIS_CHECKPOINT, THESIS_FINAL_CHECKPOINT, THESIS_INIT

# The study's choices: its planar start, the checkpoint rule of its code when the tables were made, both, and the
# rule of its final commit (experiments.common.variants; vinf.fit.CHECKPOINTS).
ABLATED = (THESIS_INIT, THESIS_CHECKPOINT, THESIS_ALL, THESIS_FINAL_CHECKPOINT)
QUICK_TABLES = ("II", "III", "IV")  # a quick run judges nothing: the centered rows of these tables stand in


def ablated_rows(defaults, quick):
    """The default rows of the study's target to ablate: those that deviate from the thesis by the agreement
    rule on k-hat or the ELBO (at quick scale, where nothing is judged, the centered rows of ``QUICK_TABLES``)."""
    ours = [r for r in defaults.values() if r["thesis_compat"] and r.get("variant", "default") == "default"]
    if quick:
        return [r for r in ours if r["table"] in QUICK_TABLES and r["centered"]]
    return [r for r in ours if r.get("thesis") and not all(agreement.verdicts(r).values())]


def ablated_specs(rows):
    """Each row under each of the study's choices that applies to its family."""
    return [Spec(r["table"], r["method"], r["centered"], r["num_schools"], r["num_flows"], True, v)
            for r in rows for v in ABLATED if v.applies_to(r["method"])]
