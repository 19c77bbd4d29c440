"""Where datasets live: the one place that reads ``RECIPES_DATA`` and ``RECIPES_CACHE`` from the environment.

Every command resolves a dataset's folder the same way (``resolve_data_dir``):

1. ``--data-dir DIR`` (``data_dir=`` in Python) when given: either the dataset's own folder (for CIFAR-10 the
   folder holding ``train/`` and ``test/``, or the shard folder of ``recipes.data.shards``) or a data root that
   holds it as ``DIR/<name>`` (the layout of ``../shared/data``: ``cifar10/``, ``fsdd/``, ``text/``,
   ``nltk_data/``);
2. else ``$RECIPES_DATA/<name>`` when the variable is set and that folder exists;
3. else ``None``: the download route (tensorflow-datasets for CIFAR-10). Datasets that have no download route
   raise ``DataUnavailableError`` naming ``--data-dir`` and ``RECIPES_DATA``.
"""
from __future__ import annotations

import os
import pathlib

#: Datasets this toolkit reads, and the file or folder that shows a folder is that dataset.
DATASETS = {
    "cifar10": "train",  # train/<class>/*.png and test/<class>/*.png
    "fsdd": "recordings",  # recordings/{digit}_{speaker}_{index}.wav
    "text": "stsa.binary.train",  # the EDA paper's sentence sets
    "nltk_data": "corpora",  # corpora/wordnet.zip
}
#: Other files that also show a folder is that dataset (CIFAR-10 packed as NumPy shards: ``recipes.data.shards``).
ALTERNATIVE_MARKERS = {"cifar10": ("cifar10-shards.json",)}
#: Datasets with a download route (resolve_data_dir returns None for them when nothing local is named).
DOWNLOADABLE = ("cifar10",)


class DataUnavailableError(RuntimeError):
    """No copy of a dataset could be found or downloaded; the message says which flag or variable to set."""


def data_root_from_environment():
    """``$RECIPES_DATA`` as a path, or ``None`` when it is unset or empty."""
    root = os.environ.get("RECIPES_DATA", "").strip()
    return pathlib.Path(root).expanduser() if root else None


def default_cache_dir() -> pathlib.Path:
    """Where decoded data is cached: ``$RECIPES_CACHE`` or ``~/.cache/keras_recipes``."""
    return pathlib.Path(os.environ.get("RECIPES_CACHE") or pathlib.Path.home() / ".cache" / "keras_recipes")


def _is_dataset(folder: pathlib.Path, name: str) -> bool:
    return any((folder / marker).exists() for marker in (DATASETS[name], *ALTERNATIVE_MARKERS.get(name, ())))


def resolve_data_dir(name, data_dir=None, required=None):
    """The folder of dataset ``name`` (see the module docstring), or ``None`` for the download route.

    Args:
        name: one of ``DATASETS``.
        data_dir: what the user passed as ``--data-dir`` (a str or path), or ``None``.
        required: raise ``DataUnavailableError`` instead of returning ``None``; default: True for datasets with
            no download route.
    Raises ``ValueError`` naming ``--data-dir`` when ``data_dir`` is given but holds no copy of the dataset.
    """
    if name not in DATASETS:
        raise ValueError(f"name must be one of {', '.join(DATASETS)}, got {name!r}")
    if required is None:
        required = name not in DOWNLOADABLE
    if data_dir is not None and str(data_dir) != "":
        folder = pathlib.Path(data_dir).expanduser()
        if not folder.is_dir():
            raise ValueError(f"--data-dir {data_dir} does not exist or is not a folder")
        if _is_dataset(folder / name, name):
            return folder / name
        if _is_dataset(folder, name):
            return folder
        raise ValueError(f"--data-dir {data_dir} holds no {name} data: expected {folder}/{DATASETS[name]} or "
                         f"{folder}/{name}/{DATASETS[name]}")
    root = data_root_from_environment()
    if root is not None and _is_dataset(root / name, name):
        return root / name
    if required:
        where = f" (RECIPES_DATA={root} has no {name}/)" if root is not None else ""
        raise DataUnavailableError(f"no local copy of {name}{where}: pass --data-dir DIR, or set RECIPES_DATA to a "
                                   f"folder holding {name}/")
    return None
