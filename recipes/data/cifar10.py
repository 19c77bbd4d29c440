"""CIFAR-10 data: tensorflow-datasets or a local PNG folder, decoded once and cached.

The lecture's experiments train on a training set X, keep a validation set aside for early stopping
(Policy #1 / #2) and report the test error; this module gives the three sets as NumPy arrays:

- ``load_cifar10(data_dir=None)`` reads ``data_dir/train/<class>/*.png`` and ``data_dir/test/<class>/*.png``
  (the layout ``keras.utils.image_dataset_from_directory`` and ``tfds.ImageFolder`` read), or, with no
  ``data_dir``, the ``cifar10`` dataset of tensorflow-datasets. Folder data is decoded once and cached as
  ``.npy`` files under a key that hashes every file's bytes, so a second call takes a few seconds (reading and
  hashing the files, then loading the cache) instead of decoding again. Hidden folders and files (names starting
  with ".", e.g. ``.ipynb_checkpoints``) are ignored; 16-bit PNGs are scaled to 8 bits.
- ``split_train_val`` splits the training set into a subtrain and a validation set, deterministically and
  stratified by class.
- ``channel_mean_std`` gives the per-channel mean μ_c and standard deviation σ_c of the training split, for the
  z-score standardization x̂ = (x − μ_c)/σ_c that the models apply as their first layer.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import contextlib
import hashlib
import io
import json
import logging
import os
import pathlib
import socket
import tempfile
import threading
import warnings

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

#: Part of the cache key: bump when decoding changes what a file decodes to (v3: 16-bit PNGs scaled, not clipped).
_CACHE_VERSION = "v3"
_CACHE_PARTS = ("xtrain", "ytrain", "xtest", "ytest")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Files per task of the reading threads (one task per file would cost more in scheduling than in reading).
_CHUNK = 256
_TF_LOCK = threading.Lock()


def load_cifar10(data_dir=None, cache_dir=None, tfds_data_dir=None, check_network=True):
    """Return ``((x_train, y_train), (x_test, y_test))``: uint8 images (N, 32, 32, 3) in 0..255, int64 labels.

    Args:
        data_dir: folder with ``train/<class>/*.png`` and ``test/<class>/*.png``; class indices follow the
            sorted class-folder names (for CIFAR-10 the standard order, airplane=0 … truck=9); or a folder of
            NumPy shards with their manifest (``recipes.data.shards``, read as packed). ``None`` loads the
            ``cifar10`` dataset of tensorflow-datasets.
        cache_dir: where decoded folder data is cached (default ``default_cache_dir()``).
        tfds_data_dir: tensorflow-datasets' ``data_dir`` (default: its own).
        check_network: before a tensorflow-datasets download, check within 3 s that its source answers, and
            raise ``DataUnavailableError`` naming ``--data-dir`` if not.

    Images from a folder come in a fixed shuffled order (training set: seed 0, test set: seed 1), as those of
    tensorflow-datasets do, so that the first N of either are a random, nearly class-balanced subset
    (``--train-limit N``); class-sorted folder order would make ``x[:N]`` one or two classes.
    """
    if data_dir is not None:
        from recipes.data.shards import is_shard_folder, load_shards

        if is_shard_folder(data_dir):
            return load_shards(data_dir)
        return load_image_folder(data_dir, cache_dir=cache_dir, expected_shape=IMAGE_SHAPE)
    return _load_tfds(tfds_data_dir, check_network)


def _network_reachable(host=_TFDS_SOURCE_HOST, timeout=3.0) -> bool:
    try:
        with socket.create_connection(host, timeout=timeout):
            return True
    except OSError:
        return False


class _DropVariantFolderWarnings(logging.Filter):
    """Drops tensorflow-datasets' "Variant folder <dir> has no dataset_info.json" warnings: they are logged while
    it looks for a prepared copy (``builder.is_prepared()``) and only say that there is none yet, which the probe
    is asking; whatever follows (download, or ``DataUnavailableError`` naming ``--data-dir``) is said plainly."""

    def filter(self, record):
        return not str(record.msg).startswith("Variant folder")


@contextlib.contextmanager
def _quiet_tfds_probe():
    logger, dropper = logging.getLogger("absl"), _DropVariantFolderWarnings()
    logger.addFilter(dropper)
    try:
        yield
    finally:
        logger.removeFilter(dropper)


def _load_tfds(tfds_data_dir, check_network):
    import tensorflow_datasets as tfds  # imported here: slow, and only this path needs it

    with _quiet_tfds_probe():
        builder = tfds.builder("cifar10", data_dir=tfds_data_dir)
        prepared = builder.is_prepared()
    if not prepared and check_network and not _network_reachable():
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


def _visible(name: str) -> bool:
    """Hidden entries (``.ipynb_checkpoints``, ``.DS_Store``, macOS ``._x.png``) are no data."""
    return not name.startswith(".")


def _list_split(split_dir: pathlib.Path):
    """``(classes, files)`` of one split: the sorted visible class folders, and ``(path, label)`` of every visible
    file in them in sorted order. A file that is not an image (by its extension) raises ``ValueError`` naming it,
    before anything is read."""
    if not split_dir.is_dir():
        raise FileNotFoundError(f"data_dir has no folder {split_dir.name}/ (looked for {split_dir})")
    classes = sorted(e.name for e in os.scandir(split_dir) if _visible(e.name) and e.is_dir())
    if not classes:
        raise ValueError(f"{split_dir} has no class folders (expected {split_dir}/<class>/*.png)")
    files = []
    for label, name in enumerate(classes):
        for entry in sorted(os.scandir(split_dir / name), key=lambda e: e.name):
            if _visible(entry.name) and entry.is_file():
                if not entry.name.lower().endswith(IMAGE_EXTENSIONS):
                    raise ValueError(f"not an image file (expected one of {IMAGE_EXTENSIONS}): {entry.path}")
                files.append((entry.path, label))
    return classes, files


def _list_folder(data_dir):
    """``(root, {"train": (classes, files), "test": (classes, files)})`` of a CIFAR-style folder; reads no file."""
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
    for split, (_, files) in listing.items():
        if not files:
            raise ValueError(f"{root / split} has no image files")
    return root, listing


def _is_png16(data: bytes) -> bool:
    """Whether ``data`` is a PNG with 16 bits per sample (IHDR's bit depth, byte 24 of the file)."""
    return len(data) > 24 and data[:8] == _PNG_SIGNATURE and data[12:16] == b"IHDR" and data[24] == 16


def _decode_png16(path, data):
    """A 16-bit PNG (gray, gray+alpha, RGB or RGBA) as uint8 RGB, each sample v scaled to round(v·255/65535).

    Pillow cannot give the 16-bit samples of color PNGs (it keeps the high byte), so libpng decodes them, through
    TensorFlow (imported here, only when such a file occurs)."""
    with _TF_LOCK:  # one thread imports TensorFlow; the others wait for it instead of importing it half-done
        import tensorflow as tf
    try:
        values = tf.io.decode_png(data, channels=0, dtype=tf.uint16).numpy()
    except (tf.errors.InvalidArgumentError, tf.errors.OpError) as err:
        raise ValueError(f"cannot decode image {path}: {err.message.strip()}") from err
    values = np.repeat(values[..., :1], 3, axis=-1) if values.shape[-1] <= 2 else values[..., :3]  # alpha dropped
    # round(v·255/65535) = round(v/257) = floor((v + 128)/257): 257 is odd, so v/257 never ends in .5 (no ties)
    return ((values.astype(np.uint32) + 128) // 257).astype(np.uint8)


def _decode(path, expected_shape, data=None):
    """The image at ``path`` (or its bytes ``data``) as a uint8 RGB array (h, w, 3).

    8-bit images are converted by Pillow (gray replicated to R = G = B, alpha dropped, a palette looked up).
    16-bit PNGs (grayscale ``I;16``, gray+alpha, RGB 48-bit, RGBA 64-bit) are scaled to 8 bits as
    round(v·255/65535) per sample (gray replicated, alpha dropped): 0 → 0, 128 → 0, 129 → 1, 65535 → 255.
    Other images with more than 8 bits per sample (32-bit integer or float TIFFs, …) raise ``ValueError`` naming
    the file, as do corrupt files and images whose shape is not ``expected_shape``.
    """
    from PIL import Image, UnidentifiedImageError

    if not path.lower().endswith(IMAGE_EXTENSIONS):
        raise ValueError(f"not an image file (expected one of {IMAGE_EXTENSIONS}): {path}")
    try:
        if data is None:
            with open(path, "rb") as f:
                data = f.read()
        if _is_png16(data):
            array = _decode_png16(path, data)
        else:
            with Image.open(io.BytesIO(data)) as im:
                if im.mode.startswith("I") or im.mode == "F":
                    raise ValueError(f"cannot decode image {path}: {im.format} image of mode {im.mode} has more "
                                     "than 8 bits per sample; only 16-bit PNGs are scaled to 8 bits")
                array = np.asarray(im.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise ValueError(f"cannot decode image {path}: {err}") from err
    if expected_shape is not None and array.shape != tuple(expected_shape):
        raise ValueError(f"image {path} has shape {array.shape}, expected {tuple(expected_shape)}")
    return array


def _file_digest(path, data=None):
    if data is None:
        with open(path, "rb") as f:
            data = f.read()
    return hashlib.blake2b(data, digest_size=16).digest()


def _read_and_decode(path, expected_shape):
    """(digest, image) of one file from one read: the cached pixels are those of the bytes the key hashes."""
    with open(path, "rb") as f:
        data = f.read()
    return _file_digest(path, data), _decode(path, expected_shape, data)


def _workers():
    return min(8, (os.cpu_count() or 1) * 2)


def _parallel_map(fn, items):
    """``[fn(i) for i in items]`` on reading threads, ``_CHUNK`` items per task; the first error is raised and
    the tasks not yet started are dropped."""
    chunks = [items[i:i + _CHUNK] for i in range(0, len(items), _CHUNK)]
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=_workers())
    try:
        return [r for part in pool.map(lambda chunk: [fn(i) for i in chunk], chunks) for r in part]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _cache_key(root, listing, digests, shuffle_seed, expected_shape):
    """The cache entry's name: a hash of the folder's path, class folders, every file's name and bytes (its
    blake2b digest), the shuffle seed, the expected shape and the decoder's version."""
    h = hashlib.blake2b(digest_size=16)
    h.update(json.dumps([_CACHE_VERSION, str(root), shuffle_seed, list(expected_shape or ()),
                         {s: listing[s][0] for s in listing}]).encode())
    start = len(os.path.join(str(root), ""))  # the listing's paths are root + os.sep + split/class/name
    for split in ("train", "test"):
        for (path, _), digest in zip(listing[split][1], digests[split]):
            h.update(path[start:].encode("utf-8", "surrogateescape") + b"\0" + digest)
    return h.hexdigest()[:24]


def _cache_dir_problem(cache: pathlib.Path, probe: bool):
    """``None`` when ``cache`` (or, when it does not exist yet, its nearest existing parent) is a folder in which
    a file can be created (probe: create and remove one; as root, permission bits alone prove nothing), else what
    is wrong."""
    existing = cache.absolute()
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a folder"
    if probe:
        try:
            fd, name = tempfile.mkstemp(prefix=".write-probe-", dir=existing)
            os.close(fd)
            os.unlink(name)
        except OSError as err:
            return f"creating a file in {existing} failed: {err.strerror or err}"
    return None


def _check_cache_dir(cache: pathlib.Path, probe: bool):
    problem = _cache_dir_problem(cache, probe)
    if problem is not None:
        raise ValueError(f"--cache-dir must be a folder we can create files in, got {cache} ({problem})")


def _write_cache(names, values):
    """Write each array to its ``.npy`` name: every entry first to a temporary in the same folder (flushed to
    disk), then all renamed in order, so that a reader sees an entry whole or not at all, and the set complete
    (the last name present) only after every entry is. Returns the ``OSError`` that stopped it, or ``None``;
    leaves no temporary behind."""
    temporaries = []
    try:
        pathlib.Path(names[0]).parent.mkdir(parents=True, exist_ok=True)
        for name, value in zip(names, values):
            fd, tmp = tempfile.mkstemp(prefix=os.path.basename(name) + ".tmp-", dir=os.path.dirname(name))
            temporaries.append(tmp)
            with os.fdopen(fd, "wb") as f:
                np.save(f, value, allow_pickle=False)
                f.flush()
                os.fsync(f.fileno())
        for name, tmp in zip(names, temporaries):
            os.replace(tmp, name)  # atomic: a killed run never leaves a half-written cache entry
        temporaries = []
        return None
    except OSError as err:
        return err
    finally:
        for tmp in temporaries:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _read_cache(names):
    """The four cached arrays, or ``None`` when the set is incomplete or unreadable (then with a warning)."""
    if not all(os.path.exists(n) for n in names):
        return None
    try:
        x_tr, y_tr, x_te, y_te = (np.load(n, allow_pickle=False) for n in names)
        if not (x_tr.dtype == x_te.dtype == np.uint8 and x_tr.ndim == x_te.ndim == 4
                and len(x_tr) == len(y_tr) and len(x_te) == len(y_te)):
            raise ValueError("arrays of unexpected type or length")
    except (OSError, ValueError, EOFError) as err:
        warnings.warn(f"cache entry {names[0]} cannot be read ({err}); decoding again", RuntimeWarning,
                      stacklevel=3)
        return None
    return (x_tr, y_tr), (x_te, y_te)


def load_image_folder(data_dir, cache_dir=None, expected_shape=None, shuffle_seed=0):
    """Decode ``data_dir/{train,test}/<class>/*`` into arrays, caching the result as ``.npy`` files.

    Hidden folders and files (names starting with ".") are ignored. The cache key hashes the folder's path, its
    class folders and every file's name and bytes (blake2b, read on parallel threads), so any edit, even one that
    keeps a file's size and modification time, decodes again; a cache hit costs reading and hashing the files.
    Before decoding, ``cache_dir`` must be a folder (or not exist yet, under a folder) in which files can be
    created, else ``ValueError`` naming ``--cache-dir``; a cached entry is read from a read-only folder too. When
    writing the cache fails after decoding (disk full, …) a ``RuntimeWarning`` says so once and the arrays are
    returned uncached. A corrupt or non-image file raises ``ValueError`` naming the file; 16-bit PNGs are scaled
    to 8 bits as round(v·255/65535) (see ``_decode``). Returns ``((x_train, y_train), (x_test, y_test))``; the
    training set is permuted with ``shuffle_seed``, the test set with ``shuffle_seed + 1``.
    """
    root, listing = _list_folder(data_dir)
    cache = pathlib.Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    _check_cache_dir(cache, probe=False)  # a file where the folder should be: nothing to read, nothing to write

    digests = {split: _parallel_map(_file_digest, [f[0] for f in files]) for split, (_, files) in listing.items()}
    key = _cache_key(root, listing, digests, shuffle_seed, expected_shape)
    cached = _read_cache([str(cache / f"imagefolder-{key}-{part}.npy") for part in _CACHE_PARTS])
    if cached is not None:
        return cached
    _check_cache_dir(cache, probe=True)

    arrays = {}
    for split, (_, files) in listing.items():
        read = _parallel_map(lambda f: _read_and_decode(f[0], expected_shape), files)
        digests[split] = [digest for digest, _ in read]
        images = [image for _, image in read]
        shapes = {im.shape for im in images}
        if len(shapes) != 1:
            raise ValueError(f"images in {root / split} differ in shape: {sorted(shapes)[:3]}")
        x = np.stack(images)
        y = np.array([f[1] for f in files], dtype=np.int64)
        seed = shuffle_seed if split == "train" else shuffle_seed + 1
        order = np.random.default_rng(seed).permutation(len(y))
        arrays[split] = (x[order], y[order])
    # the key of the bytes just decoded (a file edited since the hashing pass gets the entry it now matches)
    key = _cache_key(root, listing, digests, shuffle_seed, expected_shape)
    names = [str(cache / f"imagefolder-{key}-{part}.npy") for part in _CACHE_PARTS]
    error = _write_cache(names, [arrays["train"][0], arrays["train"][1], arrays["test"][0], arrays["test"][1]])
    if error is not None:
        warnings.warn(f"could not write the decoded-data cache in --cache-dir {cache} ({error}); going on "
                      "without caching (the next run decodes the images again)", RuntimeWarning, stacklevel=2)
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
    if x.dtype == np.uint8 and x.size:
        # exact and fast for 8-bit images: a histogram of the 256 values per channel, then the moments from it
        values = np.arange(256, dtype=np.float64)
        flat = x.reshape(-1, channels)
        counts = np.stack([np.bincount(flat[:, c], minlength=256) for c in range(channels)]).astype(np.float64)
        n = counts.sum(axis=1)
        mean = counts @ values / n
        second = counts @ (values ** 2) / n
        return mean, np.sqrt(np.maximum(second - mean ** 2, 0.0))
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


def _check_sizes(available, train_limit, val_size, batch_size):
    """Whether the sizes fit ``available`` training images (before ``--train-limit``); raises naming the flag."""
    n = available if train_limit is None else min(train_limit, available)
    if val_size >= n:
        raise ValueError(f"--val-size must be < the number of training images ({n}), got {val_size}")
    if batch_size is not None and batch_size > n - val_size:
        raise ValueError(f"--batch-size must be <= the number of training images ({n - val_size}), got {batch_size}")


def prepare_cifar10(data_dir=None, cache_dir=None, train_limit=None, val_size=0, test_limit=None, seed=0,
                    batch_size=None):
    """Load CIFAR-10 and cut it into the sets of a run: the one data preparation every command uses.

    1. the folder from ``resolve_data_dir("cifar10", data_dir)`` (``--data-dir``, else ``$RECIPES_DATA/cifar10``,
       else tensorflow-datasets), decoded once and cached; or the NumPy shards of ``recipes.data.shards``;
    2. ``train_limit`` N: the first N training images (a random, nearly balanced subset: the loader's order is a
       fixed shuffle); ``test_limit`` M: a fixed random subset of M test images (seed 0; the folder's test images
       come sorted by class);
    3. the stratified, seeded validation split of ``val_size`` images (``split_train_val``);
    4. the channel statistics μ_c, σ_c of the remaining training images.

    Raises ``ValueError`` naming the flag (``--train-limit``, ``--val-size``, ``--test-limit``, ``--batch-size``,
    ``--cache-dir``) when a size does not fit the data, and when images are not finite or labels fall outside
    [0, 10). ``batch_size`` (optional) must be <= the number of training images left after ``train_limit`` and
    ``val_size``. For a folder these checks use its listing (for shards, their manifest's counts), before any
    image is read, decoded or cached; on the
    tensorflow-datasets route they follow the download.
    """
    for flag, value in (("--train-limit", train_limit), ("--test-limit", test_limit), ("--batch-size", batch_size)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1):
            raise ValueError(f"{flag} must be an integer >= 1, got {value!r}")
    if isinstance(val_size, bool) or not isinstance(val_size, (int, np.integer)) or val_size < 0:
        raise ValueError(f"--val-size must be an integer >= 0, got {val_size!r}")
    folder = resolve_data_dir("cifar10", data_dir)
    if folder is not None:  # sizes from the listing: a size that cannot fit fails before any image is decoded
        from recipes.data.shards import is_shard_folder, shard_counts

        if is_shard_folder(folder):  # NumPy shards: the counts their manifest states
            n_train = shard_counts(folder)["train"]
        else:
            n_train = len(_list_folder(folder)[1]["train"][1])
        _check_sizes(n_train, train_limit, val_size, batch_size)
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
    _check_sizes(len(y_train), None, val_size, batch_size)
    if val_size:
        train, val = split_train_val(x_train, y_train, val_size, seed=seed)
    else:
        train, val = (x_train, y_train), (x_train[:0], y_train[:0])
    mean, std = channel_mean_std(train[0])
    return CIFAR10Splits(train, val, (x_test, y_test), mean, std,
                         str(folder) if folder is not None else "tensorflow-datasets")
