"""Parameter norm penalties (L2, L1, elastic net) and decoupled weight decay.

Lecture, "Regularization by parameter penalties":

    J~(θ; X, y) = J(θ; X, y) + α Ω(θ),            Ω typically NOT applied to biases,

    J_L2      = J + Σ_layers λ_layer Σ_{weights \\ bias} ‖w‖₂²
    J_L1      = J + λ Σ_{weights \\ bias} ‖w‖₁
    J_Elastic = J + λ ( α Σ ‖w‖₂² + (1 − α) Σ ‖w‖₁ )          (Zou and Hastie)

Conventions used in this module (they are Keras' conventions):

* ``λ`` (``strength``) multiplies the *unhalved* squared norm: the L2 term is ``λ Σ w²``, its gradient
  ``2 λ w``. The lecture's analysis writes the L2 term as ``(α/2) ‖w‖²`` (gradient ``α w``); the two
  are the same when ``α = 2 λ``. :mod:`recipes.regularizers.closed_forms` uses the lecture's ``α/2`` form.
* In the elastic net ``α ∈ [0, 1]`` is the *mixing* weight of the L2 part (``α = 1``: pure L2,
  ``α = 0``: pure L1), exactly as on the lecture's elastic-net slide.

Two ways to shrink weights, side by side:

1. **Coupled penalty** (this module's regularizers, :func:`apply_penalty`): ``λ Ω(w)`` is added to
   the loss, so its gradient ``2 λ w`` (L2) goes through the optimizer together with ``∇J`` —
   Adam/RMSProp rescale it per coordinate like any other gradient.
2. **Decoupled weight decay** (:func:`decoupled_weight_decay_optimizer`): the optimizer shrinks
   ``w ← w − ε·d·w`` directly, outside the gradient (Keras' ``weight_decay`` argument; Loshchilov and
   Hutter's AdamW). For plain SGD without momentum the two are the same update when ``d = 2 λ``:
   ``w ← w − ε(∇J + 2 λ w) = (1 − 2 λ ε) w − ε ∇J`` (the lecture's ``(1 − αε) w − ε ∇J``); with
   momentum or adaptive optimizers they differ.

**Which weights — by role, not by name.** The lecture's ``Σ_{weights \\ bias}``: only the variables a layer
uses as its weight matrix or filters are penalized, decayed or thresholded — ``kernel``, ``depthwise_kernel``,
``pointwise_kernel``, ``recurrent_kernel`` (Dense, EinsumDense, every Conv/ConvTranspose/Depthwise/Separable
convolution, the RNN cells, attention projections; this toolkit's WSConv2D, DropConnect*, FastDropoutDense,
ReplicaDense, WeightNoiseDense; WeightNormalization's direction ``v``, the wrapped layer's kernel). Everything
else is left alone: biases, normalization ``γ``/``β`` (Batch/Layer/Group normalization, ZScoreNormalization),
WeightNormalization's gain ``g``, PReLU's ``α``, RMSNormalization's scale, and embeddings (unless
``include_embeddings=True``). A layer may declare more through a ``decay_variables`` attribute (a sequence of
its variables), which is added to its kernels. :func:`weight_decay_variables` is the one function that applies
this rule to a model; :func:`restrict_weight_decay` hands its complement to an optimizer (``decoupled`` decay
or :class:`~recipes.regularizers.proximal_sgd.ProximalSGD`) before its first step. Before the model exists,
:data:`NON_KERNEL_NAME_PATTERN` is the same rule expressed on variable *names* (Keras names those variables
``kernel``, …), which gives the same set for every layer of Keras and of this toolkit; the old exclusion of
names containing ``bias``/``gamma``/``beta`` missed ``g`` and PReLU's ``alpha``.
"""
from __future__ import annotations

import numbers
import re

import keras

from augment.checks import check_choice, check_learning_rate, check_number

__all__ = [
    "ElasticNet",
    "make_penalty",
    "apply_penalty",
    "penalized_variables",
    "decoupled_weight_decay_optimizer",
    "weight_decay_variables",
    "restrict_weight_decay",
    "KERNEL_ATTRIBUTES",
    "NON_KERNEL_NAME_PATTERN",
    "DEFAULT_WEIGHT_DECAY_EXCLUDES",
]

