"""CIFAR-10 as NumPy shards: a lossless pack of the loader's arrays that reads back as a data folder."""
import json
import subprocess
import sys

import numpy as np
import pytest

from recipes.data import locations
from recipes.data.cifar10 import load_cifar10, prepare_cifar10
from recipes.data.shards import MANIFEST, load_shards, pack_shards
from tests.helpers import write_image_folder


def _arrays(n_train=50, n_test=12, seed=0):
    rng = np.random.default_rng(seed)
    return ((rng.integers(0, 256, (n_train, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, n_train)),
            (rng.integers(0, 256, (n_test, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, n_test)))


def test_pack_respects_the_size_limit_and_reads_back_exactly(tmp_path):
    train, test = _arrays()
    manifest = pack_shards(train, test, tmp_path / "s", max_bytes=60_000)  # ~19 images of 3,073 bytes a shard
    files = sorted(p.name for p in (tmp_path / "s").iterdir())
    assert MANIFEST in files and not [f for f in files if "tmp" in f]
    sizes = [s["bytes"] for s in manifest["shards"]]
    assert max(sizes) <= 60_000 and len([s for s in manifest["shards"] if s["split"] == "train"]) == 3
    assert [s["count"] for s in manifest["shards"] if s["split"] == "train"] == [17, 16, 17]
    (xa, ya), (xb, yb) = load_shards(tmp_path / "s")
    np.testing.assert_array_equal(xa, train[0])
    np.testing.assert_array_equal(ya, train[1])
    np.testing.assert_array_equal(xb, test[0])
    np.testing.assert_array_equal(yb, test[1])
    assert xa.dtype == np.uint8 and ya.dtype == np.int64


def test_missing_or_corrupt_shard_is_named(tmp_path):
    train, test = _arrays(20, 4)
    manifest = pack_shards(train, test, tmp_path / "s", max_bytes=40_000)
    first = tmp_path / "s" / manifest["shards"][0]["file"]
    data = bytearray(first.read_bytes())
    data[-100] ^= 1  # one flipped bit in the pixels
    first.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=f"shard .*{first.name} differs from {MANIFEST}"):
        load_shards(tmp_path / "s")
    (tmp_path / "s" / manifest["shards"][1]["file"]).unlink()
    with pytest.raises(FileNotFoundError, match=f"lacks shard\\(s\\) {manifest['shards'][1]['file']}"):
        load_shards(tmp_path / "s")


def test_shard_folder_is_a_cifar10_data_dir_equal_to_the_png_folder(tmp_path, monkeypatch):
    """pack the PNG folder's arrays; --data-dir on the shards (or on a root holding them as cifar10/) gives the
    same arrays, so the same run."""
    monkeypatch.delenv("RECIPES_DATA", raising=False)
    write_image_folder(tmp_path / "png", n_train=6, n_test=2)
    train, test = load_cifar10(tmp_path / "png", cache_dir=tmp_path / "cache")
    pack_shards(train, test, tmp_path / "root" / "cifar10", max_bytes=20_000)
    assert locations.resolve_data_dir("cifar10", tmp_path / "root") == tmp_path / "root" / "cifar10"
    a = prepare_cifar10(tmp_path / "png", tmp_path / "cache", val_size=3)
    b = prepare_cifar10(tmp_path / "root", tmp_path / "cache", val_size=3)
    for u, v in zip((*a.train, *a.val, *a.test), (*b.train, *b.val, *b.test)):
        np.testing.assert_array_equal(u, v)
    np.testing.assert_array_equal(a.mean, b.mean)
    # sizes are judged from the manifest before any shard is read (a missing shard is not even noticed)
    (tmp_path / "root" / "cifar10" / "train-000.npz").unlink()
    with pytest.raises(ValueError, match=r"--batch-size must be <= the number of training images \(18\), got 19"):
        prepare_cifar10(tmp_path / "root", tmp_path / "cache", batch_size=19)
    with pytest.raises(FileNotFoundError, match="train-000.npz"):
        prepare_cifar10(tmp_path / "root", tmp_path / "cache", batch_size=18)


def test_pack_script_writes_shards_under_the_limit(repo_root, subprocess_env, tmp_path):
    write_image_folder(tmp_path / "png", n_train=10, n_test=4)
    out = tmp_path / "shards"
    p = subprocess.run([sys.executable, "scripts/pack_cifar10_shards.py", "--data-dir", str(tmp_path / "png"),
                        "--cache-dir", str(tmp_path / "cache"), "--output-dir", str(out), "--max-mb", "0.045"],
                       cwd=repo_root, env=subprocess_env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["counts"] == {"train": 30, "test": 12}
    assert all(s["bytes"] <= 45_000 for s in manifest["shards"]) and len(manifest["shards"]) == 4
    assert p.stdout.strip().splitlines()[-1].startswith("4 shards")
    bad = subprocess.run([sys.executable, "scripts/pack_cifar10_shards.py", "--data-dir", str(tmp_path / "png"),
                          "--max-mb", "0"], cwd=repo_root, env=subprocess_env, capture_output=True, text=True,
                         timeout=300)
    assert bad.returncode == 2 and "--max-mb must be" in bad.stderr
