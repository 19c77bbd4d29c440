"""recipes.cli: the shared flags, the quiet setup, bad flags as exit status 2 naming the flag, dataset folders."""
import logging
import os
import pathlib
import subprocess
import sys

import pytest

from recipes import cli
from tests.helpers import wrapped_command

REPO = pathlib.Path(__file__).resolve().parents[1]


def _cifar_like(folder):
    (folder / "train").mkdir(parents=True)
    (folder / "test").mkdir()
    return folder


def test_parser_has_the_shared_flags_with_their_defaults():
    parser = cli.make_parser("doc", datasets=("cifar10",), output_dir="out/x")
    args = parser.parse_args([])
    assert (args.data_dir, args.output_dir, args.seed, args.verbose) == (None, "out/x", 0, False)
    args = parser.parse_args(["--data-dir", "d", "--output-dir", "o", "--seed", "7", "--verbose"])
    assert (args.data_dir, args.output_dir, args.seed, args.verbose) == ("d", "o", 7, True)
    help_of = {a.dest: a.help for a in parser._actions}
    assert help_of["data_dir"].endswith("default $RECIPES_DATA/cifar10, else tensorflow-datasets")
    plain = cli.make_parser("doc", seed=False).parse_args([])
    assert vars(plain) == {"output_dir": None, "verbose": False}  # no data read, nothing random
    assert "no download route" in cli.data_dir_help(["fsdd"])
    assert "holding text/ (" in cli.data_dir_help(["text", "nltk_data"])
    with pytest.raises(ValueError, match="datasets must be names from"):
        cli.make_parser("doc", datasets=("imagenet",))


