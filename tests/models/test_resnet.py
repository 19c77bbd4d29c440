import keras
import numpy as np
import pytest

from recipes.models.mlp import build_mlp
from recipes.models.resnet import MODEL_NAMES, build_resnet, make_norm


@pytest.mark.parametrize("name,width,expected", [
    ("resnet20", None, 0.27e6), ("resnet32", None, 0.46e6), ("resnet56", None, 0.85e6),
    ("resnet110", None, 1.7e6), ("resnet18", None, 11.2e6), ("resnet34", None, 21.3e6),
    ("preact_resnet18", None, 11.2e6),
])
def test_parameter_counts_match_the_papers(name, width, expected):
    # He et al. 2016 Table 6 (0.27M/0.46M/0.85M/1.7M, rounded, option-A shortcuts) and the CIFAR ResNet-18/34
    # (11.2M/21.3M): within 3 % (our 1×1 projection shortcuts add about 1 %)
    model = build_resnet(name, width=width)
    assert abs(model.count_params() - expected) / expected < 0.03
    assert model.output_shape == (None, 10)


def test_width_scales_resnet18_quadratically():
    # conv parameters scale as k² (stage widths k, 2k, 4k, 8k): k=8 has ~1/64 of k=64's parameters
    p8 = build_resnet("resnet18", width=8).count_params()
    p64 = build_resnet("resnet18", width=64).count_params()
    assert 55 < p64 / p8 < 66
    stage_widths = sorted({l.filters for l in build_resnet("resnet18", width=3).layers if hasattr(l, "filters")})
    assert stage_widths == [3, 6, 12, 24]


def test_standardization_layer_computes_z_score():
    mean, std = np.array([120.0, 110.0, 100.0]), np.array([60.0, 50.0, 40.0])
    model = build_resnet("resnet20", width=2, mean=mean, std=std)
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    z = model.get_layer("standardize")(x)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(z), (x - mean) / std, rtol=1e-5, atol=1e-5)


def test_kernel_penalty_only_on_kernels():
    lam = 1e-3
    model = build_resnet("resnet20", width=2, kernel_regularizer=keras.regularizers.L2(lam))
    kernels = [w for w in model.trainable_weights if w.path.endswith("kernel")]
    assert len(model.losses) == len(kernels)  # one penalty per conv/dense kernel, none for biases, γ, β
    expected = lam * sum(float(np.sum(keras.ops.convert_to_numpy(w) ** 2)) for w in kernels)
    assert float(sum(keras.ops.convert_to_numpy(l) for l in model.losses)) == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("norm,cls,groups", [
    ("batch", keras.layers.BatchNormalization, None), ("group", keras.layers.GroupNormalization, 24),
    ("layer", keras.layers.GroupNormalization, 1), ("instance", keras.layers.GroupNormalization, -1),
    ("none", keras.layers.Identity, None),
])
def test_norm_choices(norm, cls, groups):
    layer = make_norm(norm, 48, "n")  # GN: the largest divisor of 48 not above 32 is 24
    assert isinstance(layer, cls)
    if groups is not None:
        assert layer.groups == groups
    model = build_resnet("resnet20", width=4, norm=norm)
    assert model(np.zeros((1, 32, 32, 3), "float32")).shape == (1, 10)


def test_custom_conv_factory_is_used():
    made = []

    def conv(filters, kernel_size, strides, name, kernel_regularizer=None, use_bias=False):
        made.append(name)
        return keras.layers.Conv2D(filters, kernel_size, strides=strides, padding="same", name=name)

    build_resnet("resnet20", width=2, conv=conv)
    assert "stem_conv" in made and len(made) == 1 + 9 * 2 + 2  # stem, 9 blocks × 2, 2 projection shortcuts


def test_preactivation_block_order():
    model = build_resnet("preact_resnet18", width=2)
    names = [l.name for l in model.layers]
    assert names.index("stage1_block1_pre_norm") < names.index("stage1_block1_conv1")
    assert "final_norm" in names


@pytest.mark.parametrize("kwargs,match", [
    ({"name": "resnet21"}, "name must be one of resnet20, .*, got 'resnet21'"),
    ({"width": 0}, r"width must be an integer in \[1, inf\), got 0"),
    ({"dropout_rate": 1.0}, r"dropout_rate must be a finite number in \[0, 1\), got 1.0"),
    ({"norm": "batchnorm"}, "norm must be one of batch, group, layer, instance, none, got 'batchnorm'"),
    ({"num_classes": 0}, r"num_classes must be an integer in \[1, inf\), got 0"),
    ({"mean": [1, 2, 3]}, "mean and std must be given together .*, got mean=\\[1, 2, 3\\], std=None"),
    ({"seed": -1}, r"seed must be an integer in \[0, 2147483647\], got -1"),
])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_resnet(**kwargs)


def test_save_load_identical_predictions(tmp_path):
    model = build_resnet("resnet20", width=2, dropout_rate=0.2, mean=[1, 2, 3], std=[4, 5, 6],
                         kernel_regularizer=keras.regularizers.L2(1e-4))
    x = np.random.default_rng(1).uniform(0, 255, (3, 32, 32, 3)).astype("float32")
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))


def test_mlp_builder():
    model = build_mlp((2,), hidden_units=(5, 7), num_outputs=3, dropout_rate=0.5, norm="batch")
    assert model.output_shape == (None, 3)
    assert model.count_params() == (2 * 5 + 5) + 4 * 5 + (5 * 7 + 7) + 4 * 7 + (7 * 3 + 3)
    linear = build_mlp(4, hidden_units=(), num_outputs=1)
    w, b = linear.get_weights()
    x = np.random.default_rng(0).normal(size=(6, 4)).astype("float32")
    np.testing.assert_allclose(linear.predict(x, verbose=0), x @ w + b, rtol=1e-5)
    with pytest.raises(ValueError, match=r"hidden_units\[0\] must be an integer in \[1, inf\), got 0"):
        build_mlp(2, hidden_units=(0,))
    with pytest.raises(ValueError, match=r"dropout_rate must be a finite number in \[0, 1\), got -0.1"):
        build_mlp(2, dropout_rate=-0.1)
    with pytest.raises(ValueError, match="norm must be one of none, batch, layer, got 'group'"):
        build_mlp(2, norm="group")
    with pytest.raises(TypeError, match=r"num_outputs must be an integer in \[1, inf\), got 1.0"):
        build_mlp(2, num_outputs=1.0)
