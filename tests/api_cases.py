"""Valid constructor arguments for every public object the sweeps exercise (not a test file).

``CASES`` maps the class name of every ``recipes>`` registered custom object to the arguments that build a small
valid instance (and, where the generic route of ``tests/test_serialization_sweep.py`` does not fit, the input
shape or a model factory). ``FUNCTIONS`` maps public builders/functions (dotted path) to valid keyword arguments.
``tests/test_bad_input_sweep.py`` starts from these valid arguments and breaks one at a time.

A new registered class without an entry here makes ``test_every_registered_object_has_a_sweep_entry`` fail,
naming it: add a line below.
"""
from __future__ import annotations

import dataclasses
import importlib
from typing import Any, Callable

import numpy as np


@dataclasses.dataclass
class Case:
    """How to build and exercise one registered custom object.

    kwargs: constructor keyword arguments, or a callable returning them (for arguments that must be fresh objects,
        e.g. an inner optimizer or a wrapped layer).
    input_shape: layers: shape of one example (default (8, 8, 3) for convolutions and image layers, else (6,)).
    model: optional ``factory(obj) -> (model, x, y)`` when the generic model of the object's kind does not fit
        (model subclasses, losses on special shapes); ``y`` may be None.
    inputs: layers whose call takes more than one tensor: ``inputs(x) -> data``, the call's first argument built
        from the NumPy batch ``x`` of ``input_shape`` (e.g. ``(x, labels)`` for the mixing layers). Default: ``x``.
    call_kwargs: layers: ``call_kwargs(x) -> dict``, keyword arguments a training call needs (e.g. a context).
    """

    kwargs: Any = dataclasses.field(default_factory=dict)
    input_shape: tuple | None = None
    model: Callable | None = None
    inputs: Callable | None = None
    call_kwargs: Callable | None = None

    def build_kwargs(self):
        return dict(self.kwargs() if callable(self.kwargs) else self.kwargs)


def _sgd():
    import keras

    return keras.optimizers.SGD(0.05, momentum=0.9)


def _two_towers():
    import keras

    inp = keras.Input((6,))
    a = keras.layers.Dense(3, name="tower_a")(inp)
    b = keras.layers.Dense(3, name="tower_b")(inp)
    return keras.Model(inp, keras.layers.Add()([a, b]))


def _replica_loss_model(loss):
    import keras

    from recipes.analysis.replicas import ReplicaDense

    inp = keras.Input((6,))
    model = keras.Model(inp, ReplicaDense(1, replicas=2)(inp))
    x = np.random.default_rng(0).standard_normal((8, 6)).astype("float32")
    y = np.random.default_rng(1).standard_normal((8, 2, 1)).astype("float32")
    return model, x, y


def _with_labels(x, classes=3):
    """(images, integer labels) for the mixing layers."""
    return x, np.arange(len(x)) % classes


def _device_batch(x):
    """What TrainBatches yields to AugmentOnDevice: uint8 images, their ids and the step."""
    n = len(x)
    images = np.clip(np.asarray(x, dtype="float32") * 255.0, 0, 255).astype(np.uint8)
    return {"images": images, "ids": np.arange(n, dtype=np.int32), "step": np.full(n, 4, dtype=np.int32)}


def _flip_context(x):
    return {"context": {"ids": np.arange(len(x), dtype=np.int32), "epoch": 1}}


def _augment(name, **kwargs):
    from augment import image_ops

    return getattr(image_ops, name)(**kwargs)


