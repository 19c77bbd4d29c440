"""Serialization sweep: every registered ``recipes>`` custom object survives ``model.save("x.keras")`` and
``recipes.load_model`` with identical inference-mode predictions.

The objects are found in the registry (``recipes.register_all()``; ``keras.saving.get_custom_objects()``), so a
class added later is swept automatically; its constructor arguments come from ``tests/api_cases.py`` (a class
without an entry there fails ``test_every_registered_object_has_a_sweep_entry``, naming it).

Route by kind: Layer -> functional model on an input that fits (convolutions and image layers (8, 8, 3));
Regularizer -> Dense ``kernel_regularizer`` (predictions and penalty value); Constraint -> ``kernel_constraint``;
Optimizer -> compile + 2 fit steps, reload, compare predictions, every optimizer variable, and one more step from
both (resume equivalence); LearningRateSchedule -> inside SGD (the same plus ε_k at several k); Loss ->
``compile(loss=...)``, compare predictions and evaluated loss; Model subclasses and wrappers -> their own small
model; Callback (not saved in .keras) and other registered plain objects -> ``serialize_keras_object`` /
``deserialize_keras_object`` config round trip.
Comparisons are exact (``assert_array_equal``): the same weights on the same CPU give bit-identical outputs.

Mixed precision (``test_layer_under_mixed_precision``): every registered layer, built under the global policy
``mixed_float16`` and ``mixed_bfloat16``, takes inputs in the policy's compute dtype and returns its output in that
dtype, finite, with the same shapes and dtypes in a training call, an inference call and a symbolic call (one
contract for every mode); the layers of ``FLOAT32_BY_DESIGN`` compute in float32 under any policy, as their
docstrings say. ``tests/test_jax_backend.py`` runs this file under JAX too.
"""
import json

import numpy as np
import pytest

from tests.api_cases import CASES, registered_classes

REGISTERED = registered_classes()


def test_every_registered_object_has_a_sweep_entry():
    missing = sorted(set(REGISTERED) - set(CASES))
    assert not missing, (f"registered custom objects without an entry in tests/api_cases.py CASES: {missing} "
                         "(add their constructor arguments there)")


def _same_config(a, b):
    """Configs equal up to JSON's tuple -> list (the .keras file stores JSON)."""
    normalize = lambda c: json.loads(json.dumps(c, default=str))  # noqa: E731
    assert normalize(a) == normalize(b)


def _np(x):
    import keras

    return np.asarray(keras.ops.convert_to_numpy(x))


def _is_image_layer(obj):
    names = [c.__name__ for c in type(obj).__mro__] + [c.__module__ for c in type(obj).__mro__]
    return any("Conv" in n or n.startswith("augment.") for n in names)


def _reload(model, tmp_path):
    import recipes

    path = tmp_path / "model.keras"
    model.save(path)
    return recipes.load_model(path)


def _dense_data(shape=(6,), n=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, *shape)).astype("float32"), rng.standard_normal((n, 3)).astype("float32")


def _assert_same_predictions(model, loaded, x):
    import keras

    before, after = model(x, training=False), loaded(x, training=False)
    for a, b in zip(keras.tree.flatten(before), keras.tree.flatten(after)):
        np.testing.assert_array_equal(_np(a), _np(b))


def _assert_same_optimizer_state(opt, loaded_opt):
    # in order (paths embed layer names, which a reload may renumber)
    mine, theirs = list(opt.variables), list(loaded_opt.variables)
    assert len(mine) == len(theirs), ([v.path for v in mine], [v.path for v in theirs])
    for a, b in zip(mine, theirs):
        np.testing.assert_array_equal(_np(a), _np(b), err_msg=f"{a.path} vs {b.path}")


