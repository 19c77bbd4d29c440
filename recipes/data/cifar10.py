"""CIFAR-10 data: tensorflow-datasets or a local PNG folder, decoded once and cached.

The lecture's experiments train on a training set X, keep a validation set aside for early stopping
(Policy #1 / #2) and report the test error; this module gives the three sets as NumPy arrays:

- ``load_cifar10(data_dir=None)`` reads ``data_dir/train/<class>/*.png`` and ``data_dir/test/<class>/*.png``
  (the layout ``keras.utils.image_dataset_from_directory`` and ``tfds.ImageFolder`` read), or, with no
  ``data_dir``, the ``cifar10`` dataset of tensorflow-datasets. Folder data is decoded once and cached as
  ``.npy`` files, so a second call takes about a second.
- ``split_train_val`` splits the training set into a subtrain and a validation set, deterministically and
  stratified by class.
- ``channel_mean_std`` gives the per-channel mean μ_c and standard deviation σ_c of the training split, for the
  z-score standardization x̂ = (x − μ_c)/σ_c that the models apply as their first layer.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import json
import os
import pathlib
import socket

import numpy as np

from recipes.data.locations import DataUnavailableError, default_cache_dir, resolve_data_dir

CLASS_NAMES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)
IMAGE_SHAPE = (32, 32, 3)
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")

# Where tensorflow-datasets downloads CIFAR-10 from; probed (3 s) before tfds.load, whose offline retries
# otherwise take more than three minutes to fail.
_TFDS_SOURCE_HOST = ("www.cs.toronto.edu", 443)


NUM_CLASSES = len(CLASS_NAMES)


def load_cifar10(data_dir=None, cache_dir=None, tfds_data_dir=None, check_network=True):
    """Return ``((x_train, y_train), (x_test, y_test))``: uint8 images (N, 32, 32, 3) in 0..255, int64 labels.

    Args:
        data_dir: folder with ``train/<class>/*.png`` and ``test/<class>/*.png``; class indices follow the
            sorted class-folder names (for CIFAR-10 the standard order, airplane=0 … truck=9). ``None`` loads
            the ``cifar10`` dataset of tensorflow-datasets.
        cache_dir: where decoded folder data is cached (default ``default_cache_dir()``).
        tfds_data_dir: tensorflow-datasets' ``data_dir`` (default: its own).
        check_network: before a tensorflow-datasets download, check within 3 s that its source answers, and
            raise ``DataUnavailableError`` naming ``--data-dir`` if not.

    Images from a folder come in a fixed shuffled order (training set: seed 0, test set: seed 1), as those of
    tensorflow-datasets do, so that the first N of either are a random, nearly class-balanced subset
    (``--train-limit N``); class-sorted folder order would make ``x[:N]`` one or two classes.
    """
    if data_dir is not None:
        return load_image_folder(data_dir, cache_dir=cache_dir, expected_shape=IMAGE_SHAPE)
    return _load_tfds(tfds_data_dir, check_network)


def _network_reachable(host=_TFDS_SOURCE_HOST, timeout=3.0) -> bool:
    try:
        with socket.create_connection(host, timeout=timeout):
            return True
    except OSError:
        return False


def _load_tfds(tfds_data_dir, check_network):
    import tensorflow_datasets as tfds  # imported here: slow, and only this path needs it

    builder = tfds.builder("cifar10", data_dir=tfds_data_dir)
    if not builder.is_prepared() and check_network and not _network_reachable():
        raise DataUnavailableError(
            "CIFAR-10 is not in the tensorflow-datasets cache and its download source cannot be reached "
            "(no network?). Pass --data-dir DIR with DIR/train/<class>/*.png and DIR/test/<class>/*.png "
            "(data_dir=... in Python)."
        )
    splits = {}
    for split in ("train", "test"):
        ds = tfds.load("cifar10", split=split, as_supervised=True, data_dir=tfds_data_dir).batch(10000)
        parts = list(tfds.as_numpy(ds))  # (batch_size=-1 aborts under tfds.testing.mock_data)
        images = np.concatenate([p[0] for p in parts]).astype(np.uint8)
        labels = np.concatenate([p[1] for p in parts]).astype(np.int64)
        splits[split] = (images, labels)
    return splits["train"], splits["test"]


def _list_split(split_dir: pathlib.Path):
    if not split_dir.is_dir():
        raise FileNotFoundError(f"data_dir has no folder {split_dir.name}/ (looked for {split_dir})")
    classes = sorted(p.name for p in split_dir.iterdir() if p.is_dir())
    if not classes:
        raise ValueError(f"{split_dir} has no class folders (expected {split_dir}/<class>/*.png)")
    files = []
    for label, name in enumerate(classes):
        for entry in sorted(os.scandir(split_dir / name), key=lambda e: e.name):
            if entry.is_file() and not entry.name.startswith("."):
                files.append((entry.path, label, entry.stat().st_size, entry.stat().st_mtime_ns))
    return classes, files


def _decode(path, expected_shape):
    from PIL import Image, UnidentifiedImageError

    if not path.lower().endswith(IMAGE_EXTENSIONS):
        raise ValueError(f"not an image file (expected one of {IMAGE_EXTENSIONS}): {path}")
    try:
        with Image.open(path) as im:
            array = np.asarray(im.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise ValueError(f"cannot decode image {path}: {err}") from err
    if expected_shape is not None and array.shape != tuple(expected_shape):
        raise ValueError(f"image {path} has shape {array.shape}, expected {tuple(expected_shape)}")
    return array


def load_image_folder(data_dir, cache_dir=None, expected_shape=None, shuffle_seed=0):
    """Decode ``data_dir/{train,test}/<class>/*`` into arrays, caching the result as ``.npy`` files.

    The cache key is a hash of the folder's absolute path and every file's name, size and modification time,
    so an edited folder is decoded again. A corrupt or non-image file raises ``ValueError`` naming the file.
    Returns ``((x_train, y_train), (x_test, y_test))``; the training set is permuted with ``shuffle_seed``, the
    test set with ``shuffle_seed + 1``.
    """
    root = pathlib.Path(data_dir).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(
            f"--data-dir {data_dir} does not exist or is not a folder "
            "(expected DIR/train/<class>/*.png and DIR/test/<class>/*.png)"
        )
    root = root.resolve()
    listing = {split: _list_split(root / split) for split in ("train", "test")}
    if listing["train"][0] != listing["test"][0]:
        raise ValueError(
            f"train/ and test/ of {root} have different class folders: "
            f"{listing['train'][0]} vs {listing['test'][0]}"
        )
    digest = hashlib.sha256(json.dumps(
        ["v2", str(root), shuffle_seed, list(expected_shape or ()),
         {s: [(os.path.relpath(f[0], root), f[2], f[3]) for f in listing[s][1]] for s in listing}]
    ).encode()).hexdigest()[:20]
    cache = pathlib.Path(cache_dir) if cache_dir is not None else default_cache_dir()
    prefix = cache / f"imagefolder-{digest}"
    names = [f"{prefix}-{k}.npy" for k in ("xtrain", "ytrain", "xtest", "ytest")]
    if all(os.path.exists(n) for n in names):
        x_tr, y_tr, x_te, y_te = (np.load(n) for n in names)
        return (x_tr, y_tr), (x_te, y_te)

    arrays = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 1) * 2)) as pool:
        for split, (_, files) in listing.items():
            if not files:
                raise ValueError(f"{root / split} has no image files")
            images = list(pool.map(lambda f: _decode(f[0], expected_shape), files, chunksize=256))
            shapes = {im.shape for im in images}
            if len(shapes) != 1:
                raise ValueError(f"images in {root / split} differ in shape: {sorted(shapes)[:3]}")
            x = np.stack(images)
            y = np.array([f[1] for f in files], dtype=np.int64)
            seed = shuffle_seed if split == "train" else shuffle_seed + 1
            order = np.random.default_rng(seed).permutation(len(y))
            x, y = x[order], y[order]
            arrays[split] = (x, y)
    cache.mkdir(parents=True, exist_ok=True)
    values = [arrays["train"][0], arrays["train"][1], arrays["test"][0], arrays["test"][1]]
    for name, value in zip(names, values):
        tmp = f"{name}.tmp-{os.getpid()}.npy"
        np.save(tmp, value)
        os.replace(tmp, name)  # atomic: a killed run never leaves a half-written cache entry
    return arrays["train"], arrays["test"]


def split_train_val(x, y, val_size=5000, seed=0):
    """Split (x, y) into a subtrain and a validation set: ``((x_sub, y_sub), (x_val, y_val))``.

    Deterministic for a given seed and stratified: each class contributes ``val_size / num_classes`` examples
    (rounded, the remainder spread over the first classes). Both parts keep the input's order.
    """
    x = np.asarray(x)
    y = np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"x and y differ in length: {len(x)} vs {len(y)}")
    if not isinstance(val_size, (int, np.integer)) or isinstance(val_size, bool) or not 0 <= val_size < len(y):
        raise ValueError(f"val_size must be an integer in [0, {len(y)}), got {val_size!r}")
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    share = np.full(len(classes), val_size // len(classes))
    share[: val_size % len(classes)] += 1
    if np.any(share > counts):
        raise ValueError(f"val_size={val_size} asks for more examples of a class than there are")
    val_mask = np.zeros(len(y), dtype=bool)
    for cls, k in zip(classes, share):
        members = np.flatnonzero(y == cls)
        val_mask[rng.choice(members, size=k, replace=False)] = True
    return (x[~val_mask], y[~val_mask]), (x[val_mask], y[val_mask])


def channel_mean_std(x, chunk=4096):
    """Per-channel mean μ_c = mean over (n, h, w) of x, and standard deviation σ_c (population, ddof 0), in x's
    scale; accumulated in float64 over chunks of images, without a float copy of the whole set."""
    x = np.asarray(x)
    channels = x.shape[-1]
    total = np.zeros(channels)
    total_sq = np.zeros(channels)
    count = 0
    for start in range(0, len(x), chunk):
        block = x[start:start + chunk].reshape(-1, channels).astype(np.float64)
        total += block.sum(axis=0)
        total_sq += np.square(block).sum(axis=0)
        count += len(block)
    mean = total / count
    return mean, np.sqrt(np.maximum(total_sq / count - mean ** 2, 0.0))


@dataclasses.dataclass
class CIFAR10Splits:
    """The three sets of a run and the statistics the models standardize with.

    ``train`` is the subtrain set the optimizer sees (the training set minus the validation split), ``val`` the
    held-out validation set (empty when ``val_size=0``), ``test`` the test set; each is ``(x, y)`` with uint8
    images (N, 32, 32, 3) and int64 labels. ``mean``/``std`` are the per-channel μ_c, σ_c of ``train``, for the
    z-score x̂ = (x − μ_c)/σ_c; ``source`` says where the data came from (a folder, or "tensorflow-datasets").
    """

    train: tuple
    val: tuple
    test: tuple
    mean: np.ndarray
    std: np.ndarray
    source: str

    @property
    def num_classes(self):
        return NUM_CLASSES


def prepare_cifar10(data_dir=None, cache_dir=None, train_limit=None, val_size=0, test_limit=None, seed=0):
    """Load CIFAR-10 and cut it into the sets of a run: the one data preparation every command uses.

    1. the folder from ``resolve_data_dir("cifar10", data_dir)`` (``--data-dir``, else ``$RECIPES_DATA/cifar10``,
       else tensorflow-datasets), decoded once and cached;
    2. ``train_limit`` N: the first N training images (a random, nearly balanced subset: the loader's order is a
       fixed shuffle); ``test_limit`` M: a fixed random subset of M test images (seed 0; the folder's test images
       come sorted by class);
    3. the stratified, seeded validation split of ``val_size`` images (``split_train_val``);
    4. the channel statistics μ_c, σ_c of the remaining training images.

    Raises ``ValueError`` naming the flag (``--train-limit``, ``--val-size``, ``--test-limit``) when a size does
    not fit the data, and when images are not finite or labels fall outside [0, 10).
    """
    for flag, value in (("--train-limit", train_limit), ("--test-limit", test_limit)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1):
            raise ValueError(f"{flag} must be an integer >= 1, got {value!r}")
    if isinstance(val_size, bool) or not isinstance(val_size, (int, np.integer)) or val_size < 0:
        raise ValueError(f"--val-size must be an integer >= 0, got {val_size!r}")
    folder = resolve_data_dir("cifar10", data_dir)
    (x_train, y_train), (x_test, y_test) = load_cifar10(folder, cache_dir=cache_dir)
    if train_limit is not None:
        x_train, y_train = x_train[:train_limit], y_train[:train_limit]
    if test_limit is not None:
        keep = np.sort(np.random.default_rng(0).permutation(len(y_test))[:test_limit])
        x_test, y_test = x_test[keep], y_test[keep]
    for name, x in (("training", x_train), ("test", x_test)):
        if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():  # uint8 images cannot hold NaN
            bad = int(np.flatnonzero(~np.isfinite(x.reshape(len(x), -1)).all(axis=1))[0])
            raise ValueError(f"{name} images contain NaN or inf values (first in image {bad})")
    for name, y in (("training", y_train), ("test", y_test)):
        if y.size and (y.min() < 0 or y.max() >= NUM_CLASSES):
            raise ValueError(f"{name} labels must lie in [0, {NUM_CLASSES}); found {int(y.min())}..{int(y.max())}")
    if val_size >= len(y_train):
        raise ValueError(f"--val-size must be < the number of training images ({len(y_train)}), got {val_size}")
    if val_size:
        train, val = split_train_val(x_train, y_train, val_size, seed=seed)
    else:
        train, val = (x_train, y_train), (x_train[:0], y_train[:0])
    mean, std = channel_mean_std(train[0])
    return CIFAR10Splits(train, val, (x_test, y_test), mean, std,
                         str(folder) if folder is not None else "tensorflow-datasets")
