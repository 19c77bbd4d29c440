"""Regularization and optimization recipes for Keras 3, one subpackage per chapter of the lecture.

``data`` (where datasets live, CIFAR-10), ``models`` (the model registry), ``regularizers`` (parameter penalties
and their relatives), ``dropout``, ``ensembles``, ``normalization``, ``optimization``, ``early_stopping``,
``analysis`` (bias-variance) and ``training`` (the one training engine). Image, text and speech augmentation is
the package ``augment``; general Keras callbacks are the package ``callbacks``; neither imports ``recipes``.

Models saved with custom objects of this toolkit load with ``recipes.load_model(path)``, which imports every
module that registers Keras serializables first (``keras.models.load_model`` works too after
``recipes.register_all()``). Custom objects are registered under ``recipes>ClassName`` whatever module defines
them, so models saved by earlier versions, whose modules had other paths, load unchanged.

The module paths of version 0.1 (``recipes.resnet``, ``recipes.cifar10``, …, and
``callbacks.batch_norm_statistics`` once ``recipes`` is imported) still import, with a ``DeprecationWarning``
naming the new path; ``recipes.training`` is now the training subpackage and exports what
the 0.1 module did (``TrainConfig``, ``run_training``, ``validate_config``).
"""
import importlib
import importlib.abc
import importlib.util
import pkgutil
import sys
import warnings

__version__ = "0.2.0"

_PACKAGES = ("recipes", "augment", "callbacks")

#: Module paths of version 0.1 and where each module lives now.
MOVED_MODULES = {
    "recipes.airbench": "recipes.models.airbench",
    "recipes.resnet": "recipes.models.resnet",
    "recipes.mlp": "recipes.models.mlp",
    "recipes.cifar10": "recipes.data.cifar10",
    "recipes.penalties": "recipes.regularizers.penalties",
    "recipes.closed_forms": "recipes.regularizers.closed_forms",
    "recipes.proximal_sgd": "recipes.regularizers.proximal_sgd",
    "recipes.noise_robustness": "recipes.regularizers.noise_robustness",
    "recipes.parameter_tying": "recipes.regularizers.parameter_tying",
    "recipes.multitask": "recipes.regularizers.multitask",
    "recipes.direct_dropout": "recipes.dropout.direct_dropout",
    "recipes.dropconnect": "recipes.dropout.dropconnect",
    "recipes.gaussian_dropout": "recipes.dropout.gaussian_dropout",
    "recipes.fast_dropout": "recipes.dropout.fast_dropout",
    "recipes.structural_dropout": "recipes.dropout.structural_dropout",
    "recipes.mc_dropout": "recipes.dropout.mc_dropout",
    "recipes.dropout_math": "recipes.dropout.dropout_math",
    "recipes.dropout_utils": "recipes.dropout.rates",
    "recipes.bagging": "recipes.ensembles.bagging",
    "recipes.boosting": "recipes.ensembles.boosting",
    "recipes.stacking": "recipes.ensembles.stacking",
    "recipes.ensemble_utils": "recipes.ensembles.combining",
    "recipes.feature_scaling": "recipes.normalization.feature_scaling",
    "recipes.batch_norm_statistics": "recipes.normalization.batch_norm_statistics",
    "callbacks.batch_norm_statistics": "recipes.normalization.batch_norm_statistics",
    "recipes.normalization_reference": "recipes.normalization.normalization_reference",
    "recipes.weight_norm": "recipes.normalization.weight_norm",
    "recipes.weight_standardization": "recipes.normalization.weight_standardization",
    "recipes.schedules": "recipes.optimization.schedules",
    "recipes.warmup_schedule": "recipes.optimization.warmup_schedule",
    "recipes.sign_sgd": "recipes.optimization.sign_sgd",
    "recipes.sophia": "recipes.optimization.sophia",
    "recipes.second_order": "recipes.optimization.second_order",
    "recipes.model_autodiff": "recipes.optimization.model_autodiff",
    "recipes.gradient_noise": "recipes.optimization.gradient_noise",
    "recipes.gradient_clipping": "recipes.optimization.gradient_clipping",
    "recipes.curriculum": "recipes.optimization.curriculum",
    "recipes.weight_averaging": "recipes.optimization.weight_averaging",
    "recipes.early_stopping_policies": "recipes.early_stopping.policies",
    "recipes.early_stopping_l2": "recipes.early_stopping.l2_equivalence",
    "recipes.bias_variance": "recipes.analysis.bias_variance",
    "recipes.replicas": "recipes.analysis.replicas",
    "recipes.fast_training": "recipes.training.engine",
    "recipes.distribute": "recipes.training.distribute",
    "recipes.tta": "recipes.training.tta",
}


class _MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports a 0.1 module path as the module that now holds its code (the same module object)."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname in MOVED_MODULES:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        new = MOVED_MODULES[spec.name]
        warnings.warn(f"{spec.name} moved to {new} in keras-recipes 0.2; import it from there",
                      DeprecationWarning, stacklevel=3)
        return importlib.import_module(new)

    def exec_module(self, module):
        pass


# First on the path: an old path resolves to the new module even where a stale copy of the old file is still
# importable (e.g. an editable install of an older checkout).
if not any(isinstance(f, _MovedModuleFinder) for f in sys.meta_path):
    sys.meta_path.insert(0, _MovedModuleFinder())


def register_all():
    """Import every module of ``recipes`` (all its subpackages), ``augment`` and ``callbacks`` so that their
    ``keras.saving.register_keras_serializable`` objects are known to Keras; returns the module names.
    Modules whose optional dependencies are missing (e.g. TensorFlow under another backend) are skipped."""
    loaded = []
    for package_name in _PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.walk_packages(package.__path__, prefix=package_name + "."):
            try:
                importlib.import_module(info.name)
                loaded.append(info.name)
            except ImportError:
                continue
    return loaded


def load_model(path, **kwargs):
    """``keras.models.load_model`` after ``register_all()``."""
    import keras

    register_all()
    return keras.models.load_model(path, **kwargs)
