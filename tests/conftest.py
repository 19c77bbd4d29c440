"""Shared test fixtures.

Real data (CIFAR-10 PNG folders, FSDD, text sets, WordNet) is read from the folder named by
the environment variable ``RECIPES_DATA`` (``.ci/run`` sets it to ``../shared/data``); tests that
need it skip, with that reason, when it is unset.
"""
import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]


def _data_root():
    root = os.environ.get("RECIPES_DATA")
    if not root:
        pytest.skip("RECIPES_DATA is unset: real-data test needs the shared data folder")
    path = pathlib.Path(root)
    if not path.is_dir():
        pytest.skip(f"RECIPES_DATA={root} is not a directory")
    return path


@pytest.fixture
def data_root():
    """Path of the shared real-data folder (skips when RECIPES_DATA is unset)."""
    return _data_root()


@pytest.fixture
def cifar10_dir():
    """Path of the real CIFAR-10 PNG folder (``train/<class>/*.png``, ``test/<class>/*.png``)."""
    path = _data_root() / "cifar10"
    if not (path / "train").is_dir():
        pytest.skip(f"{path} has no train/ folder")
    return path


@pytest.fixture(scope="session")
def repo_root():
    return REPO_ROOT


@pytest.fixture(scope="session")
def subprocess_env():
    """Environment for running the project's scripts in a subprocess from a source checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env
