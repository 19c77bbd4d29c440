"""``tf.data`` pipeline: wav files -> waveform augmentation -> log-mel spectrogram -> SpecAugment.

Stages (training):

1. read + decode the wavs once (``tf.audio.decode_wav``; float32 in [-1, 1]) and cache them;
2. waveform augmentation (:class:`augment.speech.WaveAugment`, NumPy) per clip through
   ``tf.numpy_function``, each call seeded from ``tf.data.Dataset.random`` so the stream is
   reproducible even with parallel calls, new every epoch;
3. centre crop / zero pad to ``clip_samples``;
4. log-mel spectrogram with ``tf.signal`` on whole batches:
   ``M = log(W |STFT(x)|^2 + eps)`` with ``W`` the mel filterbank, then per-clip mean/variance
   normalization;
5. SpecAugment masking (:func:`spec_augment_tf`, stateless per-example draws) on whole batches.

Output batches: ``(spectrogram (B, tau, nu, 1) float32, label (B,) int64)``.
:func:`fsdd_files` / :func:`fsdd_split` read the Free Spoken Digit Dataset layout
(``{digit}_{speaker}_{index}.wav``; official split: index 0-4 test).
"""
from __future__ import annotations

import pathlib
import re

import numpy as np
import tensorflow as tf

from augment.checks import check_choice, check_finite_array, check_positive_int, check_seed
from augment.spec_augment import check_spec_augment_parameters

__all__ = ["fsdd_files", "fsdd_split", "log_mel_spectrogram", "spec_augment_tf", "speech_dataset",
           "from_audiomentations"]

_FSDD_NAME = re.compile(r"^(\d)_([a-z]+)_(\d+)\.wav$")


def fsdd_files(root):
    """Sorted list of ``(path, digit, speaker, index)`` of an FSDD ``recordings`` folder."""
    root = pathlib.Path(root)
    out = []
    for p in sorted(root.glob("*.wav")):
        m = _FSDD_NAME.match(p.name)
        if m:
            out.append((str(p), int(m.group(1)), m.group(2), int(m.group(3))))
    if not out:
        raise ValueError(f"no FSDD wav files ({{digit}}_{{speaker}}_{{index}}.wav) in {root}")
    return out


def fsdd_split(root, split="official", test_speaker="theo"):
    """``(train_files, train_labels), (test_files, test_labels)``.

    ``split="official"``: recordings with index 0-4 are the test set (300 clips, every speaker);
    ``split="speaker"``: every recording of ``test_speaker`` is the test set (500 clips) - the model
    never hears that voice in training.
    """
    check_choice("split", split, ("official", "speaker"))
    rows = fsdd_files(root)
    if split == "official":
        is_test = [r[3] <= 4 for r in rows]
    elif split == "speaker":
        speakers = sorted({r[2] for r in rows})
        check_choice("test_speaker", test_speaker, speakers)
        is_test = [r[2] == test_speaker for r in rows]
    train = [r for r, t in zip(rows, is_test) if not t]
    test = [r for r, t in zip(rows, is_test) if t]
    return (([r[0] for r in train], np.array([r[1] for r in train], dtype="int64")),
            ([r[0] for r in test], np.array([r[1] for r in test], dtype="int64")))


