"""Waveform augmentation: dtype and length kept, speed change scales duration and frequency, pitch shift
scales frequency at fixed length, SNR within 0.5 dB of the target, gain and shift exact."""
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
    with pytest.raises(ValueError, match=r"rate must be a finite number in \(0, inf\), got 0.0"):
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
    with pytest.raises(ValueError, match=r"speed must be a pair \(lo, hi\) with 0 < lo <= hi, got \(0.0, 1.0\)"):
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