# weight attribute -> regularizer attribute, per kind of weight
KERNEL_ATTRIBUTES = {
    "kernel": "kernel_regularizer",  # Dense, Conv*, EinsumDense, RNN cells
    "depthwise_kernel": "depthwise_regularizer",  # DepthwiseConv, SeparableConv
    "pointwise_kernel": "pointwise_regularizer",  # SeparableConv
    "recurrent_kernel": "recurrent_regularizer",  # SimpleRNN/GRU/LSTM cells
}
_BIAS_ATTRIBUTES = {"bias": "bias_regularizer"}
_NORM_ATTRIBUTES = {"gamma": "gamma_regularizer", "beta": "beta_regularizer"}
_EMBEDDING_ATTRIBUTES = {"embeddings": "embeddings_regularizer"}
_KINDS = {
    "kernel": KERNEL_ATTRIBUTES,
    "bias": _BIAS_ATTRIBUTES,
    "norm": _NORM_ATTRIBUTES,
    "embedding": _EMBEDDING_ATTRIBUTES,
}

#: The name-based exclusion of keras-recipes 0.1 (``exclude_names`` of the training engine): names containing
#: ``bias``, ``gamma`` or ``beta``. It misses WeightNormalization's ``g`` and PReLU's ``alpha``; the default is
#: now the rule by role (:func:`weight_decay_variables`, or :data:`NON_KERNEL_NAME_PATTERN` without a model).
DEFAULT_WEIGHT_DECAY_EXCLUDES = ("bias", "gamma", "beta")


def non_kernel_name_pattern(include_embeddings=False):
    """A regular expression that matches (``re.search``) every variable *name* except the kernel names
    ``kernel``, ``depthwise_kernel``, ``pointwise_kernel``, ``recurrent_kernel`` (and ``embeddings`` with
    ``include_embeddings``), also as TensorFlow names them (``dense/kernel:0``: the last path component, ``:N``
    suffix allowed): for ``optimizer.exclude_from_weight_decay(var_names=[...])``, it leaves exactly the kernels to
    be decayed."""
    names = tuple(KERNEL_ATTRIBUTES) + (("embeddings",) if include_embeddings else ())
    # Keras' TensorFlow optimizer matches the tf.Variable's name, "dense/kernel:0"; elsewhere it is "kernel"
    return r"^(?!(?:.*/)?(?:" + "|".join(names) + r")(?::\d+)?$)"


#: :func:`non_kernel_name_pattern`: the rule by role on variable names, for an optimizer built before its model.
NON_KERNEL_NAME_PATTERN = non_kernel_name_pattern()


#: The penalties Ω of :func:`make_penalty` and :func:`apply_penalty` (``kind``, case-insensitive).
PENALTY_KINDS = ("l2", "l1", "elastic_net")


def _penalty_kind(kind):
    """``kind`` in PENALTY_KINDS, lower-cased."""
    return check_choice("kind", kind.lower() if isinstance(kind, str) else kind, PENALTY_KINDS)


@keras.saving.register_keras_serializable(package="recipes")
class ElasticNet(keras.regularizers.L1L2):
    """Elastic-net penalty ``Ω(w) = λ (α ‖w‖₂² + (1 − α) ‖w‖₁)`` (lecture's elastic-net slide).

    This is :class:`keras.regularizers.L1L2` with ``l2 = λ α`` and ``l1 = λ (1 − α)``; only the
    parameterization (and the config) differs, the value is computed by Keras.

    Args:
        strength: ``λ ≥ 0``, overall penalty strength.
        alpha: ``α ∈ [0, 1]``, weight of the squared-L2 part (1: ridge, 0: lasso).
    """

    def __init__(self, strength=0.01, alpha=0.5):
        strength = check_number("strength", strength, 0.0)
        alpha = check_number("alpha", alpha, 0.0, 1.0)
        super().__init__(l1=strength * (1.0 - alpha), l2=strength * alpha)
        self.strength = strength
        self.alpha = alpha

    def get_config(self):
        return {"strength": self.strength, "alpha": self.alpha}


