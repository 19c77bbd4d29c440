"""The optimization experiment scripts run (small settings), write their PNG/CSV, and show the effects they
are meant to show: Newton solves the quadratic in one step but stops at the saddle while first-order methods
escape; ‖Wᵗv‖ follows ρᵗ and aligns with the top eigenvector; sigmoid gradients vanish towards the input;
clipping by norm keeps SGD on a cliff."""
import csv

import numpy as np
import pytest

from scripts import optimizer_trajectories, vanishing_exploding
from scripts.vanishing_exploding import matrix_power_norms

# The scripts' main(argv) is called in-process (no second TensorFlow import) with small settings.


def _run(module, args, tmp_path, capsys):
    out = tmp_path / module.__name__.split(".")[-1]
    module.main(["--output-dir", str(out), *args])
    return out, capsys.readouterr().out


def test_optimizer_trajectories(tmp_path, capsys):
    out, stdout = _run(optimizer_trajectories, ["--steps", "60"], tmp_path, capsys)
    assert (out / "trajectories.png").stat().st_size > 10_000
    rows = {(r["problem"], r["optimizer"]): r for r in csv.DictReader(open(out / "trajectories.csv"))}
    assert len(rows) == 16 and "Newton" in stdout
    assert rows["quadratic", "Newton"]["steps_to_1e-3"] == "1"  # exact on a quadratic
    assert float(rows["saddle", "Newton"]["final_gap"]) == pytest.approx(0.25, abs=1e-6)  # stuck at the saddle
    for name in ("Momentum 0.9", "Nesterov 0.9", "Adam", "signSGD", "Sophia"):  # escaped to a minimum
        assert float(rows["saddle", name]["final_gap"]) < 0.05, name


def test_vanishing_exploding(tmp_path, capsys):
    out, _ = _run(vanishing_exploding, ["--steps", "20", "--depth", "12", "--width", "16"], tmp_path, capsys)
    assert (out / "vanishing_exploding.png").stat().st_size > 10_000
    rows = {r["setting"]: r for r in csv.DictReader(open(out / "vanishing_exploding.csv"))}
    assert float(rows["sigmoid, Glorot × 1.0"]["gain"]) < 1e-4  # σ' <= 1/4 per layer over 11 layers
    assert float(rows["relu, He × 0.8"]["gain"]) < float(rows["relu, He × 1.25"]["gain"])
    # the cliff: unclipped SGD is thrown onto the plateau J ≈ 1 near w = 0, clipped SGD reaches w = 1
    assert float(rows["no clip"]["last"]) > 0.5 and abs(float(rows["no clip"]["gain"])) < 0.5
    assert float(rows["clip"]["last"]) < 1e-6 and float(rows["clip"]["gain"]) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("radius", [0.9, 1.1])
def test_matrix_power_follows_spectral_radius(radius):
    norms, cosines = matrix_power_norms(radius, 200)
    # after the other eigen-components have decayed, ‖W^{t+1}v‖/‖W^t v‖ = ρ and W^t v ∥ top eigenvector
    assert norms[-1] / norms[-2] == pytest.approx(radius, rel=1e-3)
    assert cosines[-1] == pytest.approx(1.0, abs=1e-6)
    assert np.log(norms[-1] / norms[100]) == pytest.approx(100 * np.log(radius), rel=1e-3)