CASES: dict[str, Case] = {
    # recipes (foundation, penalties, optimization, bias-variance)
    "ElasticNet": Case(dict(strength=0.01, alpha=0.3)),
    "ProximalSGD": Case(dict(learning_rate=0.05, l1=0.01, momentum=0.5)),
    "GradientNoise": Case(lambda: dict(inner_optimizer=_sgd(), eta=0.01, gamma=0.55, seed=3)),
    "SignSGD": Case(dict(learning_rate=0.01, momentum=0.0)),
    "Signum": Case(dict(learning_rate=0.01, momentum=0.9)),
    "Sophia": Case(dict(learning_rate=0.01, beta_1=0.9, beta_2=0.99, gamma=0.01)),
    "ParameterTying": Case(lambda: dict(model=_two_towers(), pairs=[("tower_a", "tower_b")], strength=0.1)),
    "ReplicaDense": Case(dict(units=3, replicas=2, activation="tanh"), input_shape=(2, 6)),
    "ReplicaLoss": Case(dict(loss="mean_squared_error"), model=_replica_loss_model),
    "LinearDecay": Case(dict(initial_learning_rate=0.1, final_learning_rate=0.001, decay_steps=10)),
    "SparseCategoricalCrossentropyWithSmoothing": Case(dict(epsilon=0.1, from_logits=True)),
    "WeightNoiseDense": Case(dict(units=3, stddev=0.1, seed=1)),
    "MagnitudePruning": Case(dict(final_sparsity=0.5, initial_sparsity=0.1, begin_step=1, end_step=5,
                                  frequency=2)),
    # dropout family
    "DropConnectDense": Case(dict(units=3, rate=0.3, seed=1)),
    "DropConnectConv2D": Case(dict(filters=2, kernel_size=3, rate=0.3, seed=1)),
    "FastDropoutDense": Case(dict(units=3, rate=0.3, seed=1)),
    "DirectDropout": Case(dict(rate=0.3, seed=1)),
    "StructuralDropout": Case(dict(min_units=2, seed=1)),
    "AdditiveGaussianNoise": Case(dict(stddev=2.5, seed=1)),  # σ > 1: Keras' GaussianNoise would refuse it
    # MC dropout's always-on wrapper: the same seed after reload gives the same (random) output
    "ForceTraining": Case(lambda: dict(layer=__import__("keras").layers.Dropout(0.3, seed=1))),
    # normalization
    "MinMaxScaling": Case(dict(minimum=[0.0] * 6, maximum=[2.0] * 6)),
    "ZScoreNormalization": Case(dict(mean=[0.5] * 6, variance=[2.0] * 6)),
    "WeightNormalization": Case(lambda: dict(layer=__import__("keras").layers.Dense(3))),
    "WSConv2D": Case(dict(filters=2, kernel_size=3)),
    # early stopping: callbacks, config round trip only
    "StepEarlyStopping": Case(dict(eval_every=10, patience=3)),
    "StopAtStep": Case(dict(steps=5)),
    "ValidationTargetStopping": Case(dict(target=0.5, eval_every=10)),
    # augmentation layers
    "RandomFlip": Case(dict(mode="horizontal", p=0.5, seed=1)),
    "AlternatingFlip": Case(dict(seed=1), call_kwargs=_flip_context),
    "AugmentOnDevice": Case(dict(spec="airbench", seed=1, steps_per_epoch=3), inputs=_device_batch),
    "PadCrop": Case(dict(padding=2, seed=1)),
    "RandomAffine": Case(dict(rotation=10.0, seed=1)),
    "RandomResizedCrop": Case(dict(scale=(0.5, 1.0), seed=1)),
    "RandomColor": Case(dict(brightness=0.1, seed=1)),
    "Cutout": Case(dict(seed=1)),
    "AdditiveNoise": Case(dict(seed=1)),
    "MultiplicativeNoise": Case(dict(seed=1)),
    "RandAugment": Case(dict(num_ops=2, magnitude=5, seed=1)),
    "Sequential": Case(lambda: dict(layers=[_augment("RandomFlip", seed=1), _augment("PadCrop", padding=2, seed=2)])),
    "MixUp": Case(dict(alpha=0.2, num_classes=3, seed=1), inputs=_with_labels),
    "CutMix": Case(dict(alpha=1.0, num_classes=3, seed=1), inputs=_with_labels),
    "Mosaic": Case(dict(num_classes=3, seed=1), inputs=_with_labels),
    "SpecAugment": Case(dict(freq_mask_param=2, num_freq_masks=1, time_mask_param=2, num_time_masks=1, seed=1),
                        input_shape=(16, 8)),
    # fast recipe
    "WarmupLinearDecay": Case(dict(initial_learning_rate=0.1, final_learning_rate=0.001, total_steps=20,
                                   warmup_steps=5)),
    "WeightAveraging": Case(dict(mode="ema", decay=0.9, every=2, warmup_power=1.0, total_steps=10)),
    # issue 16 (airbench94, faithful)
    "GroupedSGD": Case(dict(learning_rate=0.05, momentum=0.85, nesterov=True, coupled_weight_decay=1e-3,
                            groups=[dict(pattern="bias", lr_scale=4.0, train_steps=1)])),
    "DiracUniform": Case(dict(seed=1)),
    "PatchWhitening": Case(dict(filters=4, patch_size=2, use_bias=True), input_shape=(8, 8, 3)),
}