def log_mel_spectrogram(waves, sample_rate=8000, frame_length=256, frame_step=80, fft_length=256,
                        n_mels=40, fmin=20.0, fmax=None, eps=1e-6, normalize=True):
    """``log(W |STFT(x)|^2 + eps)`` of ``waves`` shaped ``(..., samples)`` -> ``(..., tau, n_mels)``,
    with ``tau = 1 + (samples - frame_length) // frame_step`` (Hann window), optionally normalized
    to zero mean and unit variance per clip.

    ``waves`` must be finite: one NaN sample makes every frame it touches NaN and, through the per-clip
    normalization, the whole spectrogram. Eagerly (NumPy or an eager tensor) a non-finite sample raises
    ``ValueError`` naming ``waves`` and the sample's index; in a graph (a ``tf.data`` map) an in-graph
    assertion stops the pipeline with ``InvalidArgumentError`` "waves must be finite (no NaN or inf)"."""
    if not tf.is_tensor(waves) or not tf.is_symbolic_tensor(waves):
        check_finite_array("waves", np.asarray(waves))
    waves = tf.debugging.assert_all_finite(tf.convert_to_tensor(waves), "waves must be finite (no NaN or inf)")
    stft = tf.signal.stft(waves, frame_length=frame_length, frame_step=frame_step, fft_length=fft_length)
    power = tf.math.square(tf.abs(stft))
    mel = tf.signal.linear_to_mel_weight_matrix(n_mels, fft_length // 2 + 1, sample_rate, fmin,
                                                fmax or sample_rate / 2.0)
    spec = tf.math.log(tf.tensordot(power, mel, 1) + eps)
    if normalize:
        mean = tf.reduce_mean(spec, axis=[-2, -1], keepdims=True)
        std = tf.math.reduce_std(spec, axis=[-2, -1], keepdims=True)
        spec = (spec - mean) / (std + 1e-5)
    return spec


def _band_mask_tf(seed, batch, length, max_width, count):
    idx = tf.range(length, dtype=tf.float32)[None, :]
    masked = tf.zeros([batch, length], dtype=tf.bool)
    for k in range(count):
        u = tf.random.stateless_uniform([batch, 2], seed=tf.random.experimental.stateless_fold_in(seed, k))
        width = tf.floor(u[:, :1] * (max_width + 1.0))
        start = tf.floor(u[:, 1:] * (tf.cast(length, tf.float32) - width + 1.0))
        masked = masked | ((idx >= start) & (idx < start + width))
    return masked


def spec_augment_tf(spec, seed, freq_mask_param=8, num_freq_masks=2, time_mask_param=10,
                    num_time_masks=2, time_mask_ratio=1.0, mask_value="mean"):
    """SpecAugment on a batch ``(B, tau, nu[, 1])`` with stateless draws from ``seed`` (shape [2]);
    same distribution as :class:`augment.spec_augment.SpecAugment`: widths ``U{0..F}`` and
    ``U{0..min(T, floor(p tau))}``, starts uniform over the valid range, independent per example."""
    params = check_spec_augment_parameters(freq_mask_param, num_freq_masks, time_mask_param, num_time_masks,
                                           time_mask_ratio, mask_value)
    freq_mask_param, num_freq_masks = params["freq_mask_param"], params["num_freq_masks"]
    time_mask_param, num_time_masks = params["time_mask_param"], params["num_time_masks"]
    time_mask_ratio, mask_value = params["time_mask_ratio"], params["mask_value"]
    spec = tf.convert_to_tensor(spec)
    seed = tf.cast(seed, tf.int64)
    shape = tf.shape(spec)
    batch, tau, nu = shape[0], shape[1], shape[2]
    max_t = tf.minimum(tf.cast(time_mask_param, tf.float32),
                       tf.floor(time_mask_ratio * tf.cast(tau, tf.float32)))
    max_f = tf.minimum(tf.cast(freq_mask_param, tf.float32), tf.cast(nu, tf.float32))
    mf = _band_mask_tf(tf.random.experimental.stateless_fold_in(seed, 1), batch, nu, max_f, num_freq_masks)
    mt = _band_mask_tf(tf.random.experimental.stateless_fold_in(seed, 2), batch, tau, max_t, num_time_masks)
    mask = mt[:, :, None] | mf[:, None, :]
    if spec.shape.rank == 4:
        mask = mask[..., None]
    if mask_value == "mean":
        fill = tf.reduce_mean(spec, axis=tf.range(1, tf.rank(spec)), keepdims=True)
    else:
        fill = tf.cast(mask_value, spec.dtype)
    return tf.where(mask, tf.broadcast_to(fill, tf.shape(spec)), spec)