@pytest.mark.parametrize("value", ["-1", "2147483648", "x"])
def test_seed_out_of_range_exits_2_naming_the_flag(value, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.make_parser("doc").parse_args(["--seed", value])
    assert exit_info.value.code == 2
    assert "--seed" in capsys.readouterr().err


@pytest.fixture
def clean_environment(monkeypatch):
    """setup() writes os.environ and two loggers: register the variables with monkeypatch, restore the loggers."""
    for name in ("TF_CPP_MIN_LOG_LEVEL", "MPLBACKEND", "NO_ALBUMENTATIONS_UPDATE"):
        monkeypatch.delenv(name, raising=False)
    levels = {name: logging.getLogger(name).level for name in ("tensorflow", "absl")}
    yield monkeypatch
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def test_setup_is_quiet_by_default_and_verbose_on_request(clean_environment):
    cli.setup()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"  # no C++ log line, not even an error-level one
    assert os.environ["MPLBACKEND"] == "Agg" and os.environ["NO_ALBUMENTATIONS_UPDATE"] == "1"
    assert logging.getLogger("tensorflow").level == logging.ERROR == logging.getLogger("absl").level
    clean_environment.setenv("TF_CPP_MIN_LOG_LEVEL", "1")  # the user's own setting is kept when quiet
    cli.setup()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "1"
    cli.setup(verbose=True)
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"
    assert logging.getLogger("tensorflow").level == logging.INFO == logging.getLogger("absl").level
    args = cli.parse_args(cli.make_parser("doc"), ["--seed", "3"])  # parse_args runs setup(verbose=False)
    assert args.seed == 3 and os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"  # 0 from before: setdefault keeps it
    assert logging.getLogger("tensorflow").level == logging.ERROR


def test_importing_the_module_imports_no_framework():
    code = ("import sys, recipes.cli; print(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'tensorflow', 'keras', 'jax', 'matplotlib', 'torch'}))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_flag_errors_become_exit_status_2_with_the_message(capsys):
    from augment.checks import check_positive_int

    parser = cli.make_parser("doc")
    with cli.flag_errors(parser):
        check_positive_int("--epochs", 3)  # fine: nothing happens
    with pytest.raises(SystemExit) as exit_info:
        with cli.flag_errors(parser):
            check_positive_int("--epochs", 0)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert err.startswith("usage:") and "error: --epochs must be an integer in [1, inf), got 0" in err
    with pytest.raises(RuntimeError):  # not a flag problem: passes through
        with cli.flag_errors(parser):
            raise RuntimeError("disk full")


def test_split_list():
    assert cli.split_list("--sizes", " 4, 32 ,128,", type=int) == [4, 32, 128]
    assert cli.split_list("--sections", "text,image", choices=("image", "text")) == ["text", "image"]
    with pytest.raises(ValueError, match="--sections must be a comma-separated list from image, text, got video"):
        cli.split_list("--sections", "image,video", choices=("image", "text"))
    with pytest.raises(ValueError, match="--sizes must be a comma-separated list of int values, got '4,x'"):
        cli.split_list("--sizes", "4,x", type=int)
    with pytest.raises(ValueError, match="--sizes must be a comma-separated list"):
        cli.split_list("--sizes", " , ", type=int)


def test_data_folder_resolves_through_locations(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("RECIPES_DATA", raising=False)
    root = tmp_path / "root"
    _cifar_like(root / "cifar10")
    parser = cli.make_parser("doc", datasets=("cifar10", "fsdd", "nltk_data"))
    args = parser.parse_args(["--data-dir", str(root)])
    assert cli.data_folder(parser, args, "cifar10") == root / "cifar10"
    assert cli.data_folder(parser, parser.parse_args([]), "cifar10") is None  # tensorflow-datasets
    assert cli.data_folder(parser, args, "nltk_data", optional=True) is None  # NLTK's own search path
    shared = tmp_path / "shared"
    (shared / "nltk_data" / "corpora").mkdir(parents=True)
    monkeypatch.setenv("RECIPES_DATA", str(shared))
    assert cli.data_folder(parser, args, "nltk_data", optional=True) == shared / "nltk_data"
    for argv, name in ((["--data-dir", str(tmp_path / "missing")], "cifar10"), (["--data-dir", str(root)], "fsdd"),
                       ([], "fsdd")):
        with pytest.raises(SystemExit) as exit_info:
            cli.data_folder(parser, parser.parse_args(argv), name)
        assert exit_info.value.code == 2 and "--data-dir" in capsys.readouterr().err, (argv, name)


def test_a_script_rejects_a_bad_flag_before_any_work(tmp_path, subprocess_env):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "ridge_collinear.py"), "--draws", "1",
                           "--output-dir", str(out)], env=subprocess_env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith("usage: ridge_collinear.py") and "error: --draws must be an integer in [2, inf)" in proc.stderr
    assert not out.exists()


def test_scripts_share_the_cli_and_import_no_framework_before_parsing():
    """Every program builds its parser with recipes.cli, touches no sys.path, loads no other script, and imports
    neither TensorFlow nor Keras at import time (so --verbose and the quiet default apply before they load).
    Programs: the scripts, and for a script that wraps an installed command, that command's module."""
    from recipes.commands import COMMANDS

    programs, wrappers = [], []
    for path in sorted((REPO / "scripts").glob("*.py")):
        text = path.read_text()
        if wrapped_command(text):
            wrappers.append(path)
            code_lines = [l for l in text.split('"""')[-1].splitlines() if l.strip() and not l.startswith("#")]
            assert len(code_lines) <= 4, (path.name, "a wrapper holds no code of its own", code_lines)
        else:
            programs.append(path)
    assert {wrapped_command(p.read_text()) for p in wrappers} == set(COMMANDS)  # every command has its script
    modules = {entry.partition(":")[0] for entry, _ in COMMANDS.values()} - {"recipes.training.command"}
    programs += [REPO / (m.replace(".", "/") + ".py") for m in sorted(modules)]
    assert len(programs) >= 18
    for path in programs:
        text = path.read_text()
        assert "cli.make_parser(" in text, path.name
        for banned in ("sys.path", "spec_from_file_location", "argparse.ArgumentParser(", "matplotlib.use(",
                       "PYTHONPATH"):
            assert banned not in text, (path.name, banned)
    scripts = sorted(p.stem for p in (REPO / "scripts").glob("*.py"))
    code = ("import sys, importlib\nfrom tests.helpers import load_script\n"
            f"for name in {scripts!r}:\n    load_script(name)\n"
            f"for name in {sorted(modules | {'recipes.training.command', 'recipes.commands', 'recipes.__main__'})!r}:\n"
            "    importlib.import_module(name)\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras', 'jax'}))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_quiet_commands_hide_tensorflows_native_lines_and_verbose_lets_them_through(subprocess_env):
    """TF_CPP_MIN_LOG_LEVEL does not reach abseil's "before absl::InitializeLog()" line, the CUDA stub's "Could not
    find cuda drivers" or cuInit's error: a quiet command's stderr holds none of them (setup imports TensorFlow
    with file descriptor 2 on /dev/null); with --verbose every one that plain TensorFlow prints here comes through.
    The three processes run at once."""
    env = dict(subprocess_env, TF_CPP_MIN_LOG_LEVEL="2")
    command = [sys.executable, str(REPO / "scripts" / "bench_bias_variance.py"), "--replicas", "1", "--steps", "1",
               "--points", "4", "--width", "2"]
    plain = "import tensorflow as tf; print(float(tf.constant(1.0) + 1))"  # what TensorFlow prints on its own
    procs = {name: subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True)
             for name, argv in (("plain", [sys.executable, "-c", plain]), ("quiet", command),
                                ("verbose", command + ["--verbose"]))}
    out = {name: proc.communicate(timeout=300) + (proc.returncode,) for name, proc in procs.items()}
    for name, (stdout, stderr, status) in out.items():
        assert status == 0, (name, stderr[-3000:])
    assert "speedup=" in out["quiet"][0] and "speedup=" in out["verbose"][0]
    assert [line for line in cli.NATIVE_NOISE if line in out["quiet"][1]] == [], out["quiet"][1][-3000:]
    expected = [line for line in cli.NATIVE_NOISE if line in out["plain"][1]]
    if not expected:
        pytest.skip("this TensorFlow build prints none of cli.NATIVE_NOISE here: nothing for --verbose to show")
    assert [line for line in expected if line not in out["verbose"][1]] == [], out["verbose"][1][-3000:]


def test_quiet_tensorflow_import_restores_stderr_and_does_nothing_twice(capfd):
    """After the quiet import file descriptor 2 is the original again (a line written to it is seen); once
    TensorFlow is imported a call does nothing and returns False."""
    cli.quiet_tensorflow_import()  # imports TensorFlow, unless an earlier test of this process did
    os.write(2, b"fd2 is back\n")
    assert cli.quiet_tensorflow_import() is False and "tensorflow" in sys.modules
    assert "fd2 is back" in capfd.readouterr().err
