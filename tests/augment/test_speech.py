"""Waveform augmentation: dtype and length kept, speed change scales duration and frequency, pitch shift
scales frequency at fixed length, SNR within 0.5 dB of the target, gain and shift exact."""
import re

import numpy as np
import pytest

from augment.speech import (WaveAugment, add_background_noise, add_white_noise, apply_gain, change_speed,
                            fix_length, pitch_shift, snr_db, time_shift, time_stretch)

SR = 8000


def sine(freq, seconds=1.0, amp=0.5, dtype=np.float32):
    t = np.arange(int(SR * seconds)) / SR
    x = amp * np.sin(2 * np.pi * freq * t)
    return (x * 32767).astype(dtype) if np.issubdtype(dtype, np.integer) else x.astype(dtype)


def peak_hz(y):
    spectrum = np.abs(np.fft.rfft(y.astype(np.float64) * np.hanning(y.size)))
    return np.argmax(spectrum) * SR / y.size


DTYPES = [np.float32, np.float64, np.int16]
OPS = {
    "white_noise": lambda x: add_white_noise(x, 15.0, rng=0),
    "background": lambda x: add_background_noise(x, sine(1234.0, 0.3, dtype=x.dtype), 15.0, rng=0),
    "pitch": lambda x: pitch_shift(x, 3.0),
    "shift": lambda x: time_shift(x, -300),
    "gain": lambda x: apply_gain(x, -4.0),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", sorted(OPS))
def test_ops_keep_dtype_and_length(op, dtype):
    x = sine(440.0, 0.7, dtype=dtype)
    y = OPS[op](x)
    assert y.dtype == x.dtype and y.shape == x.shape
    assert not np.array_equal(y, x)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rate", [0.8, 1.25, 1.5])
def test_speed_change_scales_duration_and_frequency(rate, dtype):
    x = sine(400.0, 1.0, dtype=dtype)
    y = change_speed(x, rate)
    assert y.dtype == x.dtype and y.size == round(x.size / rate)  # duration / rate, exactly
    # every frequency times rate; tolerance: one FFT bin = SR / len(y) Hz
    assert abs(peak_hz(y) - 400.0 * rate) <= SR / y.size


@pytest.mark.parametrize("semitones", [-12, -3, 2, 7, 12])
def test_pitch_shift_scales_frequency_at_fixed_length(semitones):
    x = sine(300.0, 1.0)
    y = pitch_shift(x, semitones)
    assert y.shape == x.shape
    # tolerance: one FFT bin (1 Hz) plus 0.2 % for the resampling ratio's rational approximation
    target = 300.0 * 2 ** (semitones / 12)
    assert abs(peak_hz(y) - target) <= 1.0 + 0.002 * target


def test_time_stretch_changes_duration_not_pitch():
    x = sine(500.0, 1.0)
    y = time_stretch(x, 0.8)
    assert y.size == 10000 and abs(peak_hz(y) - 500.0) <= SR / y.size


@pytest.mark.parametrize("dtype", [np.float32, np.int16])
@pytest.mark.parametrize("snr", [0.0, 10.0, 20.0, 35.0])
def test_white_and_background_noise_hit_the_target_snr(snr, dtype):
    rng = np.random.default_rng(0)
    x = (sine(220.0, 0.6, amp=0.3) + 0.05 * rng.standard_normal(4800)).astype(np.float32)
    if dtype is np.int16:
        x = (x * 32767).astype(np.int16)
    for seed in range(5):
        y = add_white_noise(x, snr, rng=seed)
        # the rescaled noise has exactly the target power; int16 rounding adds < 0.01 dB at these levels
        assert abs(snr_db(x, y.astype(np.float64) - x) - snr) < 0.5
        noise = (rng.standard_normal(1500) * (3000 if dtype is np.int16 else 0.1)).astype(dtype)
        z = add_background_noise(x, noise, snr, rng=seed)
        assert abs(snr_db(x, z.astype(np.float64) - x) - snr) < 0.5


def test_gain_and_shift_are_exact():
    x = sine(300.0, 0.5)
    y = apply_gain(x, 6.0)
    np.testing.assert_allclose(y, x * 10 ** (6 / 20), rtol=1e-6)
    s = time_shift(x, 100)
    np.testing.assert_array_equal(s[100:], x[:-100])
    assert np.all(s[:100] == 0)
    np.testing.assert_array_equal(time_shift(x, 100, rollover=True), np.roll(x, 100))
    assert fix_length(x, 10).size == 10 and fix_length(x, 5000).size == 5000


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"rate must be a finite number in \[0.25, 4\], got 0.0"):
        change_speed(sine(100.0), 0.0)
    with pytest.raises(ValueError, match=r"x must be a 1-D waveform, got shape \(2, 10\)"):
        add_white_noise(np.zeros((2, 10)), 10.0)
    with pytest.raises(ValueError, match="snr must be a finite number .*, got nan"):
        add_white_noise(sine(100.0), float("nan"))
    with pytest.raises(ValueError, match="noise must be a non-silent clip"):
        add_background_noise(sine(100.0), np.zeros(10), 10.0)
    with pytest.raises(ValueError, match="hop must divide n_fft=256, got 60"):
        time_stretch(sine(100.0), 1.1, hop=60)
    with pytest.raises(TypeError, match=r"shift must be an integer in \(-inf, inf\), got 2.5"):
        time_shift(sine(100.0), 2.5)
    with pytest.raises(ValueError, match=r"p_noise must be a finite number in \[0, 1\], got 1.5"):
        WaveAugment(p_noise=1.5)
    with pytest.raises(ValueError, match=r"speed\[0\] must be a finite number in \[0.25, 4\], got 0.0"):
        WaveAugment(speed=(0.0, 1.0))
    with pytest.raises(ValueError, match=r"gain_db must be a pair \(lo, hi\) with lo <= hi, got \(6, -6\)"):
        WaveAugment(gain_db=(6, -6))
    with pytest.raises(ValueError, match=r"max_shift must be a finite number in \[0, 1\), got 1.0"):
        WaveAugment(max_shift=1.0)


