"""Waveform augmentation for speech (lecture: "Data Augmentation - Speech": noise injection, change of
playing speed, special effects).

All functions take a 1-D waveform ``x`` (float or integer PCM) and return the same dtype; integer
input is computed in float64, rounded and clipped to the dtype's range. NumPy/SciPy only - no librosa,
so nothing compiles with numba on first call.

Limits, checked before any work (``ValueError`` naming the argument, the range and the value):

* the waveform (``x``, ``noise``, ``noise_clips[i]``) must hold at least one sample, all finite: one NaN
  sample would turn the whole clip NaN through the noise power, the STFT of a time stretch or the
  resampling filter (the error names the first bad sample's index); an empty clip is rejected, not
  passed through, because a pipeline would pad it to a silent example with a real label;
* ``snr`` and ``gain_db`` in [-100, 100] dB (:data:`DB_RANGE`; far past any augmentation, and a gain of
  10^(1000/20) overflows float32 to inf);
* the speed factor ``rate`` of :func:`change_speed` / :func:`time_stretch` in [0.25, 4]
  (:data:`RATE_RANGE`: ``change_speed(x, 1e-6)`` would allocate N·10^6 samples), hence
  ``semitones`` of :func:`pitch_shift` in [-24, 24] (the factor 2^(s/12) in the same range).

* :func:`add_white_noise` - ``y = x + n``, ``n ~ N(0, sigma^2)`` rescaled so that
  ``SNR = 10 log10(P_x / P_n)`` equals the target exactly (``P = mean(v^2)``);
* :func:`add_background_noise` - ``y = x + g * b`` with ``b`` a random excerpt of another clip
  (tiled if shorter) and ``g`` chosen for the target SNR;
* :func:`change_speed` - playback at ``rate`` times the speed: band-limited (polyphase) resampling to
  ``round(N / rate)`` samples; duration scales by ``1/rate`` and every frequency by ``rate``;
* :func:`pitch_shift` - frequencies times ``2^(s/12)`` at unchanged length: phase-vocoder time
  stretch by ``2^(s/12)`` followed by resampling back to ``N`` samples;
* :func:`time_shift` - ``y[t] = x[t - k]`` with zeros (or wrap-around) filling the gap;
* :func:`apply_gain` - ``y = 10^(g/20) x``.

:class:`WaveAugment` draws a random chain of them per clip from a seeded ``numpy.random.Generator``.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np
from scipy import signal as _signal

from augment.checks import (check_finite_array, check_int, check_number, check_pair, check_positive_int,
                            check_probability, check_seed)

__all__ = ["DB_RANGE", "RATE_RANGE", "SEMITONE_RANGE", "snr_db", "add_white_noise", "add_background_noise",
           "change_speed", "pitch_shift", "time_stretch", "time_shift", "apply_gain", "fix_length", "WaveAugment"]


#: Range of ``snr`` and ``gain_db`` in dB.
DB_RANGE = (-100.0, 100.0)
#: Range of the speed factor of :func:`change_speed` and :func:`time_stretch`.
RATE_RANGE = (0.25, 4.0)
#: Range of :func:`pitch_shift`'s semitones: 12 log2 of :data:`RATE_RANGE`.
SEMITONE_RANGE = (-24.0, 24.0)


def _check_wave(x, name="x"):
    """The rule every waveform function shares: a non-empty 1-D array of finite floats or integer PCM samples."""
    x = np.asarray(x)
    if x.ndim != 1:
        raise ValueError(f"{name} must be a 1-D waveform, got shape {x.shape}")
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise TypeError(f"{name} must hold floats or integer PCM, got dtype {x.dtype}")
    if x.size == 0:
        raise ValueError(f"{name} must hold at least one sample, got an empty waveform (shape {x.shape})")
    return check_finite_array(name, x)


def _check_db(name, value):
    return check_number(name, value, *DB_RANGE)


def _check_rate(value, name="rate"):
    return check_number(name, value, *RATE_RANGE)


def _restore(y, dtype):
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.rint(y), info.min, info.max).astype(dtype)
    return y.astype(dtype, copy=False)


def _rng(rng):
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _power(v):
    return float(np.mean(np.square(v, dtype=np.float64)))


def snr_db(clean, noise) -> float:
    """``10 log10(P_clean / P_noise)`` with ``P = mean(v^2)``."""
    return 10.0 * np.log10(_power(clean) / max(_power(noise), 1e-30))


def add_white_noise(x, snr, rng=None):
    """White Gaussian noise at exactly ``snr`` dB: the drawn noise is rescaled to power
    ``P_x / 10^(snr/10)``. A silent clip is returned unchanged."""
    x = _check_wave(x)
    snr = _check_db("snr", snr)
    px = _power(x)
    if px == 0.0:
        return x.copy()
    floating = x.dtype in (np.float32, np.float64)  # computed in x's own precision
    ftype = x.dtype.type if floating else np.float64
    n = _rng(rng).standard_normal(x.size, dtype=ftype)
    n *= ftype(np.sqrt(px / 10.0 ** (snr / 10.0) / _power(n)))
    if floating:
        return x + n
    return _restore(x.astype(np.float64) + n, x.dtype)


def add_background_noise(x, noise, snr, rng=None):
    """Add a random excerpt of ``noise`` (another clip; tiled when shorter than ``x``) scaled so that
    ``10 log10(P_x / P_noise_excerpt) = snr``. Integer noise is taken on its own integer scale."""
    x = _check_wave(x)
    noise = _check_wave(noise, "noise").astype(np.float64)
    snr = _check_db("snr", snr)
    if noise.size == 0 or _power(noise) == 0.0:
        raise ValueError(f"noise must be a non-silent clip (mean power > 0), got {noise.size} samples of power "
                         f"{_power(noise) if noise.size else 0.0}")
    rng = _rng(rng)
    if noise.size < x.size:
        noise = np.tile(noise, int(np.ceil(x.size / noise.size)) + 1)
    start = int(rng.integers(0, noise.size - x.size + 1))
    b = noise[start:start + x.size]
    pb = _power(b)
    if pb == 0.0:  # a silent excerpt: take the loudest stretch instead
        b, pb = noise[: x.size], _power(noise[: x.size])
    xf = x.astype(np.float64)
    px = _power(xf)
    if px == 0.0 or pb == 0.0:
        return x.copy()
    g = np.sqrt(px / 10.0 ** (snr / 10.0) / pb)
    return _restore(xf + g * b, x.dtype)


def _resample(x, ratio, max_denominator=32):
    """Band-limited polyphase resampling of float64 ``x`` by ``ratio = up/down`` (a fraction with
    denominator <= ``max_denominator``) to ``round(N * ratio)`` samples."""
    frac = Fraction(ratio).limit_denominator(max_denominator)
    m = max(1, int(round(x.size * ratio)))
    if frac == 1:
        return fix_length(x, m)
    return fix_length(_signal.resample_poly(x, frac.numerator, frac.denominator), m)


def change_speed(x, rate):
    """Play ``x`` ``rate`` times faster (``rate > 1``) or slower: polyphase (band-limited, so
    speeding up does not alias) resampling by ``1/rate`` to ``round(N / rate)`` samples. ``rate`` is
    used as the nearest fraction with denominator <= 32 (e.g. 1.07 -> 15/14, off by 0.1 %); ``rate`` in
    [0.25, 4] (:data:`RATE_RANGE`)."""
    x = _check_wave(x)
    rate = _check_rate(rate)
    return _restore(_resample(x.astype(np.float64), 1.0 / rate), x.dtype)


def _stft(x, n_fft, hop):
    win = np.hanning(n_fft + 1)[:-1]  # periodic Hann: overlap-adds to a constant at hop = n_fft/4
    xp = np.pad(x, (n_fft // 2, n_fft // 2 + hop))
    frames = np.lib.stride_tricks.sliding_window_view(xp, n_fft)[::hop]
    return np.fft.rfft(frames * win, axis=-1), win


def _istft(spec, win, n_fft, hop, length):
    frames = np.fft.irfft(spec, n=n_fft, axis=-1) * win
    k = n_fft // hop
    n_frames = frames.shape[0]
    out = np.zeros((n_frames + k - 1, hop))
    norm = np.zeros((n_frames + k - 1, hop))
    w2 = (win ** 2).reshape(k, hop)
    chunks = frames.reshape(n_frames, k, hop)
    for j in range(k):  # overlap-add, vectorized over frames
        out[j:j + n_frames] += chunks[:, j]
        norm[j:j + n_frames] += w2[j]
    y = (out / np.maximum(norm, 1e-8)).ravel()[n_fft // 2:]
    return fix_length(y, length)


def time_stretch(x, rate, n_fft=256, hop=64):
    """Phase-vocoder time stretch: duration times ``1/rate`` with unchanged pitch (float64 out).

    Frames are read at fractional positions ``t = 0, rate, 2 rate, ...``; magnitudes are interpolated
    linearly and phases advanced by each bin's measured instantaneous frequency. The output has
    ``max(1, round(N / rate))`` samples; ``rate`` in [0.25, 4] (:data:`RATE_RANGE`).
    """
    x = _check_wave(x).astype(np.float64)
    rate = _check_rate(rate)
    n_fft = check_positive_int("n_fft", n_fft)
    hop = check_int("hop", hop, 1, n_fft)
    if n_fft % hop:
        raise ValueError(f"hop must divide n_fft={n_fft}, got {hop}")
    spec, win = _stft(x, n_fft, hop)
    n_frames = spec.shape[0]
    steps = np.arange(0.0, n_frames - 1, rate)
    i = steps.astype(int)
    a = (steps - i)[:, None]
    mag = np.abs(spec)
    mag_out = (1 - a) * mag[i] + a * mag[i + 1]
    expected = 2 * np.pi * hop * np.arange(spec.shape[1]) / n_fft
    phase = np.angle(spec)
    dphi = phase[1:] - phase[:-1] - expected
    dphi -= 2 * np.pi * np.round(dphi / (2 * np.pi))
    advance = expected + dphi[i]
    phase_out = phase[0] + np.concatenate([np.zeros((1, spec.shape[1])), np.cumsum(advance[:-1], axis=0)])
    return _istft(mag_out * np.exp(1j * phase_out), win, n_fft, hop, max(1, int(round(x.size / rate))))


def pitch_shift(x, semitones, n_fft=256, hop=64):
    """Shift every frequency by the factor ``r = 2^(semitones/12)`` keeping the length ``N``:
    time-stretch by ``1/r`` (length ``r N``, same pitch), then resample to ``N`` samples. ``semitones`` in
    [-24, 24] (:data:`SEMITONE_RANGE`: ``r`` in :data:`RATE_RANGE`)."""
    x = _check_wave(x)
    semitones = check_number("semitones", semitones, *SEMITONE_RANGE)
    if semitones == 0:
        return x.copy()
    r = 2.0 ** (semitones / 12.0)
    stretched = time_stretch(x.astype(np.float64), 1.0 / r, n_fft=n_fft, hop=hop)
    return _restore(fix_length(_resample(stretched, x.size / stretched.size), x.size), x.dtype)


def time_shift(x, shift, rollover=False):
    """``y[t] = x[t - shift]`` (``shift`` in samples, either sign); the gap is zero-filled, or wraps
    around when ``rollover``."""
    x = _check_wave(x)
    shift = check_int("shift", shift)
    if rollover:
        return np.roll(x, shift)
    y = np.zeros_like(x)
    if shift >= 0:
        y[shift:] = x[: x.size - shift] if shift < x.size else x[:0]
    else:
        y[: x.size + shift] = x[-shift:]
    return y


def apply_gain(x, gain_db):
    """``y = 10^(gain_db/20) x`` (integer PCM clips at its range); ``gain_db`` in [-100, 100] (:data:`DB_RANGE`)."""
    x = _check_wave(x)
    gain_db = _check_db("gain_db", gain_db)
    if np.issubdtype(x.dtype, np.floating):
        return x * x.dtype.type(10.0 ** (gain_db / 20.0))
    return _restore(x.astype(np.float64) * 10.0 ** (gain_db / 20.0), x.dtype)


def fix_length(x, length, offset=0):
    """Crop ``x[offset:offset+length]`` or zero-pad at the end to exactly ``length`` samples."""
    x = np.asarray(x)
    if x.size >= length:
        return x[offset:offset + length]
    return np.pad(x, (0, length - x.size))


class WaveAugment:
    """A random chain of waveform augmentations, parameters drawn per clip.

    Each transform runs with its probability ``p_*``, with parameters uniform in the given ranges:
    speed change ``rate ~ U(speed)``, pitch shift ``s ~ U(semitones)``, background noise from
    ``noise_clips`` at ``SNR ~ U(snr_db)`` (white noise when no clips are given), gain ``g ~ U(gain_db)``,
    time shift ``k ~ U(-max_shift, max_shift) * N``. ``seed`` seeds a ``numpy.random.Generator``.
    The ranges obey the functions' limits (module docstring): ``speed`` within [0.25, 4], ``semitones``
    within [-24, 24], ``snr_db`` and ``gain_db`` within [-100, 100] dB.
    """

    def __init__(self, speed=(0.9, 1.1), p_speed=0.5, semitones=(-2.0, 2.0), p_pitch=0.3,
                 snr_db=(10.0, 30.0), p_noise=0.5, noise_clips=None, gain_db=(-6.0, 6.0), p_gain=0.5,
                 max_shift=0.1, p_shift=0.5, seed=None):
        self.p_speed, self.p_pitch, self.p_noise, self.p_gain, self.p_shift = (
            check_probability(name, value) for name, value in (
                ("p_speed", p_speed), ("p_pitch", p_pitch), ("p_noise", p_noise), ("p_gain", p_gain),
                ("p_shift", p_shift)))
        self.speed = check_pair("speed", speed, *RATE_RANGE)
        self.semitones = check_pair("semitones", semitones, *SEMITONE_RANGE)
        self.snr_db = check_pair("snr_db", snr_db, *DB_RANGE)
        self.noise_clips = [_check_wave(c, f"noise_clips[{i}]") for i, c in enumerate(noise_clips)] \
            if noise_clips is not None else None
        self.gain_db = check_pair("gain_db", gain_db, *DB_RANGE)
        self.max_shift = check_number("max_shift", max_shift, 0.0, 1.0, high_open=True)
        self.rng = np.random.default_rng(check_seed("seed", seed))

    def __call__(self, x, rng=None):
        """Augment one clip; ``rng`` (a Generator or seed) overrides the instance's generator, which
        lets a parallel ``tf.data`` map stay reproducible."""
        rng = self.rng if rng is None else _rng(rng)
        y = _check_wave(x)
        if rng.random() < self.p_speed:
            y = change_speed(y, rng.uniform(*self.speed))
        if rng.random() < self.p_pitch:
            y = pitch_shift(y, rng.uniform(*self.semitones))
        if rng.random() < self.p_noise:
            snr = rng.uniform(*self.snr_db)
            if self.noise_clips:
                y = add_background_noise(y, self.noise_clips[rng.integers(len(self.noise_clips))], snr, rng)
            else:
                y = add_white_noise(y, snr, rng)
        if rng.random() < self.p_gain:
            y = apply_gain(y, rng.uniform(*self.gain_db))
        if rng.random() < self.p_shift:
            k = int(round(rng.uniform(-self.max_shift, self.max_shift) * y.size))
            y = time_shift(y, k)
        return y
