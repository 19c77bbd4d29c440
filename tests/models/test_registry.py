"""The model registry: every name builds, unknown names and arguments are named."""
import numpy as np
import pytest

from recipes.models import build_model, list_models, model_builder


def test_every_command_model_is_registered():
    assert list_models() == ("resnet20", "resnet32", "resnet56", "resnet110", "resnet18", "resnet34",
                             "preact_resnet18", "preact_resnet34", "airbench", "mlp", "small_cnn", "dropout_mlp",
                             "text_cnn")


def test_builds_through_the_registry_with_the_builders_arguments():
    assert build_model("resnet20", width=4).count_params() == build_model("resnet20", width=4).count_params()
    resnet20 = build_model("resnet20")
    trainable = sum(int(np.prod(v.shape)) for v in resnet20.trainable_variables)
    assert 0.27e6 < trainable < 0.275e6  # He et al. 2016: 0.27 M
    net = build_model("airbench", widths=(8, 16, 16))
    assert net.output_shape == (None, 10)
    mlp = build_model("mlp", input_shape=(5,), hidden_units=(7,), num_outputs=3)
    assert mlp.count_params() == 5 * 7 + 7 + 7 * 3 + 3


def test_bad_names_and_arguments_are_named():
    with pytest.raises(ValueError, match="name must be one of resnet20, .*text_cnn, got 'vgg16'"):
        build_model("vgg16")
    with pytest.raises(TypeError, match="model 'airbench' takes no argument\\(s\\) width"):
        build_model("airbench", width=3)
    with pytest.raises(ValueError, match="name must be one of"):
        model_builder("resnet19")
