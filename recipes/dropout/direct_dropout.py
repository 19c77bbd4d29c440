"""Direct dropout (scale by p at test time) beside inverted dropout (scale by 1/p in training).

Lecture, "Regularization – Direct Dropout / Inverted Dropout". With keep-probability p and
``δ_i ~ Bernoulli(p)``:

* **direct** dropout — training: ``y_i = δ_i x_i``; test: ``y_i = p x_i`` (the expected training
  output, ``E[δ_i x_i] = p x_i``). (The slide's words "reduce them by a factor (1 − p)" mean
  "multiply by p": the neuron output is multiplied by p.)
* **inverted** dropout — training: ``y_i = δ_i x_i / p``; test: ``y_i = x_i``. This is
  ``keras.layers.Dropout(rate=1 − p)``; :func:`inverted_dropout` only builds it with the
  lecture's parameter and checks.

Both have test-time output equal to the training-time expectation, so a network trained with one
and evaluated the same way computes the same function up to a factor p on the weights that follow
the dropped layer (``W_direct = W_inverted / p``).
"""
import keras
from keras import ops

from augment.checks import check_rate, check_seed
from recipes.dropout.rates import HIDDEN_RATE


@keras.saving.register_keras_serializable(package="recipes")
class DirectDropout(keras.layers.Layer):
    """Direct (non-inverted) dropout: ``y = δ ⊙ x`` in training, ``y = p x`` at inference.

    ``δ_i ~ Bernoulli(p)``, ``p = 1 − rate``, one mask entry per activation (per example), or
    shared along the axes where ``noise_shape`` is 1, exactly like ``keras.layers.Dropout``.

    Args:
        rate: drop probability ``1 − p`` in [0, 1); default 0.5 (hidden-layer advice, p = 0.5).
            Use ``recipes.dropout.rates.INPUT_RATE`` (0.2) on inputs.
        noise_shape: optional mask shape (``None`` entries take the input's size).
        seed: int seed of the layer's ``keras.random.SeedGenerator`` (reproducible draws).
    """

    def __init__(self, rate=HIDDEN_RATE, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = check_rate("rate", rate)
        self.seed = check_seed("seed", seed)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self.supports_masking = True
        self._build_at_init()

    @property
    def keep_prob(self):
        """p = 1 − rate."""
        return 1.0 - self.rate

    def _mask_shape(self, inputs):
        shape = ops.shape(inputs)
        if self.noise_shape is None:
            return shape
        return tuple(s if n is None else n for s, n in zip(shape, self.noise_shape))

    def call(self, inputs, training=False):
        if not training:
            return inputs * ops.cast(self.keep_prob, inputs.dtype)
        if self.rate == 0.0:
            return inputs
        u = keras.random.uniform(self._mask_shape(inputs), seed=self.seed_generator, dtype=inputs.dtype)
        delta = ops.cast(u < self.keep_prob, inputs.dtype)
        return inputs * delta

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "noise_shape": self.noise_shape, "seed": self.seed})
        return config


def inverted_dropout(rate=HIDDEN_RATE, noise_shape=None, seed=None, **kwargs):
    """Inverted dropout ``y = δ ⊙ x / p`` (training), ``y = x`` (test): ``keras.layers.Dropout``.

    Keras's ``Dropout`` is already right; this only checks ``rate`` in [0, 1) (Keras accepts 1)
    and applies the lecture's hidden-layer default p = 0.5.
    """
    return keras.layers.Dropout(check_rate("rate", rate), noise_shape=noise_shape, seed=check_seed("seed", seed),
                                **kwargs)
