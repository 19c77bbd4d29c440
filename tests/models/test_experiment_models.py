"""The experiments' small models in the registry: small_cnn, dropout_mlp, text_cnn.

Parameter counts against their closed forms, inference against a NumPy forward pass, the masked mean of the text
model, seeded rebuilds, .keras save/load."""
import numpy as np
import pytest

from recipes.models import build_model


def _conv_params(k, c_in, c_out, bias=True):
    return k * k * c_in * c_out + (c_out if bias else 0)


def _trainable(model):
    return sum(int(np.prod(v.shape)) for v in model.trainable_variables)


def test_small_cnn_instances_have_the_documented_sizes():
    # early stopping's CNN: 3x3 convs of 16, 32 (each + 2x2 pool: 32 -> 8), flatten 8*8*32, dense 64, logits 10
    es = build_model("small_cnn", mean=[120.0, 121.0, 110.0], std=[60.0, 59.0, 65.0])
    expected = _conv_params(3, 3, 16) + _conv_params(3, 16, 32) + (8 * 8 * 32 * 64 + 64) + (64 * 10 + 10)
    assert _trainable(es) == expected == 136_874  # "137k parameters"
    # batch norm's CNN: no biases where BN follows; BN's γ, β trainable; global average pooling
    bn = build_model("small_cnn", input_shape=(16, 16, 3), norm="batch", head="average")
    expected = (_conv_params(3, 3, 16, False) + 2 * 16 + _conv_params(3, 16, 32, False) + 2 * 32
                + 32 * 64 + 2 * 64 + 64 * 10 + 10)
    assert _trainable(bn) == expected
    assert {"bn_conv0", "bn_conv1", "bn_dense0"} <= {layer.name for layer in bn.layers}
    # the FSDD log-mel CNN: 32, 64 (pooled), 128 (not pooled), global max, dropout 0.3: "0.1 M weights"
    speech = build_model("small_cnn", input_shape=(97, 40, 1), filters=(32, 64, 128), pooled=(True, True, False),
                         head="max", dense_units=(), dropout_rate=0.3)
    expected = _conv_params(3, 1, 32) + _conv_params(3, 32, 64) + _conv_params(3, 64, 128) + 128 * 10 + 10
    assert _trainable(speech) == expected == 93_962
    assert speech.get_layer("conv2").output.shape[1:3] == (24, 10)  # 97 -> 48 -> 24, 40 -> 20 -> 10


def test_small_cnn_standardizes_with_the_given_statistics_and_max_pools_globally():
    import keras

    mean, std = np.array([100.0, 50.0, 10.0]), np.array([20.0, 5.0, 2.0])
    net = build_model("small_cnn", input_shape=(6, 6, 3), filters=(4,), pooled=(False,), head="max",
                      dense_units=(), mean=mean, std=std)
    x = np.random.default_rng(0).uniform(0, 255, (2, 6, 6, 3)).astype("float32")
    standardized = keras.Model(net.input, net.get_layer("standardize").output)(x)
    np.testing.assert_allclose(np.asarray(standardized), (x - mean) / std, rtol=1e-5, atol=1e-5)
    relu = keras.Model(net.input, net.get_layer("relu_conv0").output)(x)
    pooled = keras.Model(net.input, net.get_layer("global_max").output)(x)
    np.testing.assert_allclose(np.asarray(pooled), np.asarray(relu).max(axis=(1, 2)), rtol=1e-6)


def test_small_cnn_is_reproducible_and_survives_save_load(tmp_path):
    import keras

    keras.utils.set_random_seed(3)
    a = build_model("small_cnn", input_shape=(8, 8, 3), norm="batch", head="average", dropout_rate=0.2, seed=1)
    keras.utils.set_random_seed(3)
    b = build_model("small_cnn", input_shape=(8, 8, 3), norm="batch", head="average", dropout_rate=0.2, seed=1)
    for va, vb in zip(a.weights, b.weights):
        np.testing.assert_array_equal(np.asarray(va), np.asarray(vb))
    x = np.random.default_rng(1).normal(size=(3, 8, 8, 3)).astype("float32")
    a.save(tmp_path / "cnn.keras")
    again = keras.models.load_model(tmp_path / "cnn.keras")
    np.testing.assert_allclose(again.predict(x, verbose=0), a.predict(x, verbose=0), rtol=1e-6, atol=1e-6)