def test_wave_augment_seeded_and_random_per_clip():
    x = sine(300.0, 0.5)
    a = [WaveAugment(seed=3)(x) for _ in range(2)]
    np.testing.assert_array_equal(a[0], a[1])
    aug = WaveAugment(p_speed=1.0, p_noise=1.0, seed=4)
    outs = [aug(x) for _ in range(6)]
    assert len({o.size for o in outs}) > 1  # a new speed per clip
    np.testing.assert_array_equal(WaveAugment()(x, rng=7), WaveAugment()(x, rng=7))
    assert all(o.dtype == x.dtype for o in outs)


# ------------------------------------------------------------------------------ limits (issue 15)

WAVE_FUNCTIONS = {
    "white_noise": lambda x: add_white_noise(x, 15.0, rng=0),
    "background": lambda x: add_background_noise(x, sine(1234.0, 0.3), 15.0, rng=0),
    "speed": lambda x: change_speed(x, 1.1),
    "stretch": lambda x: time_stretch(x, 1.2),
    "pitch": lambda x: pitch_shift(x, 2.0),
    "shift": lambda x: time_shift(x, 10),
    "gain": lambda x: apply_gain(x, 3.0),
    "chain": lambda x: WaveAugment(p_speed=1.0, p_pitch=1.0, p_noise=1.0, p_gain=1.0, p_shift=1.0, seed=0)(x),
}


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("op", sorted(WAVE_FUNCTIONS))
def test_non_finite_audio_is_rejected_naming_it(op, bad):
    """One NaN sample made the whole clip NaN through the noise power, the STFT and the resampling filter."""
    x = sine(440.0, 0.5)
    x[100] = bad
    with pytest.raises(ValueError, match=re.escape(f"x must be finite (no NaN or inf), got {float(bad)!r} at index (100,)")):
        WAVE_FUNCTIONS[op](x)


def test_non_finite_noise_is_rejected_naming_it():
    noise = sine(1234.0, 0.3)
    noise[7] = np.nan
    with pytest.raises(ValueError, match=re.escape("noise must be finite (no NaN or inf), got nan at index (7,)")):
        add_background_noise(sine(440.0, 0.5), noise, 10.0)
    with pytest.raises(ValueError, match=re.escape("noise_clips[1] must be finite (no NaN or inf), got nan")):
        WaveAugment(noise_clips=[sine(1234.0, 0.3), noise])