def make_penalty(kind, strength, alpha=0.5):
    """Return the Keras regularizer for ``λ Ω(w)``.

    ``kind="l2"``: ``λ ‖w‖₂²`` (:class:`keras.regularizers.L2`); ``"l1"``: ``λ ‖w‖₁``
    (:class:`keras.regularizers.L1`); ``"elastic_net"``: ``λ (α ‖w‖₂² + (1 − α) ‖w‖₁)``
    (:class:`ElasticNet`). Returns ``None`` when ``λ = 0`` (no penalty at all).
    """
    strength = check_number("strength", strength, 0.0)
    kind = _penalty_kind(kind)
    if kind == "elastic_net":
        alpha = check_number("alpha", alpha, 0.0, 1.0)
    if strength == 0.0:
        return None
    if kind == "l2":
        return keras.regularizers.L2(strength)
    if kind == "l1":
        return keras.regularizers.L1(strength)
    return ElasticNet(strength, alpha)


def _all_layers(model):
    """Every layer under ``model`` (nested models, layers that own sub-layers, RNN cells)."""
    if hasattr(model, "_flatten_layers"):
        return list(model._flatten_layers(include_self=False, recursive=True))
    out = []
    for layer in getattr(model, "layers", []):  # pragma: no cover - fallback for odd objects
        out.append(layer)
        out.extend(_all_layers(layer))
    return out


def _read_only(layer, attr):
    prop = getattr(type(layer), attr, None)
    return isinstance(prop, property) and prop.fset is None


def _resolve_strength(strength, layer):
    if callable(strength) and not isinstance(strength, numbers.Real):
        value = strength(layer)
        if value is None:
            return 0.0
        return check_number(f"strength({layer.name!r})", value, 0.0)
    if isinstance(strength, dict):
        return check_number(f"strength[{layer.name!r}]", strength.get(layer.name, 0.0), 0.0)
    return check_number("strength", strength, 0.0)


def apply_penalty(model, strength, kind="l2", alpha=0.5, include=("kernel",), overwrite=True):
    """Attach ``λ_layer Ω(w)`` to the weights of an existing (built or unbuilt) model.

    Implements the lecture's ``J~ = J + Σ_layers λ_layer Σ_{weights \\ bias} Ω(w)``, with
    ``Ω = ‖w‖₂²`` (``kind="l2"``), ``‖w‖₁`` (``"l1"``) or ``α‖w‖₂² + (1 − α)‖w‖₁``
    (``"elastic_net"``).

    By default only *kernels* are penalized (``kernel``, ``depthwise_kernel``, ``pointwise_kernel``,
    ``recurrent_kernel``): never biases, batch/layer-norm ``γ``/``β`` or embeddings, unless
    ``include`` names them (``"bias"``, ``"norm"``, ``"embedding"``).

    For each chosen weight, the regularizer is set both on the layer attribute
    (``layer.kernel_regularizer``, so it is saved in the layer's config and used if the layer is
    built later) and on the already-created variable (``variable.regularizer``, which is what Keras 3
    reads to build ``model.losses``; setting the layer attribute alone after ``build`` does nothing).

    Args:
        model: a Keras model (or layer); nested models and sub-layers are visited.
        strength: ``λ ≥ 0`` as a number (same for every layer), a dict ``{layer name: λ}`` (layers
            not named get no penalty; unknown names raise), or a callable ``layer -> λ or None``.
        kind: ``"l2"``, ``"l1"`` or ``"elastic_net"``.
        alpha: elastic-net mixing weight ``α ∈ [0, 1]`` (only used by ``"elastic_net"``).
        include: kinds of weights to penalize, a subset of ``("kernel", "bias", "norm", "embedding")``.
        overwrite: replace regularizers already present (``True``) or keep them (``False``).

    Returns:
        list of ``(variable path, regularizer)`` that were attached, in layer order.
    """
    if _penalty_kind(kind) == "elastic_net":
        check_number("alpha", alpha, 0.0, 1.0)
    if isinstance(include, str):
        include = (include,)
    bad = [k for k in include if k not in _KINDS]
    if bad or not include:
        raise ValueError(f"include must be a non-empty subset of {', '.join(sorted(_KINDS))}, got {include!r}")
    if not (callable(strength) or isinstance(strength, dict)):
        check_number("strength", strength, 0.0)
    layers = _all_layers(model)
    if isinstance(strength, dict):
        names = {layer.name for layer in layers}
        unknown = sorted(set(strength) - names)
        if unknown:
            raise ValueError(f"strength names layers that are not in the model: {unknown}")

    attributes = {}
    for k in include:
        attributes.update(_KINDS[k])

    attached = []
    for layer in layers:
        lam = _resolve_strength(strength, layer)
        if lam == 0.0:
            continue
        for weight_attr, reg_attr in attributes.items():
            if not hasattr(layer, reg_attr) or _read_only(layer, reg_attr):
                continue  # e.g. keras.layers.LSTM exposes its cell's regularizers read-only
            # Only layers that own this weight (or will create it at build time).
            variable = getattr(layer, weight_attr, None) if layer.built else None
            if layer.built and not isinstance(variable, keras.Variable):
                continue
            if not overwrite and getattr(layer, reg_attr, None) is not None:
                continue
            reg = make_penalty(kind, lam, alpha)
            setattr(layer, reg_attr, reg)
            if variable is not None:
                variable.regularizer = reg
                attached.append((variable.path, reg))
            else:
                attached.append((f"{layer.name}/{weight_attr} (unbuilt)", reg))
    return attached


