"""Parameter tying (soft sharing) and parameter sharing (hard sharing).

Lecture, "Parameter Tying": two models ``Y⁽ᴬ⁾ = f(ω⁽ᴬ⁾, X)`` and ``Y⁽ᴮ⁾ = f(ω⁽ᴮ⁾, X)`` for related
tasks are pulled together by the norm penalty

    Ω⁽ᴬ'ᴮ⁾ = ‖ω⁽ᴬ⁾ − ω⁽ᴮ⁾‖₂²,         J~ = J_A + J_B + λ Ω⁽ᴬ'ᴮ⁾.

Its gradient is ``2λ(ω⁽ᴬ⁾ − ω⁽ᴮ⁾)`` for ``ω⁽ᴬ⁾`` and the opposite for ``ω⁽ᴮ⁾``: both sides move
towards each other. "Parameter sharing" is the hard limit ``λ → ∞``: the two sets are one — in Keras,
the same layer object called twice (:func:`build_shared_encoder_model`); its gradient is the sum of
the gradients of both uses.
"""
from __future__ import annotations

import keras
from keras import ops

from augment.checks import check_choice, check_number, check_positive_int

__all__ = ["tying_penalty", "ParameterTying", "build_shared_encoder_model"]


def tying_penalty(weights_a, weights_b):
    """``Ω = Σ_j ‖ω_j⁽ᴬ⁾ − ω_j⁽ᴮ⁾‖₂²`` over corresponding tensors of two lists (or two tensors).

    Raises ``ValueError`` naming the arguments when the lists differ in length or a pair differs in
    shape.
    """
    if not isinstance(weights_a, (list, tuple)):
        weights_a = [weights_a]
    if not isinstance(weights_b, (list, tuple)):
        weights_b = [weights_b]
    if len(weights_a) != len(weights_b):
        raise ValueError(
            f"weights_a and weights_b must have the same number of tensors, got {len(weights_a)} and "
            f"{len(weights_b)}"
        )
    if not weights_a:
        raise ValueError("weights_a and weights_b must not be empty")
    total = None
    for j, (a, b) in enumerate(zip(weights_a, weights_b)):
        if tuple(a.shape) != tuple(b.shape):
            raise ValueError(
                f"weights_a[{j}] and weights_b[{j}] must have the same shape, got {tuple(a.shape)} and "
                f"{tuple(b.shape)}"
            )
        term = ops.sum(ops.square(ops.subtract(a, b)))
        total = term if total is None else total + term
    return total


_KERNEL_NAMES = ("kernel", "depthwise_kernel", "pointwise_kernel", "recurrent_kernel")


def _layer_weights(layer, which):
    if which == "all":
        return list(layer.trainable_weights)
    return [w for w in layer.trainable_weights if w.name in _KERNEL_NAMES]


