"""Where datasets live: --data-dir (dataset folder or a root holding it), else $RECIPES_DATA, else download."""
import pathlib

import pytest

from recipes.data import locations


def _cifar_like(folder):
    (folder / "train").mkdir(parents=True)
    (folder / "test").mkdir()
    return folder


def test_data_dir_may_be_the_dataset_or_a_root_holding_it(tmp_path, monkeypatch):
    monkeypatch.delenv("RECIPES_DATA", raising=False)
    own = _cifar_like(tmp_path / "own")
    root = tmp_path / "root"
    _cifar_like(root / "cifar10")
    assert locations.resolve_data_dir("cifar10", own) == own
    assert locations.resolve_data_dir("cifar10", str(root)) == root / "cifar10"
    with pytest.raises(ValueError, match="--data-dir .* holds no cifar10 data"):
        locations.resolve_data_dir("cifar10", tmp_path)
    with pytest.raises(ValueError, match="--data-dir .*missing does not exist"):
        locations.resolve_data_dir("cifar10", tmp_path / "missing")


def test_environment_then_download_route(tmp_path, monkeypatch):
    root = tmp_path / "shared"
    _cifar_like(root / "cifar10")
    monkeypatch.setenv("RECIPES_DATA", str(root))
    assert locations.resolve_data_dir("cifar10") == root / "cifar10"
    monkeypatch.setenv("RECIPES_DATA", str(tmp_path / "empty"))
    assert locations.resolve_data_dir("cifar10") is None  # tensorflow-datasets
    with pytest.raises(locations.DataUnavailableError, match="RECIPES_DATA=.*has no fsdd/.*--data-dir"):
        locations.resolve_data_dir("fsdd")  # no download route
    monkeypatch.delenv("RECIPES_DATA")
    with pytest.raises(locations.DataUnavailableError, match="pass --data-dir DIR"):
        locations.resolve_data_dir("text")
    with pytest.raises(ValueError, match="name must be one of"):
        locations.resolve_data_dir("imagenet")


def test_cache_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("RECIPES_CACHE", str(tmp_path))
    assert locations.default_cache_dir() == tmp_path
    monkeypatch.delenv("RECIPES_CACHE")
    assert locations.default_cache_dir() == pathlib.Path.home() / ".cache" / "keras_recipes"


def test_only_this_module_reads_recipes_data():
    """Exactly one module of the library and the scripts reads RECIPES_DATA from the environment."""
    repo = pathlib.Path(__file__).resolve().parents[2]
    readers = sorted(str(p.relative_to(repo)) for d in ("recipes", "augment", "callbacks", "scripts")
                     for p in (repo / d).rglob("*.py") if "RECIPES_DATA\")" in p.read_text()
                     or "RECIPES_DATA']" in p.read_text() or "RECIPES_DATA\"]" in p.read_text()
                     or "RECIPES_DATA\", " in p.read_text())
    assert readers == ["recipes/data/locations.py"], readers