def penalized_variables(model):
    """``{variable path: regularizer}`` for every trainable variable that carries a penalty."""
    return {
        v.path: v.regularizer
        for v in model.trainable_variables
        if getattr(v, "regularizer", None) is not None
    }


def weight_decay_variables(model, include_embeddings=False):
    """The trainable variables of ``model`` to decay, penalize or threshold: the kernels *by role*.

    For every layer under ``model`` (nested models, wrapped layers, RNN cells included), the variables it holds
    as ``kernel``, ``depthwise_kernel``, ``pointwise_kernel`` or ``recurrent_kernel`` (its weight matrix or
    filters; WeightNormalization's ``v`` is its wrapped layer's kernel), plus ``embeddings`` if
    ``include_embeddings``, plus whatever the layer lists in a ``decay_variables`` attribute. Nothing else:
    biases, normalization ``γ``/``β``, WeightNormalization's ``g``, PReLU's ``α``, scales (see the module
    docstring). Returned in the order of ``model.trainable_variables``; frozen (non-trainable) variables are
    never returned.

    Raises:
        TypeError: ``model`` is not a Keras layer or model; a ``decay_variables`` entry is not a variable.
        ValueError: ``model`` is not built (its variables do not exist yet).
    """
    if not isinstance(model, keras.layers.Layer):
        raise TypeError(f"model must be a built Keras model or layer, got {type(model).__name__}")
    if not model.built:
        raise ValueError(f"model must be built (its variables must exist) before its kernels are chosen, got the "
                         f"unbuilt model {model.name!r}")
    attributes = tuple(KERNEL_ATTRIBUTES) + (("embeddings",) if include_embeddings else ())
    chosen = set()
    for layer in [model] + _all_layers(model):
        for attr in attributes:
            try:
                variable = getattr(layer, attr, None)
            except Exception:  # noqa: BLE001 - a property that cannot be read on this layer: not a kernel
                variable = None
            if isinstance(variable, keras.Variable):
                chosen.add(id(variable))
        declared = getattr(layer, "decay_variables", None)
        if declared is not None:
            for variable in declared:
                if not isinstance(variable, keras.Variable):
                    raise TypeError(f"layer {layer.name!r} declares decay_variables that are not variables: "
                                    f"got {type(variable).__name__}")
                chosen.add(id(variable))
    return [v for v in model.trainable_variables if id(v) in chosen]


def restrict_weight_decay(optimizer, model, include_embeddings=False):
    """Make ``optimizer`` decay (or, for :class:`~recipes.regularizers.proximal_sgd.ProximalSGD`, threshold) only
    :func:`weight_decay_variables` of ``model``: every other trainable variable of the model is passed to Keras'
    ``optimizer.exclude_from_weight_decay(var_list=...)``, which replaces earlier exclusions (name patterns
    included). Call it after the model is built and before the optimizer's first step; returns the decayed
    variables. Keras does not save exclusions: call it again after ``load_model`` if training continues."""
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        raise TypeError(f"optimizer must be a Keras optimizer, got {type(optimizer).__name__}")
    if optimizer.built:
        raise ValueError(f"optimizer must not have taken a step yet (exclusions are set before it is built), got "
                         f"the built optimizer {optimizer.name!r}")
    decay = weight_decay_variables(model, include_embeddings)
    keep = {id(v) for v in decay}
    optimizer.exclude_from_weight_decay(var_list=[v for v in model.trainable_variables if id(v) not in keep])
    return decay