def from_audiomentations(transform, sample_rate=8000):
    """Wrap an audiomentations transform (e.g. ``Compose([...])``) as ``wave_augment`` for
    :func:`speech_dataset`: ``f(x, rng) -> transform(x, sample_rate)``. audiomentations draws from
    NumPy's global generator, so each call reseeds it from ``rng`` (reproducible, but it touches the
    global state; keep such a pipeline's map deterministic)."""
    if not callable(transform):
        raise TypeError(f"transform must be callable, got {type(transform).__name__}")

    def wave_augment(x, rng):
        import random

        seed = int(rng.integers(2 ** 31)) if isinstance(rng, np.random.Generator) else int(rng)
        np.random.seed(seed)
        random.seed(seed)
        return transform(samples=np.asarray(x, dtype=np.float32), sample_rate=sample_rate)

    return wave_augment


def _decode(path):
    audio, _ = tf.audio.decode_wav(tf.io.read_file(path), desired_channels=1)
    return audio[:, 0]


def _centre_fix(wave, length):
    n = tf.shape(wave)[0]
    start = tf.maximum((n - length) // 2, 0)
    wave = wave[start:start + length]
    pad = length - tf.shape(wave)[0]
    wave = tf.pad(wave, [[pad // 2, pad - pad // 2]])
    wave.set_shape([length])
    return wave


def speech_dataset(files, labels, wave_augment=None, spec_augment=None, clip_samples=8000, sample_rate=8000,
                   batch_size=32, shuffle=True, seed=0, mel_kwargs=None):
    """Batches ``(log-mel (B, tau, n_mels, 1), label)`` from wav ``files``.

    Args:
        wave_augment: a :class:`augment.speech.WaveAugment` (or any ``f(x, rng) -> y``), or None.
        spec_augment: keyword arguments of :func:`spec_augment_tf` (``{}`` for its defaults), or None.
        clip_samples: every clip is centre-cropped / zero-padded to this length after augmentation.
        mel_kwargs: keyword arguments of :func:`log_mel_spectrogram`.
    """
    if len(files) != len(labels):
        raise ValueError(f"files and labels must have the same length, got {len(files)} and {len(labels)}")
    batch_size = check_positive_int("batch_size", batch_size)
    clip_samples = check_positive_int("clip_samples", clip_samples)
    seed = check_seed("seed", seed, optional=False)
    if spec_augment is not None:  # its keyword arguments, checked before any work
        check_spec_augment_parameters(**spec_augment)
    mel_kwargs = dict(sample_rate=sample_rate, **(mel_kwargs or {}))
    # the map functions hold no Python control flow on tensors: no AutoGraph conversion (which
    # re-reads their source from disk at trace time)
    plain = tf.autograph.experimental.do_not_convert
    ds = tf.data.Dataset.from_tensor_slices((list(map(str, files)), np.asarray(labels, dtype="int64")))
    ds = ds.map(plain(lambda f, y: (_decode(f), y)), num_parallel_calls=tf.data.AUTOTUNE).cache()
    if shuffle:
        ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    if wave_augment is not None:
        def _np_aug(x, s):
            return np.asarray(wave_augment(x, np.random.default_rng(int(s))), dtype=np.float32)

        def _aug(x, y, s):
            x = tf.numpy_function(_np_aug, [x, s], tf.float32, stateful=False)
            x.set_shape([None])
            return x, y

        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        ds = tf.data.Dataset.zip(ds, seeds).map(plain(lambda xy, s: _aug(xy[0], xy[1], s)),
                                                num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.map(plain(lambda x, y: (_centre_fix(x, clip_samples), y)), num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(batch_size).map(plain(lambda x, y: (log_mel_spectrogram(x, **mel_kwargs)[..., None], y)),
                                  num_parallel_calls=tf.data.AUTOTUNE)
    if spec_augment is not None:
        seeds = tf.data.Dataset.random(seed=seed + 1, rerandomize_each_iteration=True).batch(2)
        ds = tf.data.Dataset.zip(ds, seeds).map(
            plain(lambda xy, s: (spec_augment_tf(xy[0], s, **spec_augment), xy[1])),
            num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)