def test_small_cnn_rejects_bad_shapes():
    with pytest.raises(ValueError, match="pooled must have one entry per convolution"):
        build_model("small_cnn", filters=(4, 8), pooled=(True,))
    with pytest.raises(ValueError, match="mean and std must be given together"):
        build_model("small_cnn", mean=[0.0, 0.0, 0.0])
    with pytest.raises(TypeError, match=r"filters must be a sequence of integers in \[1, inf\), got 16"):
        build_model("small_cnn", filters=16)
    with pytest.raises(ValueError, match="filters must be a sequence of integers .* with at least 1 entry, got \\(\\)"):
        build_model("small_cnn", filters=())
    with pytest.raises(ValueError, match=r"dense_units\[1\] must be an integer in \[1, inf\), got 0"):
        build_model("small_cnn", dense_units=(8, 0))
    with pytest.raises(ValueError, match="head must be"):
        build_model("small_cnn", head="attention")


@pytest.mark.parametrize("kind", ["none", "dropout", "dropconnect", "structural"])
def test_dropout_mlp_at_inference_is_the_plain_mlp(kind, tmp_path):
    """Every regularizer of the family is the identity at inference (inverted scaling; DropConnect's u = Wᵀx + b;
    structural width d): the model equals relu(relu(x W1 + b1) W2 + b2) W3 + b3 with its own weights."""
    import keras

    net = build_model("dropout_mlp", kind=kind, hidden=5, input_dim=7, num_classes=3, seed=0)
    assert net.name == kind and _trainable(net) == 7 * 5 + 5 + 5 * 5 + 5 + 5 * 3 + 3
    w1, b1 = (np.asarray(v) for v in net.get_layer("hidden1").weights)
    w2, b2 = (np.asarray(v) for v in net.get_layer("hidden2").weights[:2])
    w3, b3 = (np.asarray(v) for v in net.get_layer("logits").weights[:2])
    x = np.random.default_rng(0).normal(size=(4, 7)).astype("float32")
    reference = np.maximum(np.maximum(x @ w1 + b1, 0) @ w2 + b2, 0) @ w3 + b3
    np.testing.assert_allclose(np.asarray(net(x, training=False)), reference, rtol=1e-5, atol=1e-5)
    if kind != "none":  # training: random
        assert not np.allclose(np.asarray(net(x, training=True)), np.asarray(net(x, training=True)))
    net.save(tmp_path / "mlp.keras")
    again = keras.models.load_model(tmp_path / "mlp.keras")
    np.testing.assert_allclose(again.predict(x, verbose=0), reference, rtol=1e-5, atol=1e-5)


def test_dropout_mlp_kinds_are_checked():
    with pytest.raises(ValueError, match="kind must be one of"):
        build_model("dropout_mlp", kind="gaussian")


def test_text_cnn_mean_is_masked_and_outputs_probabilities():
    """The ``mean`` head averages the embeddings of the real tokens only: "good good" and "good" give the same
    mean embedding, so the same prediction (an unmasked mean over the padded sequence would differ)."""
    import keras

    keras.utils.set_random_seed(0)
    texts = ["a good film", "a bad film", "good acting", "bad plot"]
    net = build_model("text_cnn", texts=texts, arch="mean", max_tokens=50, seq_len=6, dim=4)
    vocabulary = net.layers[1].get_vocabulary()
    assert {"good", "bad", "film"} <= set(vocabulary) and vocabulary[0] == ""
    x = keras.ops.convert_to_tensor([["good good"], ["good"], ["bad plot"]])
    p = np.asarray(net(x, training=False))
    assert p.shape == (3, 1) and np.all((p > 0) & (p < 1))
    np.testing.assert_allclose(p[0], p[1], rtol=1e-6)
    assert abs(p[0, 0] - p[2, 0]) > 1e-6  # other words, another prediction
    cnn = build_model("text_cnn", texts=texts, arch="cnn", max_tokens=50, seq_len=6, dim=4)
    assert cnn.output_shape == (None, 1) and "conv1d" in {type(l).__name__.lower() for l in cnn.layers}
    with pytest.raises(ValueError, match="texts must be a non-empty list"):
        build_model("text_cnn", texts=[])