def decoupled_weight_decay_optimizer(
    name="adamw",
    learning_rate=1e-3,
    weight_decay=1e-4,
    exclude_names=None,
    exclude_variables=None,
    model=None,
    include_embeddings=False,
    **kwargs,
):
    """A Keras optimizer with *decoupled* weight decay ``w ← w − ε d w`` on the kernels only (by role).

    The decay is applied by the optimizer before its gradient step, outside the loss (Loshchilov and
    Hutter, "Decoupled Weight Decay Regularization"): Keras' ``weight_decay`` argument, multiplied by
    the current learning rate ``ε``. Compare with the *coupled* penalty of :func:`apply_penalty`,
    whose gradient ``2 λ w`` is rescaled by Adam's per-coordinate step size; for SGD without momentum,
    ``weight_decay = 2 λ`` gives exactly the update of an L2 penalty ``λ‖w‖²``.

    Which variables (set before the first step):

    * ``model`` given (built): exactly :func:`weight_decay_variables` of it (the rule by role);
    * no model, ``exclude_names=None`` (default): the same rule on variable names
      (:data:`NON_KERNEL_NAME_PATTERN`: only variables named ``kernel``, ``depthwise_kernel``,
      ``pointwise_kernel``, ``recurrent_kernel`` are decayed) — identical for every layer of Keras and of this
      toolkit; :func:`restrict_weight_decay` switches to the exact rule once the model exists;
    * ``exclude_names`` given (e.g. ``("bias", "gamma", "beta")``, as 0.1 did): variables whose name matches
      any of these regular-expression fragments are not decayed (with ``model``, in addition to the rule).

    Args:
        name: a Keras optimizer identifier (``"adamw"``, ``"sgd"``, ``"adam"``, ``"rmsprop"``, ...);
            any Keras 3 optimizer accepts ``weight_decay``.
        learning_rate: ``ε`` (float or a ``LearningRateSchedule``).
        weight_decay: ``d ≥ 0``.
        exclude_names: ``None`` (the rule by role) or regular-expression fragments matched against variable
            names (an empty sequence excludes nothing by name).
        exclude_variables: explicit variables not to decay.
        model: a built Keras model whose kernels are decayed (:func:`weight_decay_variables`).
        include_embeddings: decay embeddings too (they are excluded by default).
        **kwargs: passed to the optimizer (``momentum``, ``nesterov``, ``beta_1``, ...).

    Note: Keras does not save the exclusion list in the optimizer config; after
    ``keras.models.load_model`` call :func:`restrict_weight_decay` (before the first step) if training continues.
    """
    weight_decay = check_number("weight_decay", weight_decay, 0.0)
    learning_rate = check_learning_rate("learning_rate", learning_rate)
    if not isinstance(name, str):
        raise TypeError(f"name must be a Keras optimizer name, got {name!r}")
    if isinstance(exclude_names, str):
        exclude_names = (exclude_names,)
    for pattern in exclude_names or ():
        try:
            re.compile(pattern)
        except (re.error, TypeError) as e:
            raise ValueError(f"exclude_names contains an invalid pattern {pattern!r}: {e}") from None
    if model is not None and not isinstance(model, keras.layers.Layer):
        raise TypeError(f"model must be a built Keras model or None, got {type(model).__name__}")
    config = {"class_name": name, "config": dict(learning_rate=learning_rate, weight_decay=weight_decay, **kwargs)}
    try:
        optimizer = keras.optimizers.get(config)
    except ValueError as e:
        raise ValueError(f"name must be a Keras optimizer name, got {name!r} ({e})") from None
    excluded = list(exclude_variables) if exclude_variables else []
    if model is not None:
        keep = {id(v) for v in weight_decay_variables(model, include_embeddings)}
        excluded += [v for v in model.trainable_variables if id(v) not in keep]
        names = list(exclude_names or ())
    elif exclude_names is None:
        names = [non_kernel_name_pattern(include_embeddings)]
    else:
        names = list(exclude_names)
    if excluded or names:
        optimizer.exclude_from_weight_decay(var_list=excluded or None, var_names=names or None)
    return optimizer
