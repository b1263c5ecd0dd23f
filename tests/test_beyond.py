"""Beyond the study at reduced scale: every family of vinf.surrogates on eight schools, the depth question, STL."""
import dataclasses
import json

from experiments import beyond
from experiments.beyond.config import Scale
from experiments.common import schools

# One layer of each neural flow, one depth of each sweep and fewer steps than --quick: the same code path
SMALL = Scale(dataclasses.replace(schools.QUICK, num_steps=100), 1, 1, (4,), (4,), (4,), (4,))


def test_beyond_trains_every_family_with_elbos_below_log_z(quick_repo):
    out = quick_repo / "runs" / "quick" / "beyond"
    dataclasses.replace(beyond.EXPERIMENT, quick=SMALL).main(["--quick", "--jobs", "2", "--out", str(out)])
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert {"full_rank", "iaf", "realnvp", "spline", "planar"} <= {r["method"] for r in rows}
    for r in rows:  # an ELBO above log Z is a bug, never a result
        assert r["elbo_mean"] <= r["log_evidence"] + 3 * max(r["elbo_std"], 0.01), r["key"]
    normed = [r for r in rows if r.get("gradient_norms")]
    assert normed and all(len(r["gradient_norms"]["after"]) == r["num_flows"] for r in normed)
    assert {r["variant"] for r in rows} >= {"stl", "net32_stl", "leaky_relu", "lr_3e-3", "net32"}
    text = (out / "report.md").read_text()
    assert "The moonshot" in text and ("**Reached**" in text or "**Not reached.**" in text)
    assert "**Conclusion:**" in text and "STL gives the higher ELBO in" in text
    assert (out / "tableVI.md").read_text().count("| IAF |") == 2
    assert "Table VI" in (out / "headline.md").read_text()
