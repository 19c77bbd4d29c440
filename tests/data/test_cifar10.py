import logging
import re
import time

import numpy as np
import pytest

from recipes.data import cifar10
from tests.helpers import write_image_folder


def test_folder_loader_decodes_exactly_and_caches(tmp_path, monkeypatch):
    written = write_image_folder(tmp_path / "data", n_train=6, n_test=3)
    (x_tr, y_tr), (x_te, y_te) = cifar10.load_cifar10(tmp_path / "data", cache_dir=tmp_path / "cache")
    assert x_tr.dtype == np.uint8 and x_tr.shape == (18, 32, 32, 3) and y_tr.dtype == np.int64
    # pixel-exact PNG round trip; the test split is a fixed permutation of the folder order (seed 1)
    test_order = np.random.default_rng(1).permutation(9)
    np.testing.assert_array_equal(x_te, written["test"][0][test_order])
    np.testing.assert_array_equal(y_te, written["test"][1][test_order])
    # the training split is a fixed permutation of the folder order (seed 0)
    order = np.random.default_rng(0).permutation(18)
    np.testing.assert_array_equal(x_tr, written["train"][0][order])
    np.testing.assert_array_equal(y_tr, written["train"][1][order])
    # second call: served from the cache, nothing decoded
    monkeypatch.setattr(cifar10, "_decode", lambda *a, **k: pytest.fail("decoded again despite the cache"))
    (x2, y2), _ = cifar10.load_cifar10(tmp_path / "data", cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(x2, x_tr)
    np.testing.assert_array_equal(y2, y_tr)


def test_folder_change_invalidates_cache(tmp_path):
    write_image_folder(tmp_path / "data", n_train=2, n_test=1)
    (x1, _), _ = cifar10.load_cifar10(tmp_path / "data", cache_dir=tmp_path / "cache")
    write_image_folder(tmp_path / "data", n_train=3, n_test=1, seed=1)  # adds a file per class, rewrites others
    (x2, _), _ = cifar10.load_cifar10(tmp_path / "data", cache_dir=tmp_path / "cache")
    assert len(x1) == 6 and len(x2) == 9


def test_corrupt_and_non_image_files_are_named(tmp_path):
    write_image_folder(tmp_path / "data", n_train=2, n_test=1)
    bad = tmp_path / "data" / "train" / "cat" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(ValueError, match="broken.png"):
        cifar10.load_cifar10(tmp_path / "data", cache_dir=tmp_path / "cache")
    bad.unlink()
    notes = tmp_path / "data" / "test" / "dog" / "notes.txt"
    notes.write_text("hello")
    with pytest.raises(ValueError, match="notes.txt"):
        cifar10.load_cifar10(tmp_path / "data", cache_dir=tmp_path / "cache")


def test_missing_folder_and_missing_split(tmp_path):
    with pytest.raises(FileNotFoundError, match="--data-dir"):
        cifar10.load_cifar10(tmp_path / "nowhere")
    (tmp_path / "only" / "train" / "cat").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="test/"):
        cifar10.load_cifar10(tmp_path / "only", cache_dir=tmp_path / "cache")


def test_wrong_image_size_is_named(tmp_path):
    write_image_folder(tmp_path / "data", n_train=1, n_test=1, size=16)
    with pytest.raises(ValueError, match=r"shape \(16, 16, 3\)"):
        cifar10.load_cifar10(tmp_path / "data", cache_dir=tmp_path / "cache")


def test_tfds_path_with_mock_data(tmp_path, monkeypatch):
    import tensorflow_datasets as tfds

    monkeypatch.setattr(cifar10, "_network_reachable", lambda *a, **k: True)
    with tfds.testing.mock_data(num_examples=12):
        (x_tr, y_tr), (x_te, y_te) = cifar10.load_cifar10(tfds_data_dir=str(tmp_path))
    assert x_tr.shape == (12, 32, 32, 3) and x_tr.dtype == np.uint8
    assert x_te.shape == (12, 32, 32, 3)
    assert y_tr.dtype == np.int64 and y_tr.min() >= 0 and y_tr.max() < 10


def test_offline_tfds_fails_fast_naming_data_dir(tmp_path, monkeypatch, caplog):
    """... and the probe for a prepared copy does not log tensorflow-datasets' misleading "Variant folder ... has
    no dataset_info.json" warning (tfds itself does, for the same empty folder)."""
    import tensorflow_datasets as tfds

    monkeypatch.setattr(cifar10, "_network_reachable", lambda *a, **k: False)
    caplog.set_level(logging.WARNING)
    for name in ("absl", "tensorflow"):  # a command run in-process earlier (cli.setup) may have set them to ERROR
        caplog.set_level(logging.WARNING, logger=name)
    start = time.time()
    with pytest.raises(cifar10.DataUnavailableError, match="--data-dir"):
        cifar10.load_cifar10(tfds_data_dir=str(tmp_path))
    assert time.time() - start < 10
    assert not [r for r in caplog.records if "Variant folder" in r.getMessage()]
    assert not tfds.builder("cifar10", data_dir=str(tmp_path)).is_prepared()  # the same probe, unfiltered
    assert [r for r in caplog.records if "has no dataset_info.json" in r.getMessage()]