@pytest.mark.parametrize("op", sorted(WAVE_FUNCTIONS))
def test_empty_audio_is_rejected_naming_it(op):
    """The documented choice: an empty clip is an error, not passed through (pitch_shift raised
    ZeroDivisionError, change_speed returned one zero sample, a pipeline would pad it to a silent example)."""
    with pytest.raises(ValueError, match=re.escape("x must hold at least one sample, got an empty waveform (shape (0,))")):
        WAVE_FUNCTIONS[op](np.zeros(0, np.float32))


@pytest.mark.parametrize("rate", [0.1, 5.0, 1e-6])  # 1e-6 last: before the bound it asked for 59.7 GiB
def test_speed_factor_is_bounded(rate):
    x = sine(440.0, 0.25)
    needle = re.escape(f"rate must be a finite number in [0.25, 4], got {rate!r}")
    with pytest.raises(ValueError, match=needle):
        change_speed(x, rate)
    with pytest.raises(ValueError, match=needle):
        time_stretch(x, rate)
    with pytest.raises(ValueError, match=re.escape("speed[0] must be a finite number in [0.25, 4]")):
        WaveAugment(speed=(rate, 4.0) if rate < 4 else (rate, rate))


def test_speed_and_pitch_limits_are_usable_down_to_one_sample():
    """At the limits, and on a one-sample clip (pitch_shift by -24 semitones divided by a stretched length 0)."""
    for n in (1, 5, 800):
        x = sine(440.0, n / SR) + 0.1
        for rate in (0.25, 4.0):
            assert change_speed(x, rate).size == max(1, round(n / rate))
            assert time_stretch(x, rate).size == max(1, round(n / rate))
        for semitones in (-24.0, 24.0):
            y = pitch_shift(x, semitones)
            assert y.shape == x.shape and np.isfinite(y).all()
    with pytest.raises(ValueError, match=re.escape("semitones must be a finite number in [-24, 24], got 25.0")):
        pitch_shift(sine(440.0, 0.1), 25.0)
    with pytest.raises(ValueError, match=re.escape("semitones[1] must be a finite number in [-24, 24], got 30")):
        WaveAugment(semitones=(-2, 30))


@pytest.mark.parametrize("dtype", [np.float32, np.int16])
def test_snr_and_gain_are_bounded_and_nan_is_rejected(dtype):
    """snr = -1000 dB or gain = 1000 dB overflowed float32 to inf; NaN was (and is) rejected, naming it."""
    x = sine(440.0, 0.25, dtype=dtype)
    for snr, needle in ((-1000.0, "got -1000.0"), (1000.0, "got 1000.0"), (np.nan, "got nan")):
        with pytest.raises(ValueError, match=re.escape("snr must be a finite number in [-100, 100], ") + needle):
            add_white_noise(x, snr)
        with pytest.raises(ValueError, match=re.escape("snr must be a finite number in [-100, 100], ") + needle):
            add_background_noise(x, sine(1234.0, 0.3, dtype=dtype), snr)
        with pytest.raises(ValueError, match=re.escape("gain_db must be a finite number in [-100, 100], ") + needle):
            apply_gain(x, snr)
    for limit in (-100.0, 100.0):  # the limits themselves stay finite (int16 clips at its range)
        assert np.isfinite(add_white_noise(x, limit, rng=0).astype(np.float64)).all()
        assert np.isfinite(apply_gain(x, limit).astype(np.float64)).all()
    with pytest.raises(ValueError, match=re.escape("snr_db[0] must be a finite number in [-100, 100], got -200")):
        WaveAugment(snr_db=(-200, 10))


def test_log_mel_rejects_non_finite_waves():
    tf = pytest.importorskip("tensorflow")
    from augment.speech_pipeline import log_mel_spectrogram

    waves = np.stack([sine(440.0, 0.5), sine(300.0, 0.5)])
    assert np.isfinite(log_mel_spectrogram(waves).numpy()).all()
    waves[1, 77] = np.nan
    with pytest.raises(ValueError, match=re.escape("waves must be finite (no NaN or inf), got nan at index (1, 77)")):
        log_mel_spectrogram(waves)
    with pytest.raises(ValueError, match="waves must be finite"):
        log_mel_spectrogram(tf.constant(waves))
    ds = tf.data.Dataset.from_tensors(waves).map(log_mel_spectrogram)  # in a graph: an in-graph assertion
    with pytest.raises(tf.errors.InvalidArgumentError, match=re.escape("waves must be finite (no NaN or inf)")):
        next(iter(ds))
