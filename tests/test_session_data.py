"""tests/conftest.py's data root: RECIPES_DATA when set, else ../shared/data beside the repository (then set for the
session, so subprocesses see it), and pytest's header says which folder the session uses."""
import os
import subprocess
import sys

from tests import conftest


def _header(env):
    """The lines pytest prints before collecting, for a session started with ``env``."""
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-p", "no:cacheprovider",
                           "tests/test_session_data.py"], cwd=conftest.REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return [line for line in proc.stdout.splitlines() if line.startswith("real data:")]


def test_this_session_exports_the_folder_it_uses():
    if conftest.DATA_ROOT is not None:
        assert os.environ["RECIPES_DATA"] == str(conftest.DATA_ROOT)  # what subprocesses inherit
    else:
        assert not os.environ.get("RECIPES_DATA")


def test_header_names_the_data_root_and_where_it_came_from(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "RECIPES_DATA"}
    if conftest.SHARED_DATA.is_dir():
        expected = f"real data: {conftest.SHARED_DATA} (from ../shared/data beside the repository"
    else:
        expected = f"real data: none (RECIPES_DATA is unset and {conftest.SHARED_DATA} does not exist"
    own = tmp_path / "my_data"
    own.mkdir()
    headers = [_header(env), _header(dict(env, RECIPES_DATA=str(own))),
               _header(dict(env, RECIPES_DATA=str(tmp_path / "missing")))]
    assert len(headers[0]) == 1 and headers[0][0].startswith(expected), headers[0]
    assert headers[1] == [f"real data: {own} (from RECIPES_DATA)"]
    assert headers[2] == [f"real data: {tmp_path / 'missing'} (from RECIPES_DATA) - not a folder: real-data tests "
                          "will skip"]