def test_split_train_val_is_deterministic_stratified_and_disjoint():
    rng = np.random.default_rng(3)
    y = np.repeat(np.arange(10), 50)
    rng.shuffle(y)
    x = np.arange(len(y))  # identity "images" to track membership
    (xs, ys), (xv, yv) = cifar10.split_train_val(x, y, val_size=105, seed=7)
    (xs2, _), (xv2, _) = cifar10.split_train_val(x, y, val_size=105, seed=7)
    np.testing.assert_array_equal(xv, xv2)
    np.testing.assert_array_equal(xs, xs2)
    assert len(xv) == 105 and len(xs) == 395
    assert set(xv).isdisjoint(xs) and set(xv) | set(xs) == set(x)
    counts = np.bincount(yv, minlength=10)
    assert counts.max() - counts.min() <= 1  # stratified: 10 or 11 per class
    np.testing.assert_array_equal(y[xv], yv)  # labels travel with their examples
    (_, _), (xv3, _) = cifar10.split_train_val(x, y, val_size=105, seed=8)
    assert not np.array_equal(xv, xv3)
    with pytest.raises(ValueError, match="val_size"):
        cifar10.split_train_val(x, y, val_size=500)


def test_channel_mean_std_matches_numpy():
    x = np.random.default_rng(0).integers(0, 256, (20, 4, 4, 3)).astype(np.uint8)
    mean, std = cifar10.channel_mean_std(x)
    flat = x.reshape(-1, 3).astype(np.float64)
    np.testing.assert_allclose(mean, flat.mean(0), rtol=1e-12)
    np.testing.assert_allclose(std, flat.std(0), rtol=1e-12)


def test_real_cifar10_folder(cifar10_dir):
    (x_tr, y_tr), (x_te, y_te) = cifar10.load_cifar10(cifar10_dir)
    assert x_tr.shape == (50000, 32, 32, 3) and x_te.shape == (10000, 32, 32, 3)
    assert x_tr.dtype == np.uint8 and x_tr.min() == 0 and x_tr.max() == 255
    np.testing.assert_array_equal(np.bincount(y_tr), [5000] * 10)
    np.testing.assert_array_equal(np.bincount(y_te), [1000] * 10)
    # published CIFAR-10 training statistics (0..255 scale): mean (125.31, 122.95, 113.87), std (62.99, 62.09, 66.70)
    mean, std = cifar10.channel_mean_std(x_tr)
    np.testing.assert_allclose(mean, [125.307, 122.950, 113.865], atol=0.01)
    np.testing.assert_allclose(std, [62.993, 62.089, 66.705], atol=0.01)
    # --train-limit takes a prefix: the fixed shuffle makes it nearly class-balanced
    counts = np.bincount(y_tr[:10000], minlength=10)
    assert counts.min() > 900 and counts.max() < 1100
    counts = np.bincount(y_te[:2000], minlength=10)  # the test set is shuffled too
    assert counts.min() > 150 and counts.max() < 250


def test_prepare_cifar10_cuts_the_sets_of_a_run(tmp_path, monkeypatch):
    from recipes.data.cifar10 import channel_mean_std, prepare_cifar10
    from tests.helpers import write_image_folder

    monkeypatch.delenv("RECIPES_DATA", raising=False)
    write_image_folder(tmp_path / "data", n_train=12, n_test=5, classes=tuple("abcdefghij"))
    s = prepare_cifar10(tmp_path / "data", cache_dir=tmp_path / "cache", train_limit=100, val_size=20,
                        test_limit=30, seed=3)
    assert len(s.train[0]) == 80 and len(s.val[0]) == 20 and len(s.test[0]) == 30
    assert np.bincount(s.val[1], minlength=10).tolist() == [2] * 10  # stratified
    np.testing.assert_allclose(s.mean, channel_mean_std(s.train[0])[0])
    assert s.source == str(tmp_path / "data")
    again = prepare_cifar10(tmp_path / "data", cache_dir=tmp_path / "cache", train_limit=100, val_size=20,
                            test_limit=30, seed=3)
    np.testing.assert_array_equal(again.val[0], s.val[0])  # deterministic
    for kwargs, needle in ((dict(val_size=120), "--val-size must be < the number of training images (120)"),
                           (dict(val_size=-1), "--val-size must be an integer >= 0"),
                           (dict(train_limit=0), "--train-limit must be an integer >= 1"),
                           (dict(test_limit=1.5), "--test-limit must be an integer >= 1")):
        with pytest.raises(ValueError, match=re.escape(needle)):
            prepare_cifar10(tmp_path / "data", cache_dir=tmp_path / "cache", **kwargs)