def _fit_then_roundtrip(model, x, y, tmp_path, loss="mse", **compile_kwargs):
    """compile + 2 steps, reload, compare predictions and optimizer state, then one more step from each."""
    # eager steps: tracing a train function for a 2-step fit costs more than the steps themselves
    model.compile(loss=loss, run_eagerly=True, **compile_kwargs)
    model.fit(x, y, batch_size=len(x) // 2, epochs=1, shuffle=False, verbose=0)
    loaded = _reload(model, tmp_path)
    loaded.run_eagerly = True
    _assert_same_predictions(model, loaded, x)
    _assert_same_optimizer_state(model.optimizer, loaded.optimizer)
    assert type(loaded.optimizer) is type(model.optimizer)
    for m in (model, loaded):
        m.fit(x, y, batch_size=len(x) // 2, epochs=1, shuffle=False, verbose=0)
    _assert_same_predictions(model, loaded, x)  # resumed training continues identically
    return loaded


def _layer_data(obj, case, n=4):
    """The layer's call input (NumPy), built from a float32 batch of the case's input shape."""
    shape = case.input_shape or ((8, 8, 3) if _is_image_layer(obj) else (6,))
    x = np.random.default_rng(0).uniform(0, 1, (n, *shape)).astype("float32")
    return case.inputs(x) if case.inputs is not None else x


def _symbolic(data):
    import keras

    spec = lambda a, name=None: keras.Input(np.shape(a)[1:], dtype=str(np.asarray(a).dtype), name=name)  # noqa: E731
    if isinstance(data, dict):  # named after their keys (what a functional model with dict inputs wants)
        return {key: spec(a, key) for key, a in data.items()}
    return keras.tree.map_structure(spec, data)


def _check_layer(obj, case, tmp_path):
    import keras

    x = _layer_data(obj, case)
    inp = _symbolic(x)
    model = keras.Model(inp, obj(inp))
    loaded = _reload(model, tmp_path)
    assert type(loaded.layers[-1]) is type(obj)
    _assert_same_predictions(model, loaded, x)
    _same_config(loaded.layers[-1].get_config(), obj.get_config())


def _check_regularizer(obj, case, tmp_path):
    import keras

    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3, kernel_regularizer=obj)])
    x, _ = _dense_data()
    loaded = _reload(model, tmp_path)
    _assert_same_predictions(model, loaded, x)
    reg = loaded.layers[-1].kernel_regularizer
    assert type(reg) is type(obj) and reg.get_config() == obj.get_config()
    kernel = model.layers[-1].kernel
    np.testing.assert_array_equal(_np(reg(kernel)), _np(obj(kernel)))  # the penalty α Ω(w) itself
    assert float(_np(reg(kernel))) > 0


def _check_constraint(obj, case, tmp_path):
    import keras

    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3, kernel_constraint=obj)])
    x, _ = _dense_data()
    loaded = _reload(model, tmp_path)
    _assert_same_predictions(model, loaded, x)
    con = loaded.layers[-1].kernel_constraint
    w = np.random.default_rng(2).standard_normal((6, 3)).astype("float32") * 3
    np.testing.assert_array_equal(_np(con(w)), _np(obj(w)))


def _check_optimizer(obj, case, tmp_path):
    import keras

    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3)])
    x, y = _dense_data()
    _fit_then_roundtrip(model, x, y, tmp_path, optimizer=obj)


def _check_schedule(obj, case, tmp_path):
    import keras

    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3)])
    x, y = _dense_data()
    loaded = _fit_then_roundtrip(model, x, y, tmp_path, optimizer=keras.optimizers.SGD(learning_rate=obj))
    schedule = loaded.optimizer._learning_rate
    assert type(schedule) is type(obj) and schedule.get_config() == obj.get_config()
    for step in (0, 1, 3, 7, 1000):
        np.testing.assert_array_equal(_np(schedule(step)), _np(obj(step)))


def _check_loss(obj, case, tmp_path):
    import keras

    if case.model is not None:
        model, x, y = case.model(obj)
    else:
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3)])
        x, _ = _dense_data()
        y = np.arange(len(x)) % 3
    loaded = _fit_then_roundtrip(model, x, y, tmp_path, loss=obj, optimizer=keras.optimizers.SGD(0.05))
    assert type(loaded.loss) is type(obj) and loaded.loss.get_config() == obj.get_config()
    assert loaded.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)


def _check_model(obj, case, tmp_path):
    import keras

    if case.model is not None:
        model, x, y = case.model(obj)
    else:
        model = obj
        shape = case.input_shape or tuple(model.inputs[0].shape[1:]) if getattr(model, "inputs", None) else (6,)
        x, _ = _dense_data(shape)
        y = _np(model(x))
    loaded = _fit_then_roundtrip(model, x, y, tmp_path, optimizer=keras.optimizers.SGD(0.01))
    assert type(loaded) is type(obj)


def _check_config_round_trip(obj, case, tmp_path):
    import keras

    config = keras.saving.serialize_keras_object(obj)
    clone = keras.saving.deserialize_keras_object(config)
    assert type(clone) is type(obj)
    _same_config(clone.get_config(), obj.get_config())


