"""Every code example of README.md runs, as a new user would run it.

Python blocks: each ```python block is self-contained and trains, where it trains, on small data (a few hundred
real CIFAR-10 images or a tiny synthetic set: the sizes are the blocks' own, documented in their comments). They
run in two subprocesses (one TensorFlow import each, every other block each), each block in a fresh namespace;
each block is its own test item, so a failing example names its line of README.md.

Shell commands (```bash blocks, indented code blocks, and inline code that starts a command): every one must be
classified in ``COMMANDS_RULES`` below — run as written (``RUN``), too long to run here, with the reason (then its
program's ``--help`` is run), or not a program of this project (installs, the test suite itself). A new command in
README.md without a rule fails ``test_every_readme_command_is_classified``. The commands run in a mirror of the
documented layout (``<scratch>/repo/scripts/*.py`` and ``<scratch>/shared/data``), in a fresh environment
without ``RECIPES_DATA``, with the checkout's code first on the path and the installed command names
(``keras-recipes-*``) bound to this checkout's entry points; a command of this project prints none of TensorFlow's
native noise (``recipes.cli.NATIVE_NOISE``) on stderr. Every flag a command names must be listed by its program's
``--help`` (a renamed flag fails here even where the command is too long to run), and every ```bash block and
every command must parse (``bash -n``). The Python blocks run in the same mirror, from ``<scratch>/repo`` (the
repository root of the README's layout), without ``RECIPES_DATA``: a block that reads data names its folder.

Skipping a block: the line ``<!-- readme-test: skip (REASON) -->`` (an HTML comment: invisible on the rendered
page), as the last non-blank line before a fenced or indented block, keeps that block from being run — for a
block that needs what CI does not have (a GPU, a cluster). A skipped Python block must still compile and a
skipped shell block must still parse; its test item is reported as skipped with REASON.

The Python blocks and the commands (one at a time) run concurrently. CPU time of the whole file: about 80 s
(so about 45 s on 2 idle cores; 95-130 s measured on 2 cores shared with other jobs).
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import os
import pathlib
import re
import shlex
import subprocess
import sys
import textwrap

import pytest

from recipes.cli import NATIVE_NOISE
from recipes.commands import COMMANDS
from tests.helpers import wrapped_command

REPO = pathlib.Path(__file__).resolve().parents[1]
README = REPO / "README.md"
#: Seconds one example or command may take before the test gives up on it.
TIMEOUT = 300
#: A line of TensorFlow's C++ log (abseil/glog format: "E0000 00:00:1796138582.939663    2796 file.cc:682] ...").
GLOG_LINE = re.compile(r"^[IWEF]\d{4} [\d:.]+\s+\d+ [\w.]+:\d+\]", re.MULTILINE)
#: Python processes the blocks are shared out to (each imports TensorFlow once; Keras' tracing is single-threaded).
PYTHON_PROCESSES = 2


@dataclasses.dataclass(frozen=True)
class Snippet:
    line: int  # 1-based line of README.md where the code starts
    text: str
    skip: str | None = None  # REASON of a ``<!-- readme-test: skip (REASON) -->`` line before the block


#: The marker that keeps the next block from being run (see the module docstring).
SKIP_MARKER = re.compile(r"^\s*<!--\s*readme-test:\s*skip\s*\((?P<reason>[^)]*)\)\s*-->\s*$")


def skip_reason(lines, start):
    """REASON when the last non-blank line before ``lines[start]`` is the skip marker, else ``None``."""
    i = start - 1
    while i >= 0 and not lines[i].strip():
        i -= 1
    match = SKIP_MARKER.match(lines[i]) if i >= 0 else None
    return match.group("reason").strip() or "no reason given" if match else None


# ---------------------------------------------------------------------------------------------------------------
# Extraction
# ---------------------------------------------------------------------------------------------------------------
def fenced_blocks(text, languages):
    """``Snippet`` for every fenced block whose info string is one of ``languages``."""
    blocks, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        match = re.match(r"^```(\w*)\s*$", lines[i])
        if match:
            start, i = i, i + 1
            while i < len(lines) and not lines[i].startswith("```"):
                i += 1
            if match.group(1) in languages:
                blocks.append(Snippet(start + 2, "\n".join(lines[start + 1:i]) + "\n", skip_reason(lines, start)))
        i += 1
    return blocks


def _without_fences(text):
    """The text with every fenced block blanked (line numbers kept)."""
    out, inside = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            inside = not inside
            out.append("")
        else:
            out.append("" if inside else line)
    return out


#: What a shell command starts with: environment assignments, then one of these programs.
COMMAND_START = re.compile(r"^(?:[A-Z_]+=\S+\s+)*(?:python3?|keras-recipes-[a-z0-9-]+|pip|bash|export)(?:\s|$)")


def _logical_lines(snippet):
    """(line, command) for each command of a shell snippet: continuation lines joined, comments dropped, ``&&``
    chains split."""
    out, pending, first = [], "", None
    for offset, raw in enumerate(snippet.text.splitlines()):
        line = raw.strip()
        if not line and not pending:
            continue
        first = snippet.line + offset if first is None else first
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = re.sub(r"\s+#.*$", "", pending + line) if "#" in line else pending + line
        pending = ""
        out += [(first, " ".join(part.split())) for part in full.split("&&") if part.strip()]
        first = None
    return out


def shell_commands(text, skipped=False):
    """(line, command) for every shell command of README.md: ```bash blocks, indented code blocks, and inline
    code spans that start a command. ``skipped``: instead, the commands of the blocks marked to be skipped."""
    found = []
    for block in fenced_blocks(text, ("bash", "sh", "shell")):
        if (block.skip is not None) == skipped:
            found += _logical_lines(block)
    lines = _without_fences(text)
    i = 0
    while i < len(lines):  # indented code: 4 spaces after a blank line (a list's continuation uses 2)
        if lines[i].startswith("    ") and (i == 0 or not lines[i - 1].strip()):
            start = i
            while i < len(lines) and (lines[i].startswith("    ") or lines[i - 1].rstrip().endswith("\\")):
                i += 1
            if (skip_reason(lines, start) is not None) == skipped:
                block = Snippet(start + 1, textwrap.dedent("\n".join(lines[start:i])))
                found += [(n, c) for n, c in _logical_lines(block) if COMMAND_START.match(c)]
        i += 1
    for number, line in enumerate(lines, 1):
        if line.startswith("    ") or skipped:
            continue
        for span in re.findall(r"`([^`]+)`", line):
            if COMMAND_START.match(span.strip()) and (" " in span.strip() or span.startswith("keras-recipes-")):
                found.append((number, span.strip()))
    return sorted(set(found))


def python_blocks():
    return fenced_blocks(README.read_text(encoding="utf-8"), ("python",))


# ---------------------------------------------------------------------------------------------------------------
# The commands of README.md and what the test does with each (first matching rule wins)
# ---------------------------------------------------------------------------------------------------------------
RUN = "run"
#: (regular expression on the command, action, reason); action RUN, "help" (too long here: its --help is run) or
#: "skip" (not a program of this project).
COMMANDS_RULES = [
    (r"^pip install", "skip", "installs packages (the CI's first step, .ci/run)"),
    (r"^bash \.ci/run$", "skip", "the CI itself: installs everything, then runs the whole test suite"),
    (r"^python -m pytest", "skip", "the whole test suite (this test is part of it)"),
    (r"^python -m tests\.test_bad_input_sweep$", "skip", "runs tests/test_bad_input_sweep.py, part of the suite"),
    (r"^export TF_CONFIG=", "skip", "sets the cluster of a multi-worker run (the next command)"),
    (r"^python -m recipes$", RUN, ""),
    (r"^KERAS_BACKEND=jax python -c \"import keras; print\(keras\.backend\.backend\(\)\)\"$", "skip",
     "tests/test_jax_backend.py runs the toolkit's tests under KERAS_BACKEND=jax (8 s of imports saved here)"),
    (r"^python3 -m pip download ", "skip", "downloads wheels for the GPU machine from the package registry"),
    (r"^python scripts/pack_cifar10_shards\.py", "help", "packs all of CIFAR-10 into 184 MB of NumPy shards"),
    (r"^python scripts/ridge_collinear\.py", RUN, ""),
    (r"^python scripts/early_stopping_l2\.py$", RUN, ""),
    (r"^python scripts/double_descent_cpu\.py", "help", "about 25 s of random-features fits (20 training sets, "
                                                        "40 widths up to 2,000)"),
    (r"^keras-recipes-train(-fast)? .*--strategy multiworker", "help", "needs the other workers of TF_CONFIG"),
    (r"^(KERAS_BACKEND=jax )?keras-recipes-train(-fast)?( |$)", "help",
     "trains ResNets or the airbench net for epochs on CIFAR-10 (minutes to hours on a CPU)"),
    (r"^keras-recipes-bench-", "help", "a benchmark: minutes of timed passes by design"),
    (r"^python scripts/(penalty_decision_boundaries|penalty_weight_histograms)\.py", "help",
     "trains 6 to 10 small MLPs for 1,500 full-batch steps each (about a minute)"),
    (r"^python scripts/(optimizer_trajectories|vanishing_exploding)\.py", "help",
     "writes its figures into scripts/results (the committed ones) and takes about a minute"),
    (r"^python scripts/(bn_running_vs_population|dropout_experiment|early_stopping_cifar10|augment_cifar10|"
     r"double_descent_cifar10|text_augment_sst2|speech_augment_fsdd|sine_bias_variance)\.py", "help",
     "an experiment on real data: minutes to hours of training"),
]


def classify(command):
    """(action, reason) of ``command``, or ``(None, "")`` when no rule matches."""
    for pattern, action, reason in COMMANDS_RULES:
        if re.search(pattern, command):
            return action, reason
    return None, ""


def program_of(command):
    """The argv that runs ``command``'s program with ``--help`` (environment assignments dropped)."""
    words = shlex.split(command)
    while words and re.match(r"^[A-Z_]+=", words[0]):
        words.pop(0)
    if words[0] == "python" and words[1] == "-m":
        return ["python", "-m", words[2], "--help"]
    if words[0] == "python":
        return ["python", words[1], "--help"]
    return [words[0], "--help"]


# ---------------------------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------------------------
RUNNER = r'''
import json, sys, time, traceback
blocks = json.load(open(sys.argv[1]))
results = []
for block in blocks:
    import keras
    keras.backend.clear_session()
    start = time.perf_counter()
    namespace = {"__name__": "__main__"}
    print(f"=== README.md:{block['line']}", flush=True)
    try:
        exec(compile(block["text"], f"README.md:{block['line']}", "exec"), namespace)
        error = None
    except BaseException:
        error = traceback.format_exc()
    results.append({"line": block["line"], "seconds": time.perf_counter() - start, "error": error})
    sys.stdout.flush()
print("=== RESULTS " + json.dumps(results), flush=True)
'''


def _clean_environment(subprocess_env):
    """A fresh shell's environment: no RECIPES_DATA or TF_CPP_MIN_LOG_LEVEL, the checkout's code first on the
    path."""
    env = {k: v for k, v in subprocess_env.items() if k not in ("RECIPES_DATA", "TF_CPP_MIN_LOG_LEVEL")}
    env.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    return env


def _mirror(root, data_root):
    """The documented layout in a scratch folder: root/repo/scripts/*.py, root/repo/tests -> the checkout's,
    root/shared/data -> the session's data root; root/bin holds ``python`` and the ``keras-recipes-*`` commands
    bound to this checkout. Returns (working directory, bin folder)."""
    repo, bin_dir = root / "repo", root / "bin"
    (repo / "scripts").mkdir(parents=True)
    for script in (REPO / "scripts").glob("*.py"):
        (repo / "scripts" / script.name).symlink_to(script)
    (repo / "tests").symlink_to(REPO / "tests")
    if data_root is not None:
        (root / "shared").mkdir()
        (root / "shared" / "data").symlink_to(data_root)
    bin_dir.mkdir()
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')  # a link would lose the venv
    (bin_dir / "python").chmod(0o755)
    for name in COMMANDS:
        shim = bin_dir / name
        shim.write_text(f"#!{sys.executable}\nimport sys\nfrom recipes.commands import load_entry_point\n"
                        f"sys.argv[0] = {name!r}\nsys.exit(load_entry_point({name!r})())\n")
        shim.chmod(0o755)
    return repo, bin_dir


def _command_jobs():
    """{key: argv}: every command to run as written and every program whose ``--help`` is read."""
    jobs = {}
    for _, command in _readme_commands():
        action, _ = classify(command)
        if action == RUN:
            jobs[command] = ["bash", "-c", command]
        elif action == "help":
            argv = program_of(command)
            jobs[" ".join(argv)] = argv
    return jobs


@pytest.fixture(scope="module")
def readme_runs(tmp_path_factory, subprocess_env):
    """(python results {line: result}, command results {key: CompletedProcess}): the Python blocks in one
    subprocess while the commands run two at a time, all in the mirror of the documented layout."""
    from recipes.data.locations import data_root_from_environment

    data_root = data_root_from_environment()
    work, bin_dir = _mirror(tmp_path_factory.mktemp("readme"), data_root)
    env = _clean_environment(subprocess_env)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    scratch = tmp_path_factory.mktemp("readme_python")
    blocks = [dataclasses.asdict(b) for b in python_blocks()
              if b.skip is None and not (data_root is None and "../shared/data" in b.text)]
    (scratch / "runner.py").write_text(RUNNER)
    runners = []
    for k in range(PYTHON_PROCESSES):  # every other block: the first (CIFAR-10 ResNet) block is the longest
        (scratch / f"blocks{k}.json").write_text(json.dumps(blocks[k::PYTHON_PROCESSES]))
        runners.append(subprocess.Popen([sys.executable, str(scratch / "runner.py"), str(scratch / f"blocks{k}.json")],
                                        cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))

    def run(argv):
        return subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=TIMEOUT)

    results = {}
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            futures = {key: pool.submit(run, argv) for key, argv in _command_jobs().items()}
            commands = {key: future.result() for key, future in futures.items()}
        for runner in runners:
            stdout, stderr = runner.communicate(timeout=TIMEOUT * 3)
            marker = [line for line in stdout.splitlines() if line.startswith("=== RESULTS ")]
            assert runner.returncode == 0 and marker, stdout[-3000:] + stderr[-3000:]
            results.update({r["line"]: r for r in json.loads(marker[0][len("=== RESULTS "):])})
    finally:
        for runner in runners:
            if runner.poll() is None:
                runner.kill()
    return results, commands, data_root


@pytest.mark.parametrize("block", python_blocks(), ids=lambda b: f"README.md:{b.line}")
def test_python_block_runs(block, readme_runs):
    compile(block.text, f"README.md:{block.line}", "exec")  # a skipped block must still be valid Python
    if block.skip is not None:
        pytest.skip(f"README.md:{block.line} is marked readme-test: skip ({block.skip})")
    results, _, data_root = readme_runs
    if data_root is None and "../shared/data" in block.text:
        pytest.skip("the block reads ../shared/data: RECIPES_DATA is unset and ../shared/data does not exist")
    result = results[block.line]
    assert result["error"] is None, f"README.md:{block.line} failed:\n{result['error']}"


def _readme_commands():
    return shell_commands(README.read_text(encoding="utf-8"))


def test_every_readme_command_is_classified():
    unclassified = [f"README.md:{n}: {c}" for n, c in _readme_commands() if classify(c)[0] is None]
    assert unclassified == [], "add a rule to COMMANDS_RULES for:\n" + "\n".join(unclassified)


def test_readme_commands_work_in_a_fresh_shell_with_the_installed_names():
    """No command needs a variable a fresh shell may not have, or the checkout on the path by hand; the installed
    commands are called by their names, not through their wrapper scripts."""
    commands = _readme_commands()
    assert len(commands) >= 20
    assert [c for _, c in commands if "$RECIPES_DATA" in c or "PYTHONPATH" in c] == []
    wrappers = {p.name for p in (REPO / "scripts").glob("*.py") if wrapped_command(p.read_text(encoding="utf-8"))}
    assert [c for _, c in commands if any(f"scripts/{name}" in c for name in wrappers)] == []
    names = {c.split()[0] for _, c in commands if c.startswith("keras-recipes-")}
    assert names <= set(COMMANDS) and {"keras-recipes-train", "keras-recipes-train-fast"} <= names


@pytest.mark.parametrize("line, command", [(n, c) for n, c in _readme_commands() if classify(c)[0] in (RUN, "help")],
                         ids=lambda v: str(v) if isinstance(v, int) else v[:60])
def test_readme_command_runs(line, command, readme_runs):
    command_results = readme_runs[1]
    action, reason = classify(command)
    if action == RUN:
        proc = command_results[command]
        assert proc.returncode == 0, f"README.md:{line}: {command}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
        assert [n for n in NATIVE_NOISE if n in proc.stderr] == [], proc.stderr[-3000:]  # quiet
        assert not GLOG_LINE.search(proc.stderr), proc.stderr[-3000:]  # no C++ log line of any level
    else:  # too long to run here (the reason is in COMMANDS_RULES): its program answers --help, listing every flag
        proc = command_results[" ".join(program_of(command))]
        assert proc.returncode == 0 and proc.stdout.startswith("usage:"), (line, command, reason, proc.stderr[-3000:])
        unknown = [f for f in flags_of(command) if not re.search(rf"(?<![\w-]){re.escape(f)}(?![\w-])", proc.stdout)]
        assert unknown == [], f"README.md:{line}: {command}: not in {' '.join(program_of(command))}: {unknown}"


def flags_of(command):
    """The long flags (``--name``) ``command`` gives its program."""
    return sorted({word.split("=")[0] for word in shlex.split(command) if re.match(r"^--[a-z][a-z0-9-]*", word)})


def test_every_shell_block_and_command_parses():
    """``bash -n`` on every ```bash block (skipped ones too) and on every command found elsewhere."""
    text = README.read_text(encoding="utf-8")
    scripts = [(b.line, b.text) for b in fenced_blocks(text, ("bash", "sh", "shell"))]
    scripts += [(n, c) for n, c in shell_commands(text) + shell_commands(text, skipped=True)]
    bad = []
    for line, script in scripts:
        proc = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True, timeout=30)
        if proc.returncode != 0:
            bad.append(f"README.md:{line}: {proc.stderr.strip()}")
    assert bad == [], "\n".join(bad)