@keras.saving.register_keras_serializable(package="recipes")
class ParameterTying(keras.Model):
    """Wrap a model and add ``λ Σ_pairs ‖ω⁽ᴬ⁾ − ω⁽ᴮ⁾‖²`` to its loss (soft parameter sharing).

    ``pairs`` lists ``(layer name A, layer name B)`` of the inner model (e.g. the corresponding
    layers of two towers); their weights (kernels only, or all trainable weights with
    ``weights="all"``) are compared in order. The penalty is added with ``add_loss`` on every call,
    so it is part of ``model.losses`` and of the loss that ``fit`` minimizes. The wrapper returns the
    inner model's outputs unchanged (so per-output losses/metrics of a multi-output model keep their
    names).

    Args:
        model: the inner Keras model (built, e.g. functional).
        pairs: list of ``(name_a, name_b)``.
        strength: ``λ ≥ 0``.
        weights: ``"kernel"`` (default: kernels only, never biases) or ``"all"``.
    """

    def __init__(self, model, pairs, strength=1e-2, weights="kernel", **kwargs):
        super().__init__(**kwargs)
        if not isinstance(model, keras.Model):
            raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")
        self.strength = check_number("strength", strength, 0.0)
        self.which = check_choice("weights", weights, ("kernel", "all"))
        if not pairs:
            raise ValueError(f"pairs must list at least one (layer_a, layer_b) pair, got {pairs!r}")
        pairs = [tuple(p) for p in pairs]
        names = {layer.name for layer in model._flatten_layers(include_self=False)}
        for p in pairs:
            if len(p) != 2:
                raise ValueError(f"pairs must contain (layer_a, layer_b) pairs, got {p!r}")
            missing = [n for n in p if n not in names]
            if missing:
                raise ValueError(f"pairs must name layers of the model, got {missing} (not in the model)")
        self.pairs = pairs
        self.inner = model
        if model.built:
            self._weight_pairs()  # raises ValueError naming `pairs` on mismatched shapes
            self.built = True

    def _find(self, name):
        for layer in self.inner._flatten_layers(include_self=False):
            if layer.name == name:
                return layer
        raise ValueError(f"no layer named {name!r}")  # pragma: no cover (checked in __init__)

    def _weight_pairs(self):
        out = []
        for name_a, name_b in self.pairs:
            wa = _layer_weights(self._find(name_a), self.which)
            wb = _layer_weights(self._find(name_b), self.which)
            if len(wa) != len(wb) or any(tuple(x.shape) != tuple(y.shape) for x, y in zip(wa, wb)):
                raise ValueError(
                    f"pairs: layers {name_a!r} and {name_b!r} have mismatched weight shapes "
                    f"{[tuple(x.shape) for x in wa]} vs {[tuple(y.shape) for y in wb]}"
                )
            out.extend(zip(wa, wb))
        return out

    def penalty(self):
        """Current ``Ω = Σ ‖ω⁽ᴬ⁾ − ω⁽ᴮ⁾‖²`` (without the factor ``λ``)."""
        wa, wb = zip(*self._weight_pairs())
        return tying_penalty(list(wa), list(wb))

    def build(self, input_shape):
        if not self.inner.built:
            self.inner.build(input_shape)
        self._weight_pairs()  # shape check
        self.built = True

    def call(self, inputs, training=None):
        outputs = self.inner(inputs, training=training)
        if self.strength > 0:
            self.add_loss(self.strength * self.penalty())
        return outputs

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "model": keras.saving.serialize_keras_object(self.inner),
                "pairs": [list(p) for p in self.pairs],
                "strength": self.strength,
                "weights": self.which,
            }
        )
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["model"] = keras.saving.deserialize_keras_object(config["model"], custom_objects=custom_objects)
        return cls(**config)


def build_shared_encoder_model(input_dim, units=16, num_outputs=1, name="shared_encoder"):
    """Hard parameter sharing: ``ŷ = g(h(x₁), h(x₂))`` with ONE encoder ``h`` applied to both inputs.

    The encoder (a single ``Dense`` layer object named ``"encoder"``) appears twice in the graph
    but owns one kernel: the model has ``input_dim·units + units`` encoder parameters, and its
    gradient is the sum of the gradients through both uses. The head sees ``(h(x₁) − h(x₂))²`` elementwise
    (a Siamese comparison).
    """
    input_dim = check_positive_int("input_dim", input_dim)
    units = check_positive_int("units", units)
    num_outputs = check_positive_int("num_outputs", num_outputs)
    x1 = keras.Input((input_dim,), name="x1")
    x2 = keras.Input((input_dim,), name="x2")
    encoder = keras.layers.Dense(units, activation="tanh", name="encoder")
    h1, h2 = encoder(x1), encoder(x2)  # the same layer object: hard sharing
    diff = keras.layers.Subtract(name="difference")([h1, h2])
    squared = keras.layers.Multiply(name="squared_difference")([diff, diff])
    out = keras.layers.Dense(num_outputs, name="head")(squared)
    return keras.Model([x1, x2], out, name=name)
