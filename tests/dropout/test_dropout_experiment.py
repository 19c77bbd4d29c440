import csv
import subprocess
import sys

import pytest

from tests.helpers import load_script, write_image_folder


@pytest.mark.parametrize("flags, needle", [
    (["--val-size", "100", "--train-limit", "50"], "--val-size"),
    (["--models", "none,bogus"], "--models"),
    (["--epochs", "0"], "--epochs"),
])
def test_bad_flags_fail_before_any_work(capsys, flags, needle):
    with pytest.raises(SystemExit) as exit_info:
        load_script("dropout_experiment").parse_args(flags)
    assert exit_info.value.code == 2
    assert needle in capsys.readouterr().err


def test_runs_end_to_end_on_an_image_folder(repo_root, subprocess_env, tmp_path):
    data = tmp_path / "data"
    write_image_folder(data, n_train=20, n_test=6)
    env = dict(subprocess_env, RECIPES_CACHE=str(tmp_path / "cache"))
    out = tmp_path / "out"
    cmd = [sys.executable, str(repo_root / "scripts" / "dropout_experiment.py"), "--data-dir", str(data),
           "--output-dir", str(out), "--train-limit", "60", "--val-size", "15", "--epochs", "1", "--hidden", "16",
           "--mc-samples", "3", "--ood-size", "8", "--batch-size", "16"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in ("curves.png", "mc_uncertainty.png", "structural_width.png", "results.csv", "curves.csv",
                 "mc_uncertainty.csv", "structural_width.csv"):
        assert (out / name).stat().st_size > 0, name
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert [r["model"] for r in rows] == ["none", "dropout", "dropconnect", "structural"]
    widths = [int(r["width"]) for r in csv.DictReader(open(out / "structural_width.csv"))]
    assert widths == [4, 8, 16]
    mc = {r["inputs"]: r for r in csv.DictReader(open(out / "mc_uncertainty.csv"))}
    assert set(mc) == {"CIFAR-10 test", "uniform noise", "gaussian noise"}
    assert 0.0 <= float(mc["uniform noise"]["auroc_entropy"]) <= 1.0
    assert "total_seconds=" in proc.stdout
