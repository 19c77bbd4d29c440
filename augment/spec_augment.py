"""SpecAugment time and frequency masking (Park et al. 2019) as a Keras layer.

On a (log-mel) spectrogram with ``tau`` frames and ``nu`` mel channels:

* frequency masking, ``m_F`` times: ``f ~ U{0, ..., F}``, ``f0 ~ U{0, ..., nu - f}``; channels
  ``[f0, f0 + f)`` are set to the mask value;
* time masking, ``m_T`` times: ``t ~ U{0, ..., min(T, floor(p * tau))}``, ``t0 ~ U{0, ..., tau - t}``;
  frames ``[t0, t0 + t)`` are set to the mask value.

Draws are independent per example. The mask value is the example's mean (``mask_value="mean"``,
which is 0 on mean-normalized spectrograms as in the paper) or a constant. Active only when
``training=True``; at inference the input is returned in the layer's compute dtype.

Like the image layers (:mod:`augment.image_ops`) it is a Keras ``DataLayer`` written with its
``self.backend`` ops: it runs inside a model on any backend (and on the GPU), and inside a ``tf.data``
map under any backend (there it switches to TensorFlow ops, as Keras' own preprocessing layers do; a
plain ``Layer`` under JAX raised "Cannot convert a symbolic tf.Tensor to a numpy array").
``augment.speech_pipeline`` has the same masking for ``tf.data`` with stateless per-batch seeds.
"""
from __future__ import annotations

import keras
from keras.src.layers.preprocessing.data_layer import DataLayer

from augment.checks import check_choice, check_int, check_number, check_seed

__all__ = ["SpecAugment", "check_spec_augment_parameters"]


def check_spec_augment_parameters(freq_mask_param=8, num_freq_masks=2, time_mask_param=10, num_time_masks=2,
                                  time_mask_ratio=1.0, mask_value="mean"):
    """The SpecAugment parameters checked (for :class:`SpecAugment` and ``augment.speech_pipeline``):
    F, m_F, T, m_T integers in [0, inf), p in (0, 1], mask value ``"mean"`` or a finite number. Returns them
    as a dict."""
    counts = {name: check_int(name, value, 0) for name, value in (
        ("freq_mask_param", freq_mask_param), ("num_freq_masks", num_freq_masks),
        ("time_mask_param", time_mask_param), ("num_time_masks", num_time_masks))}
    if isinstance(mask_value, str):
        check_choice("mask_value", mask_value, ("mean",))  # the per-example mean, or a number
    else:
        mask_value = check_number("mask_value", mask_value)
    return dict(counts, time_mask_ratio=check_number("time_mask_ratio", time_mask_ratio, 0.0, 1.0, low_open=True),
                mask_value=mask_value)


@keras.saving.register_keras_serializable(package="recipes")
class SpecAugment(DataLayer):
    """SpecAugment masking of inputs shaped ``(batch, time, freq)`` or ``(batch, time, freq, channels)``
    (any other rank raises ``ValueError`` naming the shape); the output has the input's shape and the
    layer's compute dtype (float16 / bfloat16 under the mixed policies) in training and at inference.

    Args:
        freq_mask_param: ``F``, largest frequency-mask width (>= 0).
        num_freq_masks: ``m_F`` (>= 0).
        time_mask_param: ``T``, largest time-mask width (>= 0).
        num_time_masks: ``m_T`` (>= 0).
        time_mask_ratio: ``p`` in (0, 1], time masks are at most ``floor(p * tau)`` frames.
        mask_value: ``"mean"`` (per example) or a float.
        seed: seed of the layer's ``keras.random.SeedGenerator``.
    """

    def __init__(self, freq_mask_param=8, num_freq_masks=2, time_mask_param=10, num_time_masks=2,
                 time_mask_ratio=1.0, mask_value="mean", seed=None, **kwargs):
        super().__init__(**kwargs)
        params = check_spec_augment_parameters(freq_mask_param, num_freq_masks, time_mask_param, num_time_masks,
                                               time_mask_ratio, mask_value)
        seed = check_seed("seed", seed)
        self.freq_mask_param, self.num_freq_masks = params["freq_mask_param"], params["num_freq_masks"]
        self.time_mask_param, self.num_time_masks = params["time_mask_param"], params["num_time_masks"]
        self.time_mask_ratio, self.mask_value, self.seed = params["time_mask_ratio"], params["mask_value"], seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    @property
    def generator(self):
        """The layer's ``SeedGenerator`` under the name ``DataLayer`` looks it up by."""
        return self.seed_generator

    def _band_mask(self, batch, length, max_width, count, seed):
        """Boolean ``(batch, length)``: union of ``count`` bands, each of width ``U{0..max_width}``
        starting at ``U{0..length-width}``."""
        B = self.backend
        idx = B.numpy.arange(length, dtype="float32")[None, :]
        masked = B.numpy.zeros((batch, length), dtype="bool")
        for _ in range(count):
            u = B.random.uniform((batch, 1), seed=seed)
            width = B.numpy.floor(u * (max_width + 1.0))
            v = B.random.uniform((batch, 1), seed=seed)
            start = B.numpy.floor(v * (B.cast(length, "float32") - width + 1.0))
            masked = B.numpy.logical_or(masked, B.numpy.logical_and(idx >= start, idx < start + width))
        return masked

    def _check_rank(self, shape):
        if len(shape) not in (3, 4):
            raise ValueError(f"SpecAugment: inputs must have shape (batch, time, freq) or (batch, time, freq, "
                             f"channels), got shape {tuple(shape)} (rank {len(shape)})")

    def call(self, inputs, training=False):
        B = self.backend
        self._check_rank(inputs.shape)
        x = B.cast(inputs, self.compute_dtype)
        if not training or (self.num_freq_masks == 0 and self.num_time_masks == 0):
            return x
        seed = self._get_seed_generator(B._backend)
        shape = B.shape(x)
        batch, tau, nu = shape[0], shape[1], shape[2]
        max_t = min(self.time_mask_param, int(self.time_mask_ratio * tau)) if isinstance(tau, int) \
            else self.time_mask_param
        max_f = min(self.freq_mask_param, nu) if isinstance(nu, int) else self.freq_mask_param
        mf = self._band_mask(batch, nu, max_f, self.num_freq_masks, seed)  # (B, nu)
        mt = self._band_mask(batch, tau, max_t, self.num_time_masks, seed)  # (B, tau)
        mask = B.numpy.logical_or(mt[:, :, None], mf[:, None, :])  # (B, tau, nu)
        if len(x.shape) == 4:
            mask = mask[..., None]
        if self.mask_value == "mean":
            axes = tuple(range(1, len(x.shape)))
            fill = B.numpy.mean(x, axis=axes, keepdims=True)
        else:
            fill = B.cast(self.mask_value, x.dtype)
        return B.numpy.where(mask, B.cast(fill, x.dtype), x)

    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(freq_mask_param=self.freq_mask_param, num_freq_masks=self.num_freq_masks,
                      time_mask_param=self.time_mask_param, num_time_masks=self.num_time_masks,
                      time_mask_ratio=self.time_mask_ratio, mask_value=self.mask_value, seed=self.seed)
        return config
