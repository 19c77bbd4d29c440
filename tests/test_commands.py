"""The installed commands: setup.cfg declares exactly ``recipes.commands.COMMANDS`` as console scripts, each entry
point imports and answers ``--help``, ``python -m recipes`` lists them, every command has its thin wrapper in
``scripts/``; and no user-facing text puts the checkout on the path by hand or names internal issue numbers."""
import configparser
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

from recipes.commands import COMMANDS, describe, load_entry_point
from tests.helpers import wrapped_command

REPO = pathlib.Path(__file__).resolve().parents[1]


def declared_console_scripts(setup_cfg=REPO / "setup.cfg"):
    """{command name: "module:function"} of ``[options.entry_points] console_scripts`` in setup.cfg."""
    config = configparser.ConfigParser()
    config.read(setup_cfg, encoding="utf-8")
    text = config.get("options.entry_points", "console_scripts", fallback="")
    declared = {}
    for line in text.strip().splitlines():
        name, _, target = line.partition("=")
        declared[name.strip()] = target.strip()
    return declared


def test_setup_cfg_declares_exactly_the_commands():
    assert declared_console_scripts() == {name: entry for name, (entry, _) in COMMANDS.items()}
    assert {"keras-recipes-train", "keras-recipes-train-fast"} <= set(COMMANDS)


def test_the_parser_of_setup_cfg_sees_a_missing_or_extra_entry(tmp_path):
    cfg = tmp_path / "setup.cfg"
    cfg.write_text("[options.entry_points]\nconsole_scripts =\n    a = m:f\n    b = n:g\n")
    assert declared_console_scripts(cfg) == {"a": "m:f", "b": "n:g"}
    cfg.write_text("[options]\npackages = find:\n")
    assert declared_console_scripts(cfg) == {}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_entry_point_imports_as_a_function(name):
    function = load_entry_point(name)
    assert callable(function)
    with pytest.raises(ValueError, match="name must be one of keras-recipes-train"):
        load_entry_point("keras-recipes-nope")


def _run_entry_point(name, *args):
    """Run command ``name`` the way its console script does (``sys.exit(function())``, argv[0] = the name)."""
    code = (f"import sys; from recipes.commands import load_entry_point; sys.argv[0] = {name!r}; "
            f"sys.exit(load_entry_point({name!r})())")
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_every_command_answers_help():
    """``--help``: exit status 0 and a usage line naming the command (all commands started at once)."""
    procs = {name: _run_entry_point(name, "--help") for name in COMMANDS}
    installed = {name: shutil.which(name) for name in COMMANDS}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, (name, err[-2000:])
        assert out.startswith(f"usage: {name} "), (name, out[:200])
        if installed[name]:  # pip install -e . has put it on the PATH: the installed script works too
            run = subprocess.run([installed[name], "--help"], capture_output=True, text=True, timeout=300)
            assert run.returncode == 0 and run.stdout.startswith(f"usage: {name} "), (name, run.stderr[-2000:])


def test_a_command_rejects_a_bad_flag_with_status_2():
    proc = _run_entry_point("keras-recipes-bench-bias-variance", "--replicas", "0")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 2 and "--replicas must be an integer in [1, inf), got 0" in err, err[-2000:]


