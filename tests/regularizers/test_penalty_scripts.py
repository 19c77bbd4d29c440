"""The experiment scripts run (tiny settings), write their PNG/CSV, and their numbers obey the maths:
ridge path at α = 0 is least squares and norms shrink with α; larger λ gives smaller weights; only
the proximal L1 step gives exact zeros."""
import csv
import subprocess
import sys

import numpy as np

from tests.helpers import load_script


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_ridge_collinear_script(tmp_path, repo_root, subprocess_env):
    out = tmp_path / "ridge"
    proc = subprocess.run(
        [sys.executable, str(repo_root / "scripts" / "ridge_collinear.py"), "--output-dir", str(out), "--draws", "20"],
        env=subprocess_env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert (out / "ridge_collinear.png").stat().st_size > 10_000
    rows = _rows(out / "ridge_collinear.csv")
    norms = [float(r["norm"]) for r in rows]
    assert float(rows[0]["alpha"]) == 0.0
    assert all(a > b for a, b in zip(norms, norms[1:]))  # ‖w~(α)‖ strictly decreasing in α
    # regenerate the script's data: the α = 0 row is the least-squares solution
    mod = load_script("ridge_collinear")
    x, y = mod.make_data(50, np.random.default_rng(0))
    w_ols = np.linalg.lstsq(x, y, rcond=None)[0]
    # CSV holds full-precision floats; the normal equations at cond ~3e4 keep ~1e-10 relative
    np.testing.assert_allclose([float(rows[0][k]) for k in ("w1", "w2", "w3")], w_ols, rtol=1e-8)
    # large α: w1 ≈ w2 (the collinear pair is shared equally)
    big = rows[-2]
    assert abs(float(big["w1"]) - float(big["w2"])) < 1e-3


def test_decision_boundary_script(tmp_path):
    mod = load_script("penalty_decision_boundaries")
    out = tmp_path / "db"
    mod.main(["--output-dir", str(out), "--hidden", "20", "--lambdas", "0.1", "--steps", "150"])
    assert (out / "decision_boundaries.png").stat().st_size > 10_000
    rows = _rows(out / "decision_boundaries.csv")
    assert [(int(r["hidden"]), float(r["lambda"])) for r in rows] == [(20, 0.0), (20, 0.1)]
    sq = [float(r["sum_sq_kernels"]) for r in rows]
    assert sq[1] < 0.2 * sq[0]  # the L2 penalty shrinks Σ‖W‖² (measured: 48.7 → 1.6)


def test_weight_histogram_script(tmp_path):
    mod = load_script("penalty_weight_histograms")
    out = tmp_path / "h"
    mod.main(["--output-dir", str(out), "--lambdas", "0", "0.03", "--rows", "L1", "L1 (proximal)",
              "--steps", "300", "--train-size", "128"])
    assert (out / "weight_histograms.png").stat().st_size > 10_000
    rows = {(r["penalty"], float(r["lambda"])): r for r in _rows(out / "weight_histograms.csv")}
    assert sorted(rows) == [("L1", 0.03), ("L1 (proximal)", 0.03), ("none", 0.0)]  # λ = 0 trained once
    assert float(rows[("none", 0.0)]["frac_exact_zero"]) == 0.0
    assert float(rows[("L1", 0.03)]["frac_exact_zero"]) == 0.0  # subgradient: near zero, not zero
    assert float(rows[("L1 (proximal)", 0.03)]["frac_exact_zero"]) > 0.5  # soft-threshold: exact zeros
    assert float(rows[("L1", 0.03)]["sum_abs"]) < 0.5 * float(rows[("none", 0.0)]["sum_abs"])


def test_weight_histogram_panels_share_their_axes_and_show_lambda_0_once():
    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    mod = load_script("penalty_weight_histograms")
    rng = np.random.default_rng(0)
    rows, lambdas = ["L2", "L1", "L1 (proximal)"], [0.0, 1e-3, 1e-2]
    weights = {("none", 0.0): rng.normal(0, 0.2, 1280)}
    weights.update({(r, l): rng.normal(0, 0.2 / (1 + 100 * l), 1280) * (rng.random(1280) > 50 * l)
                    for r in rows for l in lambdas[1:]})
    fig = mod.plot_histograms(weights, rows, lambdas, np.linspace(-0.6, 0.6, 61))
    shown = [ax for ax in fig.axes if ax.axison]
    titles = [ax.get_title() for ax in shown]
    assert len(shown) == 1 + len(rows) * 2  # λ = 0 once, not once per row
    assert sum("λ = 0\n" in t for t in titles) == 1
    assert len({ax.get_ylim() for ax in shown}) == 1 and len({ax.get_xlim() for ax in shown}) == 1
    assert {ax.get_yscale() for ax in shown} == {"log"}
    # the counts differ by panel (the concentrated panels reach higher): a shared axis is what makes them compare
    assert max(p.get_height() for p in shown[-1].patches) > 2 * max(p.get_height() for p in shown[0].patches)
    import matplotlib.pyplot as plt

    plt.close(fig)
