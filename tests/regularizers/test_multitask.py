"""recipes.regularizers.multitask: per-task outputs, J = Σ c_t J_t (+ tying penalty) as reported by Keras vs NumPy,
training improves both tasks, argument checks."""
import numpy as np
import pytest

import keras

from recipes.regularizers.multitask import build_hard_sharing_model, build_soft_sharing_model, compile_multitask


def _np(t):
    return keras.ops.convert_to_numpy(t).astype(np.float64)


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2)).astype("float32")
    y_reg = (x[:, :1] * 2 - x[:, 1:]).astype("float32")
    y_cls = (x[:, 0] * x[:, 1] > 0).astype("int64")
    return x, {"reg": y_reg, "cls": y_cls}


def _cross_entropy(logits, y):
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    return -logp[np.arange(len(y)), y].mean()


def test_hard_sharing_loss_is_weighted_sum_and_training_helps():
    keras.utils.set_random_seed(0)
    model = build_hard_sharing_model((2,), {"reg": 1, "cls": 2}, trunk_units=(16,), head_units=(8,))
    assert [l.name for l in model.layers if l.name.startswith("trunk")] == ["trunk_0"]
    compile_multitask(
        model,
        {"reg": "mse", "cls": keras.losses.SparseCategoricalCrossentropy(from_logits=True)},
        loss_weights={"reg": 0.5, "cls": 2.0},
        optimizer=keras.optimizers.Adam(0.02),
    )
    x, y = _data()
    out = model.predict(x, verbose=0)
    ref = 0.5 * np.mean((out["reg"] - y["reg"]) ** 2) + 2.0 * _cross_entropy(out["cls"].astype(np.float64), y["cls"])
    before = model.evaluate(x, y, batch_size=64, verbose=0, return_dict=True)
    # float32 forward pass, relative 1e-5
    np.testing.assert_allclose(before["loss"], ref, rtol=1e-5)
    reps = 15  # 15 passes over the data in one Keras epoch (per-epoch overhead dominates otherwise)
    model.fit(np.tile(x, (reps, 1)), {k: np.concatenate([v] * reps) for k, v in y.items()}, batch_size=16,
              epochs=1, verbose=0)
    after = model.evaluate(x, y, batch_size=64, verbose=0, return_dict=True)
    assert after["reg_loss"] < 0.5 * before["reg_loss"]
    assert after["cls_loss"] < before["cls_loss"]


def test_soft_sharing_loss_includes_tying_penalty():
    keras.utils.set_random_seed(1)
    lam = 0.2
    model = build_soft_sharing_model((2,), {"reg": 1, "cls": 2}, tower_units=(6, 4), tying_strength=lam)
    assert model.pairs == [("reg_tower_0", "cls_tower_0"), ("reg_tower_1", "cls_tower_1")]
    compile_multitask(model, {"reg": "mse", "cls": keras.losses.SparseCategoricalCrossentropy(from_logits=True)})
    x, y = _data(seed=1)
    out = model(x)
    inner = model.inner
    omega = sum(
        np.sum((_np(inner.get_layer(f"reg_tower_{i}").kernel) - _np(inner.get_layer(f"cls_tower_{i}").kernel)) ** 2)
        for i in range(2)
    )
    ref = np.mean((_np(out["reg"]) - y["reg"]) ** 2) + _cross_entropy(_np(out["cls"]), y["cls"]) + lam * omega
    np.testing.assert_allclose(model.evaluate(x, y, batch_size=64, verbose=0)[0], ref, rtol=1e-5)


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="tasks must be a dict .* with at least 1 task, got {}"):
        build_hard_sharing_model((2,), {})
    with pytest.raises(ValueError, match=r"tasks\['a'\] must be an integer in \[1, inf\), got 0"):
        build_hard_sharing_model((2,), {"a": 0})
    with pytest.raises(ValueError, match="tasks must have identifiers as task names, got 'a b'"):
        build_hard_sharing_model((2,), {"a b": 1})
    with pytest.raises(ValueError, match=r"trunk_units\[0\] must be an integer in \[1, inf\), got 0"):
        build_hard_sharing_model((2,), {"a": 1}, trunk_units=(0,))
    with pytest.raises(ValueError, match="trunk_units must be a sequence of integers .* with at least 1 entry"):
        build_hard_sharing_model((2,), {"a": 1}, trunk_units=())
    with pytest.raises(ValueError, match=r"head_units\[1\] must be an integer in \[1, inf\), got -2"):
        build_hard_sharing_model((2,), {"a": 1}, head_units=(3, -2))
    with pytest.raises(ValueError, match="tasks must be a dict .* with at least 2 tasks"):
        build_soft_sharing_model((2,), {"a": 1})
    with pytest.raises(ValueError, match=r"tying_strength must be a finite number in \[0, inf\), got -1.0"):
        build_soft_sharing_model((2,), {"a": 1, "b": 1}, tying_strength=-1.0)
    model = build_hard_sharing_model((2,), {"a": 1})
    with pytest.raises(ValueError, match=r"loss_weights must name tasks of losses \(a\), got 'b'"):
        compile_multitask(model, {"a": "mse"}, loss_weights={"b": 1.0})
    with pytest.raises(ValueError, match=r"loss_weights\['a'\] must be a finite number in \[0, inf\), got -1"):
        compile_multitask(model, {"a": "mse"}, loss_weights={"a": -1})