def _images(n=8, size=8, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3)).astype(np.uint8)


def _labels(n=8, classes=3, seed=0):
    return np.arange(n) % classes


#: Public builders and functions (dotted path -> valid keyword arguments, or a callable returning them).
FUNCTIONS: dict[str, Any] = {
    "recipes.models.resnet.build_resnet": dict(name="resnet20", width=2, num_classes=10, dropout_rate=0.1, norm="batch"),
    "recipes.models.mlp.build_mlp": dict(input_shape=(4,), hidden_units=(3,), num_outputs=2, dropout_rate=0.1,
                                  norm="none"),
    "recipes.models.small_cnn.build_small_cnn": dict(input_shape=(8, 8, 3), filters=(2, 3), pooled=(True, False),
                                                     norm="batch", head="average", dense_units=(4,),
                                                     dropout_rate=0.1, num_classes=3),
    "recipes.models.dropout_mlp.build_dropout_mlp": dict(kind="dropconnect", hidden=4, input_dim=6, num_classes=3,
                                                         seed=0),
    "recipes.models.text_cnn.build_text_cnn": dict(texts=["a good film", "a bad film"], arch="mean",
                                                   max_tokens=20, seq_len=5, dim=4),
    "recipes.data.cifar10.split_train_val": lambda: dict(x=_images(20), y=_labels(20, 2), val_size=4, seed=0),
    "augment.image_pipeline.make_train_dataset": lambda: dict(x=_images(8), y=_labels(8), batch_size=4,
                                                              num_classes=3, augment="standard", seed=0),
    "augment.image_pipeline.make_eval_dataset": lambda: dict(x=_images(8), y=_labels(8), batch_size=4,
                                                             num_classes=3),
    "recipes.optimization.schedules.LinearDecay": CASES["LinearDecay"].kwargs,
    "recipes.analysis.replicas.build_replica_mlp": dict(input_dim=3, hidden_units=(4,), num_outputs=1, seeds=[0, 1]),
    "recipes.analysis.replicas.build_single_mlp": dict(input_dim=3, hidden_units=(4,), num_outputs=1, seed=0),
    "recipes.regularizers.parameter_tying.build_shared_encoder_model": dict(input_dim=3, units=4, num_outputs=1),
    "recipes.regularizers.multitask.build_hard_sharing_model": dict(input_shape=(4,), tasks={"a": 2, "b": 1},
                                                       trunk_units=(4,)),
    "recipes.regularizers.multitask.build_soft_sharing_model": dict(input_shape=(4,), tasks={"a": 2, "b": 1},
                                                       tower_units=(4,), tying_strength=0.01),
    "recipes.regularizers.penalties.make_penalty": dict(kind="elastic_net", strength=0.01, alpha=0.5),
    "recipes.regularizers.noise_robustness.smooth_labels": dict(y=np.array([0, 1, 2]), epsilon=0.1, num_classes=3),
    "recipes.optimization.curriculum.linear_pacing": dict(start=0.2, epochs_to_full=5),
    "recipes.optimization.curriculum.step_pacing": dict(start=0.1, increase=2.0, step_length=1),
    "recipes.optimization.sophia.SophiaHessianUpdate": lambda: dict(x=np.zeros((8, 3), "float32"), y=np.zeros(8, "int32"),
                                                       estimator="gnb", every=2, batch_size=4),
    "recipes.analysis.bias_variance.draw_training_sets": dict(n=20, protocol="split", trials=2, seed=0),
    "recipes.optimization.gradient_clipping.clipping_arguments": dict(clipnorm=1.0, scope="global"),
    "recipes.regularizers.noise_robustness.with_input_noise": lambda: dict(model=_small_model(), stddev=0.1),
    "recipes.regularizers.penalties.apply_penalty": lambda: dict(model=_small_model(), strength=0.01, kind="elastic_net"),
    "recipes.regularizers.penalties.decoupled_weight_decay_optimizer": dict(name="adamw", learning_rate=0.01, weight_decay=1e-4),
    "recipes.regularizers.penalties.weight_decay_variables": lambda: dict(model=_small_model()),
    "recipes.regularizers.penalties.restrict_weight_decay": lambda: dict(optimizer=_sgd(), model=_small_model()),
    "recipes.optimization.curriculum.CurriculumDataset": lambda: dict(x=np.zeros((8, 3), "float32"), y=np.zeros(8), batch_size=4),
    # dropout family, ensembles
    "recipes.dropout.direct_dropout.inverted_dropout": dict(rate=0.3),
    "recipes.dropout.gaussian_dropout.multiplicative_gaussian_dropout": dict(rate=0.3),
    "recipes.ensembles.bagging.Bagging": dict(build_fn=lambda *a, **k: _small_model(), num_members=2),
    "recipes.ensembles.bagging.bootstrap_counts": dict(num_examples=10, num_members=2),
    "recipes.ensembles.boosting.AdaBoostSAMME": dict(build_fn=lambda *a, **k: _small_model(), num_classes=3, num_rounds=2),
    "recipes.ensembles.stacking.Stacking": dict(build_fns=[lambda *a, **k: _small_model()] * 2, num_classes=3, num_folds=2),
    "recipes.ensembles.stacking.stratified_folds": dict(y=np.arange(12) % 3, num_folds=2),
    "recipes.dropout.mc_dropout.MCDropoutPredictor": lambda: dict(model=_small_model(dropout=0.2), num_samples=4),
    "recipes.dropout.mc_dropout.mc_dropout_model": lambda: dict(model=_small_model(dropout=0.2)),
    # normalization, early stopping, augmentation
    "recipes.normalization.batch_norm_statistics.PopulationBatchNormStatistics": lambda: dict(
        data=np.zeros((8, 3), "float32"), batch_size=4, estimator="unbiased"),
    "recipes.early_stopping.policies.EarlyStoppingPolicies": lambda: dict(
        build_model=_small_model, subtrain=(np.zeros((8, 3), "float32"), np.zeros(8)),
        valid=(np.zeros((4, 3), "float32"), np.zeros(4)), eval_every=2, patience=2, batch_size=4),
    "augment.albumentations_pipeline.build_compose": dict(preset="standard", padding=4),
    # one image-augmentation core (presets, both placements)
    "augment.presets.AugmentSpec": dict(flip="alternating", translate=2, translate_fill="reflect", cutout=0),
    "augment.presets.augment_spec": dict(preset="airbench", flip="random", translate=2, cutout=8),
    "augment.presets.ImageAugmenter": dict(spec="standard", num_classes=10),
    "augment.presets.epoch_order": dict(num_examples=10, batch_size=4, seed=0, epoch=1),
    "augment.presets.step_key": dict(seed=0, step=3),
    "recipes.optimization.param_groups.param_group": dict(pattern="beta", lr_scale=64.0, weight_decay=0.0,
                                                          train_steps=3),
    "augment.device_batches.TrainBatches": lambda: dict(x=_images(8), y=_labels(8), batch_size=4, seed=0,
                                                        start_epoch=1, num_classes=3),
}


def _small_model(dropout=0.0):
    import keras

    inp = keras.Input((3,))
    h = keras.layers.Dense(4, activation="relu")(inp)
    if dropout:
        h = keras.layers.Dropout(dropout)(h)
    return keras.Model(inp, keras.layers.Dense(3)(h))


def resolve(dotted):
    """The object named ``package.module.attr``; a stale path raises (a sweep entry that resolves to nothing would
    silently test nothing)."""
    module_name, _, attr = dotted.rpartition(".")
    module = importlib.import_module(module_name)
    if not hasattr(module, attr):
        raise AttributeError(f"sweep entry {dotted!r}: {module_name} has no attribute {attr!r}")
    return getattr(module, attr)


def function_kwargs(dotted):
    value = FUNCTIONS[dotted]
    return dict(value() if callable(value) else value)


def registered_classes():
    """{class name: class} of every ``recipes>`` custom object after importing every module."""
    import keras

    import recipes

    recipes.register_all()
    return {key.split(">", 1)[1]: obj for key, obj in sorted(keras.saving.get_custom_objects().items())
            if key.startswith("recipes>")}
