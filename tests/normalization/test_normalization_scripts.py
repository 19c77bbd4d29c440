"""Smoke tests of scripts/bn_running_vs_population.py and keras-recipes-bench-train-step (tiny settings)."""
import csv

import pytest

from tests.helpers import load_script


def test_bn_demo_table_shows_the_running_average_lag(tmp_path, capsys):
    demo = load_script("bn_running_vs_population")
    rows = demo.main(["--synthetic", "--batch-sizes", "4", "--steps", "5", "--train-limit", "64",
                      "--test-limit", "32", "--output-dir", str(tmp_path)])
    assert len(rows) == 1
    # After 5 steps the running mean still carries weight 0.99^5 = 0.95 on its initial 0: it is several
    # population standard deviations away from the population mean of the un-normalized conv outputs.
    assert rows[0]["mean_gap"] > 0.5
    assert rows[0]["unbiasing_factor"] == 0.75
    with open(tmp_path / "bn_running_vs_population.csv") as f:
        assert len(list(csv.DictReader(f))) == 1
    assert "data=synthetic" in capsys.readouterr().out


@pytest.mark.parametrize("flags, needle", [(["--batch-sizes", "1"], "--batch-sizes"), (["--steps", "x"], "--steps"),
                                           (["--data-dir", "/nonexistent"], "--data-dir")])
def test_bn_demo_rejects_bad_arguments(capsys, flags, needle):
    demo = load_script("bn_running_vs_population")
    with pytest.raises(SystemExit) as exit_info:
        demo.main(flags)
    assert exit_info.value.code == 2 and needle in capsys.readouterr().err


def test_bench_variants_use_the_right_layers():
    import keras
    from recipes.normalization.weight_norm import WeightNormalization
    from recipes.normalization.weight_standardization import WSConv2D
    from recipes.commands import bench_train_step as bench

    def kinds(model):
        return {type(l).__name__ for l in model.layers}

    wn = bench.VARIANTS["weight_norm"]("resnet20", None)
    assert sum(isinstance(l, WeightNormalization) for l in wn.layers) == 21
    assert not any(isinstance(l, keras.layers.BatchNormalization) for l in wn.layers)
    wn_bn = bench.VARIANTS["weight_norm_bn"]("resnet20", None)
    assert {"WeightNormalization", "BatchNormalization"} <= kinds(wn_bn)
    ws = bench.VARIANTS["ws_gn"]("resnet20", None)
    assert sum(isinstance(l, WSConv2D) for l in ws.layers) == 21 and "GroupNormalization" in kinds(ws)
    assert "BatchNormalization" not in kinds(ws)
    assert {"Conv2D", "GroupNormalization"} <= kinds(bench.VARIANTS["group_norm"]("resnet20", None))


@pytest.mark.parametrize("flags, needle", [(["--variants", "plain,nope"], "--variants"), (["--steps", "0"], "--steps")])
def test_bench_rejects_bad_flags(capsys, flags, needle):
    # A real run builds and compiles two ResNet-20s (~10 s even at batch 2): measured by hand, not here.
    from recipes.commands import bench_train_step as bench
    with pytest.raises(SystemExit) as exit_info:
        bench.main(flags)
    assert exit_info.value.code == 2 and needle in capsys.readouterr().err
