"""Bad-input sweep over the public API: every registered custom object and every public builder in
``tests/api_cases.py`` gets, one argument at a time, an out-of-range value chosen from the argument's NAME (the
other arguments valid, from the same table), and must raise ``ValueError``/``TypeError`` whose message names the
argument, in the constructor, before any work.

Rules (argument name -> bad values; a value is chosen so that it is out of range under every meaning the name
has in this project):

- rates, probabilities, fractions, momenta (``rate``, ``*_rate`` but not ``learning_rate``, ``p``, ``*sparsity``,
  ``momentum``, ``beta_1``, ``beta_2``, ``start``, ``final_lr_fraction``, ``decay``) -> 1.5, -0.1, NaN
- counts that must be >= 1 (``units``, ``width``, ``filters``, ``replicas``, ``every``, ``eval_every``,
  ``frequency``, ``batch_size``, ``epochs``, ``steps``, ``decay_steps``, ``total_steps``, ``num_classes``,
  ``num_outputs``, ``num_ops``, ``input_dim``, ``trials``, ``min_units``, ``epochs_to_full``, ``step_length``) -> 0
- counts that may be 0 (``patience``, ``*_step``, ``*_steps``, ``num_*``, ``padding``, ``val_size``,
  ``start_epoch``, ``repeats``) -> -1
- strengths, penalties, scales (``strength``, ``l1``, ``l2``, ``stddev``, ``eta``, ``gamma``, ``alpha``,
  ``epsilon``, ``learning_rate``, ``initial_learning_rate``, ``final_learning_rate``, ``weight_decay``,
  ``clipnorm``, ``tying_strength``, ``magnitude``, ``*_power``) -> -1.0, NaN
- choices given as strings (``model``, ``norm``, ``augment``, ``estimator``, ``kind``, ``mask``, ``mode``,
  ``protocol``, ``scope``, ``weights``, ``policy``, ``fill_mode``, ``combine``, ``output``, ``train_mode``,
  ``preset``, ``nan_policy``, ``retrain_length``; ``name`` of ``build_resnet``) -> "no_such_choice"

Data: labels outside [0, num_classes), NaN/inf in float images, a missing data folder (here); a corrupt PNG and a
non-image file in the data folder are in ``tests/data/test_cifar10.py``; every flag of ``scripts/train_cifar10.py``
out of range in ``tests/training/test_train_cifar10.py`` (which also checks that nothing is left in ``--output-dir``).
Run ``python -m tests.test_bad_input_sweep`` (from the repository root) to print every bad input tried and what it
got.
"""
import inspect
import math
import re

import numpy as np
import pytest

from tests.api_cases import CASES, FUNCTIONS, function_kwargs, registered_classes, resolve

NAN = float("nan")
_RATE = (1.5, -0.1, NAN)
_STRENGTH = (-1.0, NAN)
_CHOICE = ("no_such_choice",)
RULES = [  # (regular expression on the argument name, bad values); first match wins
    (r"learning_rate|initial_learning_rate|final_learning_rate", _STRENGTH),
    (r"rate|.*_rate|p|prob|probability|.*sparsity|momentum|beta_1|beta_2|start|final_lr_fraction|decay", _RATE),
    (r"units|width|filters|replicas|every|eval_every|frequency|batch_size|epochs|steps|decay_steps|total_steps"
     r"|num_classes|num_outputs|num_ops|input_dim|trials|min_units|epochs_to_full|step_length", (0,)),
    (r"patience|.*_step|.*_steps|num_.*|padding|val_size|start_epoch|repeats", (-1,)),
    (r"strength|l1|l2|stddev|eta|gamma|alpha|epsilon|weight_decay|clipnorm|tying_strength|magnitude|.*_power",
     _STRENGTH),
    (r"model|norm|augment|estimator|kind|mask|mode|protocol|scope|weights|policy|fill_mode|combine|output"
     r"|train_mode|preset|nan_policy|retrain_length", _CHOICE),
]
#: Extra bad values for arguments whose name says nothing about their range.
EXTRA = {"recipes.models.resnet.build_resnet": {"name": ("resnet19",)}}
#: (target, argument) pairs a rule matches but that are not range arguments, with the reason.
NOT_SWEPT = {
    ("SparseCategoricalCrossentropyWithSmoothing", "reduction"): "Keras' own argument",
}


def _bad_values(param_name, valid):
    for pattern, values in RULES:
        if re.fullmatch(pattern, param_name):
            if values is _CHOICE and not isinstance(valid, str):
                return ()
            if values is not _CHOICE and isinstance(valid, str):
                return ()
            return values
    return ()


def _signature_params(target):
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):  # pragma: no cover
        return {}
    return {n: p for n, p in sig.parameters.items()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and n != "self"}


def _cases():
    """(target label, callable, valid kwargs factory, argument, bad value)."""
    out = []
    for name, cls in registered_classes().items():
        if name not in CASES:
            continue  # reported by test_serialization_sweep.test_every_registered_object_has_a_sweep_entry
        targets = [(name, cls, CASES[name].build_kwargs)]
        out.extend(_expand(*targets[0]))
    for dotted in FUNCTIONS:
        fn = resolve(dotted)
        if fn is not None:
            out.extend(_expand(dotted, fn, lambda d=dotted: function_kwargs(d)))
    return out


def _expand(label, target, make_kwargs):
    valid = make_kwargs()
    cases = []
    for param_name, param in _signature_params(target).items():
        if (label.rsplit(".", 1)[-1], param_name) in NOT_SWEPT:
            continue
        current = valid.get(param_name, param.default)
        values = EXTRA.get(label, {}).get(param_name) or _bad_values(param_name, current)
        for value in values:
            cases.append(pytest.param(label, target, make_kwargs, param_name, value,
                                      id=f"{label.rsplit('.', 1)[-1]}-{param_name}={value!r}"))
    return cases


