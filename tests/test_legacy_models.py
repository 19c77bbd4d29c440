"""Models saved by keras-recipes 0.1.0 (before the chapter layout) load with today's code and predict identically.

The fixtures in ``tests/fixtures/v0_1`` were written by ``tests/fixtures/v0_1/make_fixtures.py`` at commit fb670c1: every
custom layer, regularizer, optimizer, schedule and loss of 0.1, the two training commands' ``model.keras``, each
with the inputs and the predictions 0.1 computed for them. Loading goes through ``recipes.load_model`` and through
plain ``keras.models.load_model`` in a fresh process after ``recipes.register_all()`` (which must find the objects
by their registered names, whatever module defines them now).
"""
import json
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest

import recipes

HERE = pathlib.Path(__file__).resolve().parent / "fixtures" / "v0_1"
NAMES = sorted(p.stem for p in HERE.glob("*.keras"))


def test_every_fixture_is_present():
    assert len(NAMES) == 8, NAMES


@pytest.mark.parametrize("name", NAMES)
def test_saved_by_0_1_loads_and_predicts_identically(name):
    model = recipes.load_model(HERE / f"{name}.keras")
    ref = np.load(HERE / f"{name}.npz")
    np.testing.assert_array_equal(model.predict(ref["x"], verbose=0), ref["y"])
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and name != "train_cifar10_fast_command":
        assert int(optimizer.iterations) >= 1  # the saved optimizer state came back too


def test_mixing_layer_configs_of_0_1_deserialize():
    recipes.register_all()
    configs = json.loads((HERE / "mixing_layers.json").read_text())
    for name, config in configs.items():
        layer = keras.saving.deserialize_keras_object(config)
        assert type(layer).__name__ == name and layer.num_classes == 3


def test_plain_keras_load_model_after_registering():
    code = (
        "import sys, numpy as np, keras, recipes\n"
        "recipes.register_all()\n"
        f"m = keras.models.load_model(sys.argv[1])\n"
        "ref = np.load(sys.argv[2])\n"
        "np.testing.assert_array_equal(m.predict(ref['x'], verbose=0), ref['y'])\n"
        "print('ok')\n"
    )
    name = "custom_layers_proximal_sgd"
    out = subprocess.run([sys.executable, "-c", code, str(HERE / f"{name}.keras"), str(HERE / f"{name}.npz")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]
