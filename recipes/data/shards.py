"""CIFAR-10 as a few NumPy shards: a lossless pack that travels in parts and reads back as a data folder.

A machine that cannot decode 60,000 PNGs (or receive 238 MB of them at once) gets the decoded arrays instead:
``pack_shards`` writes the uint8 images and labels of ``load_cifar10`` — in the loader's order, so a run on the
shards is the run on the PNG folder, image for image — into ``.npz`` files of at most ``max_bytes`` each (full
CIFAR-10 at the default 55 MB: three training shards of 16,667/16,667/16,666 images, 51.2 MB each, and one test
shard of 30.7 MB), plus a manifest ``cifar10-shards.json`` listing every shard with its split, image count and
SHA-256. A folder holding the manifest is a CIFAR-10 data folder for ``--data-dir`` (``recipes.data.locations``);
``load_shards`` checks every shard against the manifest (present, same size and digest) and concatenates them.

    python scripts/pack_cifar10_shards.py --data-dir ../shared/data/cifar10 --output-dir staging/cifar10

No TensorFlow, no Pillow to read them back: NumPy only.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import pathlib

import numpy as np

from augment.checks import check_int

MANIFEST = "cifar10-shards.json"
FORMAT = "keras-recipes cifar10 npz shards v1"
DEFAULT_MAX_BYTES = 55_000_000

__all__ = ["MANIFEST", "pack_shards", "load_shards", "is_shard_folder", "shard_counts"]


def _sha256(path, chunk=1 << 22):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def is_shard_folder(folder) -> bool:
    """Whether ``folder`` holds a shard manifest."""
    return (pathlib.Path(folder) / MANIFEST).is_file()


def shard_counts(folder) -> dict:
    """``{"train": N, "test": M}``: the image counts the manifest states (no shard is read), so that sizes can be
    checked against the flags before any data is loaded."""
    manifest = json.loads((pathlib.Path(folder) / MANIFEST).read_text())
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{pathlib.Path(folder) / MANIFEST} is not a {FORMAT!r} manifest "
                         f"(format {manifest.get('format')!r})")
    return {split: int(manifest["counts"][split]) for split in ("train", "test")}


def pack_shards(train, test, out_dir, max_bytes=DEFAULT_MAX_BYTES, classes=None):
    """Write ``train`` = (x, y) and ``test`` = (x, y) (uint8 images (N, H, W, C), integer labels in [0, 256)) as
    shards of at most ``max_bytes`` bytes each, and the manifest; returns the manifest (a dict).

    Each split is cut into k = ⌈bytes(split)/budget⌉ shards of ⌈N/k⌉ or ⌊N/k⌋ consecutive images (budget =
    ``max_bytes`` less room for the .npz headers), stored uncompressed (``np.savez``: CIFAR's pixels compress by
    only 8 %). Files are written under temporary names and renamed, the manifest last.
    """
    max_bytes = check_int("max_bytes", max_bytes, 10_000)
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    shards = []
    for split, (x, y) in (("train", train), ("test", test)):
        x, y = np.asarray(x), np.asarray(y)
        if x.dtype != np.uint8 or x.ndim != 4:
            raise TypeError(f"{split} images must be uint8 (N, H, W, C), got dtype {x.dtype} and shape {x.shape}")
        if y.shape != (len(x),) or (y.size and (y.min() < 0 or y.max() > 255)):
            raise ValueError(f"{split} labels must be ({len(x)},) integers in [0, 256), got shape {y.shape}")
        per_image = int(np.prod(x.shape[1:])) + 1
        budget = max_bytes - 4096  # two .npy headers and the zip directory
        k = max(1, math.ceil(len(x) * per_image / budget))
        bounds = np.linspace(0, len(x), k + 1).round().astype(int)
        for i in range(k):
            name = f"{split}-{i:03d}.npz"
            tmp = out / f".{name}.tmp.npz"
            np.savez(tmp, x=x[bounds[i]:bounds[i + 1]], y=y[bounds[i]:bounds[i + 1]].astype(np.uint8))
            os.replace(tmp, out / name)
            shards.append({"file": name, "split": split, "count": int(bounds[i + 1] - bounds[i]),
                           "bytes": (out / name).stat().st_size, "sha256": _sha256(out / name)})
    manifest = {"format": FORMAT, "image_shape": list(np.asarray(train[0]).shape[1:]),
                "counts": {"train": int(len(train[0])), "test": int(len(test[0]))},
                "classes": list(classes) if classes is not None else None, "shards": shards}
    tmp = out / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp, out / MANIFEST)
    return manifest


def load_shards(folder, verify=True):
    """``((x_train, y_train), (x_test, y_test))`` from a shard folder (uint8 images, int64 labels), in the order the
    shards were packed. Raises ``FileNotFoundError`` naming a missing shard and ``ValueError`` naming one whose
    size or SHA-256 (``verify``) differs from the manifest, or counts that do not add up."""
    folder = pathlib.Path(folder)
    manifest = json.loads((folder / MANIFEST).read_text())
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{folder / MANIFEST} is not a {FORMAT!r} manifest (format {manifest.get('format')!r})")
    missing = [s["file"] for s in manifest["shards"] if not (folder / s["file"]).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} lacks shard(s) {', '.join(missing)} of {MANIFEST} (staged in parts? copy "
                                "every shard the manifest lists)")
    parts = {"train": ([], []), "test": ([], [])}
    for s in manifest["shards"]:
        path = folder / s["file"]
        if path.stat().st_size != s["bytes"] or (verify and _sha256(path) != s["sha256"]):
            raise ValueError(f"shard {path} differs from {MANIFEST} (size or SHA-256): incomplete or corrupt copy")
        with np.load(path) as z:
            x, y = z["x"], z["y"]
        if len(x) != s["count"] or len(y) != s["count"]:
            raise ValueError(f"shard {path} holds {len(x)} images, {MANIFEST} says {s['count']}")
        parts[s["split"]][0].append(x)
        parts[s["split"]][1].append(y.astype(np.int64))
    out = []
    for split in ("train", "test"):
        xs, ys = parts[split]
        if not xs:
            raise ValueError(f"{folder / MANIFEST} lists no {split} shard")
        x, y = np.concatenate(xs), np.concatenate(ys)
        if len(x) != manifest["counts"][split]:
            raise ValueError(f"{split} shards of {folder} hold {len(x)} images, {MANIFEST} says "
                             f"{manifest['counts'][split]}")
        out.append((x, y))
    return out[0], out[1]
