"""Edge cases of the CIFAR-10 folder loader ("the run folder is a transaction"): 16-bit PNGs, hidden folders and
files, edits that keep size and mtime, sizes checked before any work, unusable cache folders, concurrent writers."""
import os
import pathlib
import re
import struct
import subprocess
import sys
import tempfile
import warnings
import zlib

import numpy as np
import pytest

from recipes.data import cifar10
from tests.helpers import write_image_folder


def _write_png16(path, values, color_type):
    """A minimal 16-bit PNG writer (PIL cannot write 48/64-bit color): ``color_type`` 0 gray, 2 RGB, 4 gray+alpha,
    6 RGBA; ``values`` (h, w[, c]) in 0..65535; every row with filter type 0, one IDAT chunk."""
    values = np.asarray(values, dtype=">u2")
    height, width = values.shape[:2]
    raw = b"".join(b"\x00" + values[row].tobytes() for row in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0)
    pathlib.Path(path).write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
                                   + chunk(b"IEND", b""))


def _to_8bit(values):
    """The documented scaling: round(v · 255 / 65535)."""
    return np.floor(np.asarray(values, dtype=np.float64) * 255 / 65535 + 0.5).astype(np.uint8)


def _folder_order(n, seed):
    return np.random.default_rng(seed).permutation(n)


def _no_decoding(monkeypatch):
    monkeypatch.setattr(cifar10, "_decode", lambda *a, **k: pytest.fail("decoded an image"))


# ------------------------------------------------------------------------------------------------------------
# 16-bit PNGs


def test_16bit_pngs_decode_exactly(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(5)
    root = tmp_path / "data"
    expected = []  # folder order: sorted class names, sorted file names
    for split in ("train", "test"):
        for name in ("a", "b"):
            (root / split / name).mkdir(parents=True)
    folder = root / "train" / "a"
    gray = rng.integers(0, 65536, (32, 32), dtype=np.uint16)
    gray[0, :4] = [0, 128, 129, 65535]  # the rounding edges: 128 -> 0, 129 -> 1
    Image.fromarray(gray).save(folder / "0_gray16.png")  # PIL writes mode I;16 as a 16-bit grayscale PNG
    assert Image.open(folder / "0_gray16.png").mode == "I;16"
    expected.append(np.repeat(_to_8bit(gray)[..., None], 3, axis=-1))
    rgb = rng.integers(0, 65536, (32, 32, 3))
    _write_png16(folder / "1_rgb48.png", rgb, 2)
    expected.append(_to_8bit(rgb))
    rgba = rng.integers(0, 65536, (32, 32, 4))
    _write_png16(folder / "2_rgba64.png", rgba, 6)
    expected.append(_to_8bit(rgba[..., :3]))  # alpha dropped, as for 8-bit RGBA
    gray_alpha = rng.integers(0, 65536, (32, 32, 2))
    _write_png16(folder / "3_gray_alpha32.png", gray_alpha, 4)
    expected.append(np.repeat(_to_8bit(gray_alpha[..., :1]), 3, axis=-1))
    plain = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)  # an 8-bit image in the same folder: unchanged
    Image.fromarray(plain).save(root / "train" / "b" / "plain.png")
    expected.append(plain)
    for name in ("a", "b"):
        Image.fromarray(plain).save(root / "test" / name / "t.png")

    (x, y), _ = cifar10.load_cifar10(root, cache_dir=tmp_path / "cache")
    order = _folder_order(5, 0)
    np.testing.assert_array_equal(x, np.stack(expected)[order])
    np.testing.assert_array_equal(y, np.array([0, 0, 0, 0, 1])[order])


def test_deeper_than_8_bit_images_other_than_png_are_refused_naming_the_file(tmp_path):
    from PIL import Image

    write_image_folder(tmp_path / "data", n_train=1, n_test=1)
    bad = tmp_path / "data" / "train" / "cat" / "float.png"
    Image.fromarray(np.full((32, 32), 1000.0, dtype=np.float32)).save(bad, format="TIFF")  # content: a float TIFF
    with pytest.raises(ValueError, match=r"float\.png.*8 bits"):
        cifar10.load_cifar10(tmp_path / "data", cache_dir=tmp_path / "cache")


def test_corrupt_16bit_png_is_named(tmp_path):
    write_image_folder(tmp_path / "data", n_train=1, n_test=1)
    bad = tmp_path / "data" / "train" / "cat" / "deep.png"
    _write_png16(bad, np.zeros((32, 32, 3)), 2)
    data = bad.read_bytes()
    bad.write_bytes(data[:60])  # cut inside the IDAT chunk
    with pytest.raises(ValueError, match=r"deep\.png"):
        cifar10.load_cifar10(tmp_path / "data", cache_dir=tmp_path / "cache")


