"""Regularization and optimization recipes for Keras 3: layers, regularizers, optimizers, models, data, analysis.

Models saved with custom objects of this toolkit load with ``recipes.load_model(path)``, which imports every
module that registers Keras serializables first (``keras.models.load_model`` works too once those modules are
imported).
"""
import importlib
import pkgutil

__version__ = "0.1.0"

_PACKAGES = ("recipes", "augment", "callbacks")


def register_all():
    """Import every module of ``recipes``, ``augment`` and ``callbacks`` so that their
    ``keras.saving.register_keras_serializable`` objects are known to Keras; returns the module names.
    Modules whose optional dependencies are missing (e.g. TensorFlow under another backend) are skipped."""
    loaded = []
    for package_name in _PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.iter_modules(package.__path__, prefix=package_name + "."):
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