def _route(obj):
    import keras

    # order matters: a Model is a Layer
    for kind, check in ((keras.Model, _check_model), (keras.layers.Layer, _check_layer),
                        (keras.regularizers.Regularizer, _check_regularizer),
                        (keras.constraints.Constraint, _check_constraint),
                        (keras.optimizers.Optimizer, _check_optimizer),
                        (keras.optimizers.schedules.LearningRateSchedule, _check_schedule),
                        (keras.losses.Loss, _check_loss), (keras.callbacks.Callback, _check_config_round_trip)):
        if isinstance(obj, kind):
            return check
    if hasattr(obj, "get_config"):  # a plain registered helper object (e.g. a weight-averaging rule)
        return _check_config_round_trip
    raise AssertionError(f"{type(obj).__name__}: no serialization route for its kind {type(obj).__mro__[1:]}")


@pytest.mark.parametrize("name", sorted(REGISTERED))
def test_save_reload_same_predictions(name, tmp_path):
    import keras

    if name not in CASES:
        pytest.fail(f"{name} has no entry in tests/api_cases.py CASES")
    case = CASES[name]
    keras.utils.set_random_seed(0)
    obj = REGISTERED[name](**case.build_kwargs())
    _route(obj)(obj, case, tmp_path)


def _is_layer_class(cls):
    import keras

    return isinstance(cls, type) and issubclass(cls, keras.layers.Layer) and not issubclass(cls, keras.Model)


LAYERS = sorted(name for name, cls in REGISTERED.items() if _is_layer_class(cls))
#: Registered layers that compute in float32 under any global policy (their docstrings say why).
FLOAT32_BY_DESIGN = {
    "AugmentOnDevice": "augments in float32 (exact pixel arithmetic) and returns float32; the network's first "
                       "layer casts to the policy's compute dtype",
}


@pytest.fixture
def global_policy():
    """Set the global dtype policy for one test, and put the previous one back."""
    import keras

    previous = keras.config.dtype_policy()
    yield keras.config.set_dtype_policy
    keras.config.set_dtype_policy(previous)


def _spec(t):
    import keras

    return tuple(None if d is None else int(d) for d in t.shape), keras.backend.standardize_dtype(t.dtype)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
@pytest.mark.parametrize("name", LAYERS)
def test_layer_under_mixed_precision(name, policy, global_policy):
    import keras

    global_policy(policy)
    case = CASES[name]
    keras.utils.set_random_seed(0)
    obj = REGISTERED[name](**case.build_kwargs())
    compute = "float32" if name in FLOAT32_BY_DESIGN else keras.config.dtype_policy().compute_dtype
    assert obj.compute_dtype == compute, (name, policy, obj.compute_dtype)
    data = _layer_data(obj, case)
    # float inputs in the policy's compute dtype, integer inputs (labels, ids) as they are
    policy_compute = keras.config.dtype_policy().compute_dtype
    data = keras.tree.map_structure(
        lambda a: keras.ops.cast(a, policy_compute) if a.dtype.kind == "f" else keras.ops.convert_to_tensor(a), data)
    kwargs = case.call_kwargs(np.asarray(keras.tree.flatten(data)[0])) if case.call_kwargs else {}
    trained = keras.tree.flatten(obj(data, training=True, **kwargs))
    inferred = keras.tree.flatten(obj(data, training=False))
    symbolic = keras.tree.flatten(obj(_symbolic(keras.tree.map_structure(_np, data))))
    assert _spec(trained[0])[1] == compute, f"{name} under {policy}: {_spec(trained[0])[1]} out, expected {compute}"
    assert len(trained) == len(inferred) == len(symbolic)
    for t, i, s in zip(trained, inferred, symbolic):  # one contract: same shapes and dtypes in every mode
        assert _spec(t) == _spec(i), (name, policy, _spec(t), _spec(i))
        assert _spec(s)[1] == _spec(t)[1] and all(a in (None, b) for a, b in zip(_spec(s)[0], _spec(t)[0])), \
            (name, policy, "symbolic", _spec(s), "eager", _spec(t))
        for out in (t, i):
            values = _np(out)
            if values.dtype.kind == "f" or "bfloat16" in str(values.dtype):
                assert np.isfinite(values.astype("float32")).all(), (name, policy)
