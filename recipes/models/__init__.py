"""Models: the one registry every command builds its networks through.

``build_model(name, **kwargs)`` builds any model a command offers; ``list_models()`` names them:

- ``resnet20``, ``resnet32``, ``resnet56``, ``resnet110`` — CIFAR ResNets of He et al. 2016 (3 stages of
  n = (depth − 2)/6 basic blocks, widths w, 2w, 4w; :func:`recipes.models.resnet.build_resnet`);
- ``resnet18``, ``resnet34``, ``preact_resnet18``, ``preact_resnet34`` — 4-stage ResNets of widths k, 2k, 4k, 8k
  (post- or pre-activation blocks; the width sweeps of Nakkiran et al. and Yang et al.);
- ``airbench`` — the airbench94 network of Jordan 2024: a frozen 2×2 patch-whitening convolution, three conv
  groups with BatchNorm and GELU, a scaled linear head (:func:`recipes.models.airbench.build_airbench`);
- ``mlp`` — a multilayer perceptron h = σ(W h_prev + b) (:func:`recipes.models.mlp.build_mlp`);
- ``small_cnn`` — a plain CNN, [3×3 conv → BN? → ReLU → max-pool?] × k → flatten/average/max → dense layers →
  logits, for experiments that train in minutes on a CPU (:func:`recipes.models.small_cnn.build_small_cnn`);
- ``dropout_mlp`` — the MLP x → h → h → logits with no regularizer, dropout, DropConnect or structural dropout
  (:func:`recipes.models.dropout_mlp.build_dropout_mlp`);
- ``text_cnn`` — a sentence classifier from raw strings, TextVectorization → embedding → 1-D conv or masked mean
  → P(y = 1 | x) (:func:`recipes.models.text_cnn.build_text_cnn`).

Each name maps to its builder and the keyword arguments it passes on; a keyword the builder does not take raises
a ``TypeError`` naming it.
"""
from __future__ import annotations

import functools
import inspect

from augment.checks import check_choice
from recipes.models.airbench import build_airbench
from recipes.models.dropout_mlp import build_dropout_mlp
from recipes.models.mlp import build_mlp
from recipes.models.resnet import MODEL_NAMES as RESNET_NAMES
from recipes.models.resnet import build_resnet
from recipes.models.small_cnn import build_small_cnn
from recipes.models.text_cnn import build_text_cnn

__all__ = ["build_model", "list_models", "model_builder"]

_REGISTRY = {name: functools.partial(build_resnet, name) for name in RESNET_NAMES}
_REGISTRY["airbench"] = build_airbench
_REGISTRY["mlp"] = build_mlp
_REGISTRY["small_cnn"] = build_small_cnn
_REGISTRY["dropout_mlp"] = build_dropout_mlp
_REGISTRY["text_cnn"] = build_text_cnn


def list_models():
    """The names ``build_model`` accepts, in a fixed order (CIFAR ResNets, ResNet-18/34 variants, airbench, mlp,
    then the experiments' small models)."""
    return tuple(_REGISTRY)


def model_builder(name):
    """The builder behind ``name`` (a function taking the model's keyword arguments)."""
    return _REGISTRY[check_choice("name", name, tuple(_REGISTRY))]


def build_model(name, **kwargs):
    """Build the model registered as ``name`` with ``kwargs`` (see ``list_models``); returns a ``keras.Model``."""
    builder = model_builder(name)
    target = builder.func if isinstance(builder, functools.partial) else builder
    accepted = inspect.signature(target).parameters
    unknown = sorted(k for k in kwargs if k not in accepted)
    if unknown:
        raise TypeError(f"model {name!r} takes no argument(s) {', '.join(unknown)}; it takes "
                        f"{', '.join(p for p in accepted if p != 'name')}")
    return builder(**kwargs)