# ------------------------------------------------------------------------------------------------------------
# hidden folders and files


def test_hidden_folders_and_files_are_ignored(tmp_path):
    from PIL import Image

    written = write_image_folder(tmp_path / "data", n_train=3, n_test=2)
    junk = np.zeros((32, 32, 3), dtype=np.uint8)
    for split in ("train", "test"):
        hidden = tmp_path / "data" / split / ".ipynb_checkpoints"
        hidden.mkdir()
        Image.fromarray(junk).save(hidden / "cat_0000-checkpoint.png")
        Image.fromarray(junk).save(tmp_path / "data" / split / "dog" / ".dog_0000.png")
        (tmp_path / "data" / split / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (tmp_path / "data" / "train" / ".only_in_train").mkdir()  # not a class: train/ and test/ still agree

    (x_tr, y_tr), (x_te, y_te) = cifar10.load_cifar10(tmp_path / "data", cache_dir=tmp_path / "cache")
    order = _folder_order(9, 0)
    np.testing.assert_array_equal(y_tr, written["train"][1][order])  # cat = 0, dog = 1, ship = 2: not shifted
    np.testing.assert_array_equal(x_tr, written["train"][0][order])
    np.testing.assert_array_equal(y_te, written["test"][1][_folder_order(6, 1)])


def test_fsdd_listing_ignores_hidden_files(tmp_path):
    speech_pipeline = pytest.importorskip("augment.speech_pipeline")
    for name in ("0_jackson_0.wav", "1_theo_5.wav", "._0_jackson_1.wav", ".0_jackson_2.wav"):
        (tmp_path / name).write_bytes(b"RIFF")
    (tmp_path / ".ipynb_checkpoints").mkdir()
    (tmp_path / ".ipynb_checkpoints" / "2_theo_0.wav").write_bytes(b"RIFF")
    rows = speech_pipeline.fsdd_files(tmp_path)
    assert [pathlib.Path(r[0]).name for r in rows] == ["0_jackson_0.wav", "1_theo_5.wav"]


# ------------------------------------------------------------------------------------------------------------
# the cache key covers the content


def test_edit_with_same_size_and_mtime_invalidates_cache(tmp_path):
    from PIL import Image

    write_image_folder(tmp_path / "data", n_train=2, n_test=1)
    target = tmp_path / "data" / "train" / "dog" / "dog_0001.png"
    old = np.full((32, 32, 3), 10, dtype=np.uint8)
    Image.fromarray(old).save(target, compress_level=0)  # stored blocks: the size depends only on the shape
    (x1, _), _ = cifar10.load_cifar10(tmp_path / "data", cache_dir=tmp_path / "cache")
    stat = target.stat()
    new = np.full((32, 32, 3), 200, dtype=np.uint8)
    Image.fromarray(new).save(target, compress_level=0)
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert target.stat().st_size == stat.st_size and target.stat().st_mtime_ns == stat.st_mtime_ns
    (x2, _), _ = cifar10.load_cifar10(tmp_path / "data", cache_dir=tmp_path / "cache")
    position = int(np.flatnonzero(_folder_order(6, 0) == 3)[0])  # dog_0001 is the 4th file of the folder order
    np.testing.assert_array_equal(x1[position], old)
    np.testing.assert_array_equal(x2[position], new)


def test_empty_class_folder_changes_the_labels_and_the_cache_key(tmp_path):
    write_image_folder(tmp_path / "data", n_train=2, n_test=1)
    (_, y1), _ = cifar10.load_cifar10(tmp_path / "data", cache_dir=tmp_path / "cache")
    for split in ("train", "test"):
        (tmp_path / "data" / split / "aardvark").mkdir()  # an empty class folder sorts first: labels move by one
    (_, y2), _ = cifar10.load_cifar10(tmp_path / "data", cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(y2, y1 + 1)


# ------------------------------------------------------------------------------------------------------------
# sizes: checked from the folder listing, before anything is decoded or written


def test_batch_size_is_checked_before_decoding_or_writing(tmp_path, monkeypatch):
    monkeypatch.delenv("RECIPES_DATA", raising=False)
    write_image_folder(tmp_path / "data", n_train=4, n_test=1)  # 12 training images
    cache = tmp_path / "cache"
    cache.mkdir()
    _no_decoding(monkeypatch)
    for kwargs, needle in (
        (dict(batch_size=13), "--batch-size must be <= the number of training images (12), got 13"),
        (dict(batch_size=8, train_limit=10, val_size=3),
         "--batch-size must be <= the number of training images (7), got 8"),
        (dict(batch_size=8, train_limit=100, val_size=5),
         "--batch-size must be <= the number of training images (7), got 8"),
        (dict(val_size=12), "--val-size must be < the number of training images (12), got 12"),
        (dict(batch_size=0), "--batch-size must be an integer >= 1, got 0"),
        (dict(batch_size=2.0), "--batch-size must be an integer >= 1, got 2.0"),
        (dict(batch_size=True), "--batch-size must be an integer >= 1, got True"),
    ):
        with pytest.raises(ValueError, match=re.escape(needle)):
            cifar10.prepare_cifar10(tmp_path / "data", cache_dir=cache, **kwargs)
        assert list(cache.iterdir()) == [], kwargs
    monkeypatch.undo()
    monkeypatch.delenv("RECIPES_DATA", raising=False)
    splits = cifar10.prepare_cifar10(tmp_path / "data", cache_dir=cache, train_limit=10, val_size=3, batch_size=7)
    assert len(splits.train[1]) == 7


def test_batch_size_is_checked_on_the_download_route_too(monkeypatch):
    x = np.zeros((20, 32, 32, 3), dtype=np.uint8)
    y = np.arange(20) % 10
    monkeypatch.setattr(cifar10, "resolve_data_dir", lambda *a, **k: None)
    monkeypatch.setattr(cifar10, "load_cifar10", lambda *a, **k: ((x, y), (x, y)))
    with pytest.raises(ValueError, match=re.escape("--batch-size must be <= the number of training images (10), "
                                                   "got 11")):
        cifar10.prepare_cifar10(None, val_size=10, batch_size=11)
    assert len(cifar10.prepare_cifar10(None, val_size=10, batch_size=10).train[1]) == 10


# ------------------------------------------------------------------------------------------------------------
# the cache folder


@pytest.mark.parametrize("shape", ["file", "under_a_file"])
def test_cache_dir_that_is_no_folder_is_refused_before_decoding(tmp_path, monkeypatch, shape):
    write_image_folder(tmp_path / "data", n_train=1, n_test=1)
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    cache = blocker if shape == "file" else blocker / "cache"
    _no_decoding(monkeypatch)
    with pytest.raises(ValueError, match=re.escape(f"--cache-dir must be a folder") + ".*" + re.escape(str(cache))):
        cifar10.load_cifar10(tmp_path / "data", cache_dir=cache)
    assert blocker.read_text() == "not a folder"


def _unwritable_folder():
    """A folder in which even root cannot create files (sysfs), or None."""
    for folder in ("/sys", "/proc"):
        if os.path.isdir(folder):
            try:
                fd, name = tempfile.mkstemp(dir=folder)
            except OSError:
                return pathlib.Path(folder)
            os.close(fd)
            os.unlink(name)
    return None


def test_unwritable_cache_dir_is_refused_before_decoding(tmp_path, monkeypatch):
    folder = _unwritable_folder()
    if folder is None:
        pytest.skip("no folder here refuses new files to this user")
    write_image_folder(tmp_path / "data", n_train=1, n_test=1)
    _no_decoding(monkeypatch)
    for cache in (folder, folder / "keras-recipes-cache"):
        with pytest.raises(ValueError, match=re.escape(f"--cache-dir must be a folder we can create files in, "
                                                       f"got {cache}")):
            cifar10.load_cifar10(tmp_path / "data", cache_dir=cache)


def test_unwritable_cache_dir_still_serves_a_cached_entry(tmp_path, monkeypatch):
    write_image_folder(tmp_path / "data", n_train=1, n_test=1)
    (x1, _), _ = cifar10.load_cifar10(tmp_path / "data", cache_dir=tmp_path / "cache")
    _no_decoding(monkeypatch)
    monkeypatch.setattr(cifar10.tempfile, "mkstemp", lambda *a, **k: pytest.fail("probed although cached"))
    (x2, _), _ = cifar10.load_cifar10(tmp_path / "data", cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(x1, x2)


def test_cache_write_failure_warns_once_and_trains_without_cache(tmp_path, monkeypatch):
    written = write_image_folder(tmp_path / "data", n_train=2, n_test=1)
    cache = tmp_path / "cache"

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cifar10.os, "replace", full_disk)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (x, y), _ = cifar10.load_cifar10(tmp_path / "data", cache_dir=cache)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1 and "No space left on device" in messages[0] and "without caching" in messages[0]
    order = _folder_order(6, 0)
    np.testing.assert_array_equal(x, written["train"][0][order])
    assert list(cache.iterdir()) == []  # no temporaries left behind


def test_unreadable_cache_entry_is_decoded_again(tmp_path):
    written = write_image_folder(tmp_path / "data", n_train=2, n_test=1)
    cache = tmp_path / "cache"
    cifar10.load_cifar10(tmp_path / "data", cache_dir=cache)
    (entry,) = cache.glob("*-xtrain.npy")
    entry.write_bytes(entry.read_bytes()[:100])  # e.g. lost in a power cut after the rename
    with pytest.warns(RuntimeWarning, match="decoding again"):
        (x, _), _ = cifar10.load_cifar10(tmp_path / "data", cache_dir=cache)
    np.testing.assert_array_equal(x, written["train"][0][_folder_order(6, 0)])
    assert entry.stat().st_size > 100  # rewritten


# ------------------------------------------------------------------------------------------------------------
# a cache entry written by another process cannot be half-read


def test_half_written_entries_of_another_writer_are_not_read(tmp_path, monkeypatch):
    """Another process was killed (or is still busy) mid-write: its temporaries and a partial set of entries are
    there; the reader decodes instead of reading them."""
    written = write_image_folder(tmp_path / "data", n_train=2, n_test=1)
    cache = tmp_path / "cache"
    cifar10.load_cifar10(tmp_path / "data", cache_dir=cache)
    entries = sorted(cache.iterdir())
    assert len(entries) == 4 and all(e.name.endswith(".npy") for e in entries)
    xtest = next(e for e in entries if e.name.endswith("-xtest.npy"))
    partial = xtest.read_bytes()[: xtest.stat().st_size // 2]
    xtest.unlink()  # the other writer has not renamed this one yet: only its half-written temporary exists
    (cache / f"{xtest.name}.tmp-99999-abc").write_bytes(partial)
    (x_tr, _), (x_te, _) = cifar10.load_cifar10(tmp_path / "data", cache_dir=cache)
    np.testing.assert_array_equal(x_tr, written["train"][0][_folder_order(6, 0)])
    np.testing.assert_array_equal(x_te, written["test"][0][_folder_order(3, 1)])


def test_entries_rewritten_by_another_process_while_we_read_are_whole(tmp_path, monkeypatch):
    """A second process rewrites the four entries in a loop while this one reads them 40 times: every read sees
    whole arrays equal to the decoded ones, never a truncated file (so never a decode nor a warning)."""
    repo = pathlib.Path(__file__).resolve().parents[2]
    write_image_folder(tmp_path / "data", n_train=150, n_test=30)  # 450 training images: 1.4 MB to rewrite
    cache = tmp_path / "cache"
    (x_tr, y_tr), (x_te, y_te) = cifar10.load_cifar10(tmp_path / "data", cache_dir=cache)
    names = sorted(str(p) for p in cache.glob("*.npy"))
    go, stop = tmp_path / "go", tmp_path / "stop"
    writer = subprocess.Popen([sys.executable, "-c", f"""
import os, sys, numpy as np
sys.path.insert(0, {str(repo)!r})
from recipes.data import cifar10
names = {names!r}
values = [np.load(n) for n in names]
rounds = 0
open({str(go)!r}, "w").close()
while not os.path.exists({str(stop)!r}):
    cifar10._write_cache(names, values)
    rounds += 1
print(rounds)
"""], stdout=subprocess.PIPE, text=True)
    try:
        for _ in range(600):
            if go.exists() or writer.poll() is not None:
                break
            import time
            time.sleep(0.05)
        assert go.exists(), "the writer process did not start"
        _no_decoding(monkeypatch)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            for _ in range(40):
                (a, b), (c, d) = cifar10.load_cifar10(tmp_path / "data", cache_dir=cache)
                np.testing.assert_array_equal(a, x_tr)
                np.testing.assert_array_equal(b, y_tr)
                np.testing.assert_array_equal(c, x_te)
                np.testing.assert_array_equal(d, y_te)
    finally:
        stop.touch()
        out, _ = writer.communicate(timeout=60)
    assert writer.returncode == 0 and int(out) > 0
    assert sorted(p.name for p in cache.iterdir()) == sorted(os.path.basename(n) for n in names)


def test_fsdd_clips_of_the_augmentation_benchmark_skip_hidden_files(tmp_path):
    from scipy.io import wavfile

    from recipes.commands import bench_augment as bench

    for i, name in enumerate(("0_jackson_0.wav", "1_theo_5.wav")):
        wavfile.write(tmp_path / name, 8000, np.full(80, 1000 * (i + 1), dtype=np.int16))
    (tmp_path / "._0_jackson_0.wav").write_bytes(b"\0\5\26\7 AppleDouble resource fork")  # macOS metadata
    clips = bench.load_fsdd_clips(tmp_path, 3000)  # n = 3000: every file (the benchmark takes every 3000 // n-th)
    assert [round(float(c[0]) * 32768) for c in clips] == [1000, 2000]
