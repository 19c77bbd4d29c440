"""Shared test fixtures.

Real data (CIFAR-10 PNG folders, FSDD, text sets, WordNet) is read from the data root that
``recipes.data.locations`` reads from ``RECIPES_DATA``. When the variable is unset and ``../shared/data`` (beside the
repository, the layout ``.ci/run`` sets up) exists, the session uses that folder and sets the variable, so that
subprocesses see it too. Tests that need real data skip, with the reason, when there is neither; pytest's header
says which folder the session uses.
"""
import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import pytest

from recipes.data.locations import data_root_from_environment

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
#: The documented layout: the shared data folder beside the repository.
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def _session_data_root():
    """(data root or None, where it came from): ``RECIPES_DATA`` when set, else ``../shared/data`` when it exists
    (then ``RECIPES_DATA`` is set to it for the session and its subprocesses)."""
    root = data_root_from_environment()
    if root is not None:
        return root, "RECIPES_DATA"
    if SHARED_DATA.is_dir():
        os.environ["RECIPES_DATA"] = str(SHARED_DATA)
        return SHARED_DATA, "../shared/data beside the repository; RECIPES_DATA was unset, set for this session"
    return None, (f"RECIPES_DATA is unset and {SHARED_DATA} does not exist: real-data tests will skip")


DATA_ROOT, DATA_ROOT_SOURCE = _session_data_root()


def pytest_report_header(config):
    if DATA_ROOT is None:
        return f"real data: none ({DATA_ROOT_SOURCE})"
    missing = "" if DATA_ROOT.is_dir() else " - not a folder: real-data tests will skip"
    return f"real data: {DATA_ROOT} (from {DATA_ROOT_SOURCE}){missing}"


def _data_root():
    root = data_root_from_environment()  # read at test time: a test may have changed the variable
    if root is None:
        pytest.skip("RECIPES_DATA is unset and ../shared/data does not exist: real-data test needs the shared "
                    "data folder")
    if not root.is_dir():
        pytest.skip(f"RECIPES_DATA={root} is not a directory")
    return root


@pytest.fixture
def data_root():
    """Path of the shared real-data folder (skips when there is none, see the module docstring)."""
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


JAX_TEST_ID = "tests/test_jax_backend.py::test_layer_optimizer_callback_tests_pass_under_jax"


def pytest_collection_modifyitems(session, config, items):
    """Start the JAX-backend subprocess of ``tests/test_jax_backend.py`` as soon as it is known to be selected:
    it runs beside the TensorFlow tests (the longest single test, ~5 minutes of mostly single-threaded tracing),
    and its test only waits for it."""
    if os.environ.get("RECIPES_JAX_SUBPROCESS") == "1" or getattr(config, "_recipes_jax_run", None) is not None:
        return
    if not any(item.nodeid.endswith("test_jax_backend.py::test_layer_optimizer_callback_tests_pass_under_jax")
               for item in items):
        return
    import subprocess
    import tempfile

    from tests.test_jax_backend import jax_command

    _, cmd, env = jax_command()
    log = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(cmd, cwd=str(REPO_ROOT), env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    config._recipes_jax_run = (proc, log)


def pytest_unconfigure(config):
    started = getattr(config, "_recipes_jax_run", None)
    if started is not None and started[0].poll() is None:
        started[0].kill()
        started[0].wait()
