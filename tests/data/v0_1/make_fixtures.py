"""Writes the 0.1 fixtures: models saved by keras-recipes 0.1.0 (commit fb670c1, before the chapter layout).

Run once at that commit from the repository root: ``python tests/data/v0_1/make_fixtures.py``. Each model is
saved as ``<name>.keras`` (with its compiled optimizer and state where it has one) beside ``<name>.npz`` holding
the inputs ``x`` and the predictions ``y`` that 0.1.0 computed for them; ``tests/test_legacy_models.py`` loads
every model with today's code and checks that the predictions are identical. Kept for the record: it imports
the 0.1 module paths.
"""
import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

HERE = pathlib.Path(__file__).resolve().parent


def save(name, model, x, train=None):
    if train is not None:
        model.fit(*train, epochs=1, batch_size=4, verbose=0)
    y = model.predict(x, verbose=0)
    model.save(HERE / f"{name}.keras")
    np.savez(HERE / f"{name}.npz", x=x, y=y)
    print(name, [type(l).__name__ for l in model.layers][:40])


def images(n, size=32, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3)).astype("float32")


def main():
    from augment import image_ops, mixing, randaugment
    from augment.spec_augment import SpecAugment
    from recipes.dropout.dropconnect import DropConnectConv2D, DropConnectDense
    from recipes.dropout.direct_dropout import DirectDropout
    from recipes.dropout.fast_dropout import FastDropoutDense
    from recipes.normalization.feature_scaling import MinMaxScaling, ZScoreNormalization
    from recipes.optimization.gradient_noise import GradientNoise
    from recipes.regularizers.noise_robustness import SparseCategoricalCrossentropyWithSmoothing, WeightNoiseDense
    from recipes.regularizers.penalties import ElasticNet
    from recipes.regularizers.proximal_sgd import ProximalSGD
    from recipes.analysis.replicas import build_replica_mlp
    from recipes.models.resnet import build_resnet
    from recipes.optimization.schedules import LinearDecay
    from recipes.optimization.sign_sgd import Signum
    from recipes.optimization.sophia import Sophia
    from recipes.dropout.structural_dropout import StructuralDropout
    from recipes.optimization.warmup_schedule import WarmupLinearDecay
    from recipes.normalization.weight_norm import WeightNormalization, weight_norm_conv_factory
    from recipes.normalization.weight_standardization import WSConv2D, ws_conv_factory
    from recipes.models.airbench import build_airbench, patch_whitening_kernel

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)

    # 1. ResNet-20 (width 4) with weight-normalized convolutions, elastic-net penalty, dropout; Signum + LinearDecay
    model = build_resnet("resnet20", width=4, conv=weight_norm_conv_factory(), kernel_regularizer=ElasticNet(1e-3, 0.3),
                         dropout_rate=0.2, mean=[125.3, 123.0, 113.9], std=[63.0, 62.1, 66.7], seed=1)
    model.compile(Signum(LinearDecay(0.01, 0.001, 10), momentum=0.9),
                  SparseCategoricalCrossentropyWithSmoothing(0.1, from_logits=True), metrics=["accuracy"])
    x = images(6)
    save("resnet20_weightnorm_signum", model, x, train=(images(8, seed=1), np.arange(8) % 10))

    # 2. ResNet-20 with weight standardization + group norm; Sophia + WarmupLinearDecay
    model = build_resnet("resnet20", width=4, conv=ws_conv_factory(), norm="group", seed=2)
    model.compile(Sophia(WarmupLinearDecay(0.01, 0.0, 20, warmup_steps=2), gamma=0.05),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    save("resnet20_ws_gn_sophia", model, images(6, seed=2) / 255.0, train=(images(8, seed=3) / 255.0, np.arange(8) % 10))

    # 3. A functional model with most custom layers; ProximalSGD
    inp = keras.Input((8, 8, 3))
    h = image_ops.Sequential([image_ops.RandomFlip(seed=1), image_ops.PadCrop(padding=1, seed=2),
                              image_ops.RandomColor(brightness=0.1, seed=3), image_ops.Cutout(size=2, seed=4),
                              image_ops.AdditiveNoise(seed=5), image_ops.MultiplicativeNoise(seed=6),
                              image_ops.RandomAffine(rotation=5.0, seed=7),
                              image_ops.RandomResizedCrop(scale=(0.5, 1.0), seed=8)])(inp)
    h = randaugment.RandAugment(num_ops=1, magnitude=3, seed=9)(h)
    h = keras.layers.Rescaling(1 / 255.0)(h)
    h = DropConnectConv2D(4, 3, rate=0.2, seed=10)(h)
    h = WSConv2D(4, 3, padding="same")(h)
    h = WeightNormalization(keras.layers.Conv2D(4, 3))(h)
    h = keras.layers.Flatten()(h)
    h = MinMaxScaling(minimum=[0.0] * h.shape[-1], maximum=[2.0] * h.shape[-1])(h)
    h = DirectDropout(0.3, seed=11)(h)
    h = DropConnectDense(16, rate=0.3, seed=12)(h)
    h = FastDropoutDense(16, rate=0.3, seed=13)(h)
    h = StructuralDropout(min_units=4, seed=14)(h)
    h = WeightNoiseDense(8, stddev=0.1, seed=15)(h)
    h = ZScoreNormalization(mean=[0.5] * 8, variance=[2.0] * 8)(h)
    out = keras.layers.Dense(3)(h)
    model = keras.Model(inp, out)
    model.compile(ProximalSGD(0.05, l1=1e-3, momentum=0.5), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    save("custom_layers_proximal_sgd", model, images(5, size=8, seed=4),
         train=(images(8, size=8, seed=5), np.arange(8) % 3))

    # 4. The airbench net with frozen patch whitening; GradientNoise around SGD
    xs = images(64, seed=6)
    mean, std = xs.reshape(-1, 3).mean(0), xs.reshape(-1, 3).std(0)
    kernel = patch_whitening_kernel((xs.astype("float64") - mean) / std, 2, 5e-4)
    model = build_airbench((8, 16, 16), mean=mean, std=std, whitening_kernel=kernel)
    model.compile(GradientNoise(keras.optimizers.SGD(0.05, momentum=0.9), eta=0.01, gamma=0.55, seed=3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    save("airbench_gradient_noise", model, images(6, seed=7), train=(images(8, seed=8), np.arange(8) % 10))

    # 5. Replicas (K = 3 MLPs in one model)
    model = build_replica_mlp(input_dim=4, hidden_units=(8,), num_outputs=2, seeds=[0, 1, 2])
    save("replica_mlp", model, rng.standard_normal((7, 3, 4)).astype("float32"))

    # 6. Mixing and SpecAugment layers (identity at inference; configs must survive)
    inp = keras.Input((16, 8))
    h = SpecAugment(freq_mask_param=2, num_freq_masks=1, time_mask_param=2, num_time_masks=1, seed=1)(inp)
    model = keras.Model(inp, keras.layers.Dense(2)(keras.layers.Flatten()(h)))
    save("spec_augment", model, rng.standard_normal((3, 16, 8)).astype("float32"))
    layer_configs = {cls.__name__: keras.saving.serialize_keras_object(cls(num_classes=3, seed=1))
                     for cls in (mixing.MixUp, mixing.CutMix, mixing.Mosaic)}
    import json
    (HERE / "mixing_layers.json").write_text(json.dumps(layer_configs, indent=1, default=str))

    # 7. What the two training commands saved (tiny runs on real CIFAR-10 from $RECIPES_DATA)
    import shutil
    import subprocess
    import sys
    import tempfile

    data = pathlib.Path(os.environ["RECIPES_DATA"]) / "cifar10"
    x = images(6, seed=9)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "scripts/train_cifar10.py", "--data-dir", str(data), "--model", "resnet20",
                        "--width", "4", "--epochs", "1", "--train-limit", "256", "--batch-size", "64",
                        "--dropout", "0.2", "--label-smoothing", "0.1", "--output-dir", f"{tmp}/std",
                        "--no-tensorboard", "--verbose", "0"], check=True)
        subprocess.run([sys.executable, "scripts/train_cifar10_fast.py", "--data-dir", str(data), "--widths", "8,16,16",
                        "--epochs", "1", "--train-limit", "512", "--batch-size", "128", "--test-limit", "200",
                        "--output-dir", f"{tmp}/fast", "--save-model"], check=True)
        for name, folder in (("train_cifar10_command", "std"), ("train_cifar10_fast_command", "fast")):
            shutil.copy(f"{tmp}/{folder}/model.keras", HERE / f"{name}.keras")
            model = keras.models.load_model(HERE / f"{name}.keras")
            np.savez(HERE / f"{name}.npz", x=x, y=model.predict(x, verbose=0))
            print(name)


if __name__ == "__main__":
    main()