CASES_ALL = _cases()
OUTCOMES = []  # (target, argument, value, what it got) for the report


@pytest.mark.parametrize("label,target,make_kwargs,param_name,value", CASES_ALL)
def test_out_of_range_argument_is_named(label, target, make_kwargs, param_name, value):
    kwargs = make_kwargs()
    kwargs[param_name] = value
    try:
        target(**kwargs)
    except Exception as err:  # noqa: BLE001 - recorded, then judged below
        error, got = err, f"{type(err).__name__}: {err}"
    else:
        error, got = None, "accepted (no error)"
    OUTCOMES.append((label, param_name, value, got))
    assert isinstance(error, (ValueError, TypeError)), f"{label}({param_name}={value!r}): {got}"
    assert param_name in str(error), f"{label}({param_name}={value!r}) raised without naming it: {got}"


@pytest.mark.parametrize("dotted", sorted(FUNCTIONS))
def test_function_table_arguments_are_valid(dotted):
    """The valid arguments really are valid (else the sweep would pass for the wrong reason)."""
    fn = resolve(dotted)
    assert fn is not None, f"{dotted} is not importable: update tests/api_cases.py FUNCTIONS"
    if dotted.endswith(("build_resnet",)):
        return  # built by tests/models/test_resnet.py; a ResNet build costs seconds
    fn(**function_kwargs(dotted))


def test_sweep_covers_every_registered_object_with_range_arguments():
    """Every registered class whose constructor has an argument a rule knows appears in the sweep."""
    swept = {c.values[0] for c in CASES_ALL}
    assert {"ElasticNet", "LinearDecay", "recipes.models.resnet.build_resnet"} <= swept
    for name, cls in registered_classes().items():
        if any(_bad_values(p, d.default) for p, d in _signature_params(cls).items()):
            assert name in swept, name


# ---------------------------------------------------------------------------------------------------------------
# Data: labels outside [0, classes), NaN in inputs, missing data folder
# ---------------------------------------------------------------------------------------------------------------
def _images(n=8, dtype=np.uint8, size=8):
    return np.random.default_rng(0).integers(0, 256, (n, size, size, 3)).astype(dtype)


@pytest.mark.parametrize("labels,needle", [
    (np.array([0, 1, 2, 3, 0, 1, 2, 0]), "label 3 is outside [0, 3)"),
    (np.array([0, 1, 2, -1, 0, 1, 2, 0]), "label -1 is outside [0, 3)"),
    (np.eye(4, dtype="float32")[np.arange(8) % 4], "expected num_classes=3"),
])
@pytest.mark.parametrize("maker", ["make_train_dataset", "make_eval_dataset"])
def test_labels_outside_classes_are_named(maker, labels, needle):
    from augment import image_pipeline

    with pytest.raises(ValueError) as info:
        getattr(image_pipeline, maker)(_images(), labels, batch_size=4, num_classes=3)
    assert needle in str(info.value)


@pytest.mark.parametrize("labels", [[0, 3], [-1, 1]])
def test_smooth_labels_outside_classes_are_named(labels):
    from recipes.regularizers.noise_robustness import smooth_labels

    with pytest.raises(ValueError, match=r"y has label -?\d outside \[0, num_classes=3\)"):
        smooth_labels(np.array(labels), 0.1, num_classes=3)


@pytest.mark.parametrize("bad", [NAN, math.inf])
@pytest.mark.parametrize("maker", ["make_train_dataset", "make_eval_dataset"])
def test_nan_images_are_named(maker, bad):
    from augment import image_pipeline

    x = _images(dtype=np.float32)
    x[5, 1, 2, 0] = bad
    with pytest.raises(ValueError, match=r"x contains NaN or inf .*image 5"):
        getattr(image_pipeline, maker)(x, np.arange(8) % 3, batch_size=4, num_classes=3)


def test_training_command_rejects_nan_and_bad_labels_before_writing(tmp_path, monkeypatch):
    from recipes.data import cifar10
    from recipes.training import engine as training

    out = tmp_path / "out"
    x = _images(20, np.float32, size=32)
    y = np.arange(20) % 10
    for bad_x, bad_y, needle in ((np.where(np.arange(20)[:, None, None, None] == 7, NAN, x), y, "image 7"),
                                 (x, np.where(np.arange(20) == 3, 10, y), "labels must lie in [0, 10)")):
        monkeypatch.setattr(cifar10, "load_cifar10", lambda *a, _d=(bad_x, bad_y), **k: (_d, _d))
        cfg = training.TrainConfig(data_dir=None, output_dir=str(out), batch_size=4, epochs=1, width=2)
        with pytest.raises(training.UsageError, match=re.escape(needle)):
            training.run_training(cfg)
        assert not out.exists()


def test_missing_data_folder_is_named(tmp_path):
    from recipes.data import cifar10

    with pytest.raises(FileNotFoundError, match="nowhere"):
        cifar10.load_cifar10(tmp_path / "nowhere")


if __name__ == "__main__":  # print the table of bad inputs and what each got
    import os
    import sys

    os.environ["RECIPES_PRINT_BAD_INPUTS"] = "1"
    sys.exit(pytest.main([__file__, "-q", "-p", "no:cacheprovider", "-s", "-k", "out_of_range",
                          "-o", "addopts=", "--tb=no", "-W", "ignore"]) or 0)


def teardown_module(module):
    if OUTCOMES and __import__("os").environ.get("RECIPES_PRINT_BAD_INPUTS"):
        print()
        for label, param, value, got in OUTCOMES:
            print(f"| {label} | {param}={value!r} | {got[:110]} |")