def test_ci_runs_exactly_the_readme_test_command():
    """``.ci/run`` ends with the README's test command (the part after its install step)."""
    text = README.read_text(encoding="utf-8")
    tests = [c for _, c in shell_commands(text) if "pytest" in c]
    assert tests == ["python -m pytest -q"], tests
    ci = [line.strip() for line in (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()]
    ci = [line for line in ci if line and not line.startswith("#")]
    assert ci[-1] == tests[0]
    assert 'pip install -e ".[test]" && python -m pytest -q' in text
    assert any(re.search(r"pip install (-q )?-e \"\.\[test\]\"", line) for line in ci)


def test_extraction_finds_each_kind_of_command():
    text = textwrap.dedent("""\
        Run `python scripts/a.py --x 1` or `keras-recipes-train`; not `--flag` or `python`.

        ```bash
        pip install -e . && keras-recipes-train --epochs 1 \\
            --output-dir runs/x   # a comment
        ```

            KERAS_BACKEND=jax python scripts/b.py --data-dir ../shared/data \\
                --seeds 5

        - a list item
          python scripts/not_code.py
        ```python
        print("python scripts/c.py")
        ```
        """)
    assert shell_commands(text) == [
        (1, "keras-recipes-train"), (1, "python scripts/a.py --x 1"), (4, "keras-recipes-train --epochs 1 "
                                                                       "--output-dir runs/x"),
        (4, "pip install -e ."), (8, "KERAS_BACKEND=jax python scripts/b.py --data-dir ../shared/data --seeds 5")]
    assert [b.line for b in fenced_blocks(text, ("python",))] == [14]
    assert flags_of("KERAS_BACKEND=jax keras-recipes-train-fast --seeds 5 --data-dir=x -v") == ["--data-dir", "--seeds"]


def test_skip_marker_keeps_a_block_from_running():
    text = textwrap.dedent("""\
        <!-- readme-test: skip (needs a GPU) -->
        ```python
        import gpu_only
        ```
        <!-- readme-test: skip (needs a cluster) -->

            keras-recipes-train --strategy multiworker

        ```bash
        keras-recipes-train --epochs 1
        ```
        ```python
        print(1)
        ```
        """)
    assert [(b.line, b.skip) for b in fenced_blocks(text, ("python",))] == [(3, "needs a GPU"), (13, None)]
    assert shell_commands(text) == [(10, "keras-recipes-train --epochs 1")]
    assert shell_commands(text, skipped=True) == [(7, "keras-recipes-train --strategy multiworker")]
    assert classify("python scripts/unknown.py") == (None, "")
    assert program_of("KERAS_BACKEND=jax keras-recipes-train-fast --seeds 5") == ["keras-recipes-train-fast", "--help"]
    assert program_of("python -m recipes") == ["python", "-m", "recipes", "--help"]