def test_python_m_recipes_lists_the_commands():
    proc = subprocess.run([sys.executable, "-m", "recipes"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == describe()
    listed = [line.split()[0] for line in proc.stdout.splitlines() if line.startswith("  keras-recipes-")]
    assert listed == list(COMMANDS)
    bad = subprocess.run([sys.executable, "-m", "recipes", "train"], cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 2 and "keras-recipes-train" in bad.stderr


def test_every_command_has_a_thin_wrapper_script():
    """``python scripts/<name>.py`` keeps working from a checkout: one script per command calls its function."""
    wrapped = {}
    for path in sorted((REPO / "scripts").glob("*.py")):
        name = wrapped_command(path.read_text(encoding="utf-8"))
        if name:
            wrapped.setdefault(name, []).append(path.name)
    assert sorted(wrapped) == sorted(COMMANDS), wrapped
    assert all(len(paths) == 1 for paths in wrapped.values()), wrapped
    assert wrapped_command("from recipes.commands.bench_augment import main\nmain()\n") is None  # no exit status


# ---------------------------------------------------------------------------------------------------------------
# User-facing text: README, setup.cfg, the packages' docstrings and help texts, the scripts, CI.
# ---------------------------------------------------------------------------------------------------------------
USER_FACING = ("README.md", "setup.cfg", "pyproject.toml", ".ci", "recipes", "augment", "callbacks", "scripts")
TEXT_SUFFIXES = {".py", ".md", ".cfg", ".toml", ".txt", ".sh", ""}
#: Built from parts so that this file does not match itself.
PYTHONPATH_DOT = "PYTHON" + "PATH=."
#: This project's issues ("issue 7"); an upstream project's issue cited by its tracker number ("scikit-learn's
#: issue #20320") is a reference, not an internal number.
ISSUE = re.compile(r"\bissues?\b(?!\s+#\d{3,})", re.IGNORECASE)


def _text_files(*tops):
    for top in tops:
        path = REPO / top
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for p in files:
            if p.suffix in TEXT_SUFFIXES and "__pycache__" not in p.parts and ".egg-info" not in str(p):
                try:
                    yield p, p.read_text(encoding="utf-8")
                except UnicodeDecodeError:
                    continue


def find_in_text(pattern, tops):
    """'path:line: text' for every line of the text files under ``tops`` that ``pattern`` (a regex) matches."""
    hits = []
    for path, text in _text_files(*tops):
        for number, line in enumerate(text.splitlines(), 1):
            if re.search(pattern, line):
                hits.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    return hits


def test_no_pythonpath_dot_anywhere():
    """The package is installed (``pip install -e .``): no command needs the checkout on the path by hand."""
    tops = [p.name for p in REPO.iterdir() if p.name not in (".git", ".pytest_cache") and not p.name.endswith(
        ".egg-info")]
    assert find_in_text(re.escape(PYTHONPATH_DOT), tops) == []


def test_no_internal_issue_numbers_in_user_facing_text():
    assert find_in_text(ISSUE, USER_FACING) == []


def test_the_text_checks_find_what_they_look_for(tmp_path, monkeypatch):
    (tmp_path / "README.md").write_text(f"run {PYTHONPATH_DOT} python x.py\nas asked in issue 7\nno tissue here\n"
                                        "as scikit-learn (its issue #20320)\n")
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    assert find_in_text(re.escape(PYTHONPATH_DOT), ["README.md"]) == [f"README.md:1: run {PYTHONPATH_DOT} python x.py"]
    assert find_in_text(ISSUE, ["README.md"]) == ["README.md:2: as asked in issue 7"]


def test_help_and_a_malformed_flag_answer_without_loading_tensorflow():
    """The training command's --help and argparse's own errors come before TensorFlow is imported (0.4 s, not
    the 10-15 s of importing it)."""
    code = ("import sys\nfrom recipes.training.command import main\n"
            "for argv in (['--help'], ['--epochs', 'x']):\n"
            "    try:\n        main(argv)\n    except SystemExit as e:\n        print('exit', e.code)\n"
            "print('tensorflow' in sys.modules, 'keras' in sys.modules)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.stdout.splitlines()[-3:] == ["exit 0", "exit 2", "False False"], proc.stdout[-2000:] + proc.stderr
    assert "--epochs" in proc.stderr


def test_ctrl_c_while_tensorflow_loads_is_one_line_and_status_130(tmp_path):
    """Ctrl-C in the first seconds (TensorFlow still importing, nothing written yet): one 'stopped:' line, exit
    status 130, no traceback. (Ctrl-C during training: tests/training/test_run_folder.py.)"""
    import signal
    import time

    out = tmp_path / "run"
    proc = _run_entry_point("keras-recipes-train", "--data-dir", str(tmp_path / "data"), "--epochs", "1",
                            "--output-dir", str(out))
    time.sleep(1.5)  # the interpreter is up; importing TensorFlow takes several seconds
    assert proc.poll() is None, proc.communicate()[1][-2000:]
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr[-2000:]
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr[-2000:]
    assert [line for line in stderr.splitlines() if line.strip()] == [
        "stopped: interrupted before training started; nothing was written"], stderr[-2000:]
    assert not out.exists()
