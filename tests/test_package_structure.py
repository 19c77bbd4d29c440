"""Package structure: the dependency arrow points one way (recipes → callbacks → augment), no private name crosses
a package boundary, no two modules share a file name, no ``*_utils`` grab-bags, and ``recipes/`` itself holds only
its entry points (the code lives in the chapter subpackages).

Imports are read with ``ast`` (module-level and function-level, relative imports resolved), so an import hidden
inside a function counts as much as one at the top of a file.
"""
import ast
import collections
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("recipes", "augment", "callbacks")
#: Packages at the bottom of the dependency order: they must never import ``recipes``.
LOWER = ("augment", "callbacks")
#: Importers scanned for private names besides the packages: the command-line programs.
SCRIPTS = "scripts"
#: Modules allowed at the top level of ``recipes/`` (``cli.py`` and perhaps others later).
MAX_TOP_LEVEL_RECIPES_MODULES = 4


def _modules(*tops):
    """{dotted module name: path} of every .py file under the given top-level folders."""
    found = {}
    for top in tops:
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imports(module, path):
    """(line, imported module, imported name or None) for every import statement of the file, anywhere in it.
    ``import a.b`` gives ("a.b", None); ``from a.b import c`` gives ("a.b", "c"); relative imports are resolved
    against ``module``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)] if node.level > 1 else base
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module
            out.extend((node.lineno, source, alias.name) for alias in node.names)
    return out


def _is_private(name):
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _owner(module):
    """The unit a private name must not leave: the top-level package, or for ``recipes`` its chapter subpackage
    (``recipes.normalization``); a script is its own unit."""
    parts = module.split(".")
    if parts[0] == "recipes" and len(parts) > 2:
        return ".".join(parts[:2])
    if parts[0] == SCRIPTS:
        return module
    return parts[0]


def lower_packages_importing_recipes():
    """'module:line imports X' for every import of ``recipes`` in ``augment`` or ``callbacks``."""
    found = []
    for module, path in _modules(*LOWER).items():
        for line, source, name in _imports(module, path):
            if source == "recipes" or source.startswith("recipes."):
                found.append(f"{module}:{line} imports {source}" + (f".{name}" if name else ""))
    return found


def private_imports_across_packages():
    """'module:line imports X._y' for every import of a private name (or from a private module) owned by another
    top-level package or another ``recipes`` subpackage."""
    found = []
    for module, path in _modules(*PACKAGES, SCRIPTS).items():
        for line, source, name in _imports(module, path):
            if source.split(".")[0] not in PACKAGES:
                continue  # third-party and standard-library modules are not ours to police
            dotted = source.split(".") + ([name] if name else [])
            if not any(_is_private(part) for part in dotted):
                continue
            if _owner(source) == _owner(module):
                continue
            found.append(f"{module}:{line} imports {'.'.join(dotted)}")
    return found


def shared_file_names():
    """{file name: [paths]} for .py files (``__init__.py`` excepted) that occur more than once in the packages."""
    names = collections.defaultdict(list)
    for top in PACKAGES:
        for path in (ROOT / top).rglob("*.py"):
            if path.name != "__init__.py":
                names[path.name].append(str(path.relative_to(ROOT)))
    return {name: sorted(paths) for name, paths in names.items() if len(paths) > 1}


def utils_modules():
    return sorted(str(p.relative_to(ROOT)) for top in PACKAGES for p in (ROOT / top).rglob("*_utils.py"))


def top_level_recipes_modules():
    return sorted(p.name for p in (ROOT / "recipes").glob("*.py"))


def test_augment_and_callbacks_do_not_import_recipes():
    assert lower_packages_importing_recipes() == []


def test_no_private_name_crosses_a_package():
    assert private_imports_across_packages() == []


def test_no_two_modules_share_a_file_name():
    assert shared_file_names() == {}


def test_no_utils_modules():
    assert utils_modules() == []


def test_recipes_top_level_holds_only_entry_points():
    modules = top_level_recipes_modules()
    assert "__init__.py" in modules
    assert len(modules) <= MAX_TOP_LEVEL_RECIPES_MODULES, modules


# ---------------------------------------------------------------------------------------------------------------
# The checks themselves find what they are meant to find (a check that cannot fail is a defect).
# ---------------------------------------------------------------------------------------------------------------
@pytest.fixture
def fake_root(tmp_path, monkeypatch):
    for top in (*PACKAGES, SCRIPTS, "recipes/optimization", "recipes/dropout", "augment/sub"):
        (tmp_path / top).mkdir(parents=True, exist_ok=True)
        if top != SCRIPTS:
            (tmp_path / top / "__init__.py").write_text("")
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    return tmp_path


def test_detects_recipes_import_in_a_function_and_relative_private_imports(fake_root):
    (fake_root / "callbacks/cb.py").write_text("import os\n\ndef f():\n    from recipes.dropout import rates\n")
    (fake_root / "augment/sub/a.py").write_text("from .. import checks\nfrom ..checks import _fmt\n")
    (fake_root / "augment/checks.py").write_text("_fmt = 1\n")
    (fake_root / "recipes/optimization/sophia.py").write_text(
        "from .sign_sgd import _clip\nfrom recipes.dropout.rates import _p\nfrom augment.checks import _fmt\n"
        "from __future__ import annotations\nfrom numpy import _private\n")
    (fake_root / "recipes/optimization/sign_sgd.py").write_text("_clip = 1\n")
    (fake_root / "scripts/run.py").write_text("import recipes.optimization._impl\n")
    assert lower_packages_importing_recipes() == ["callbacks.cb:4 imports recipes.dropout.rates"]
    assert private_imports_across_packages() == [
        "recipes.optimization.sophia:2 imports recipes.dropout.rates._p",
        "recipes.optimization.sophia:3 imports augment.checks._fmt",
        "scripts.run:1 imports recipes.optimization._impl",
    ]  # same-subpackage (sophia → sign_sgd) and same-package (augment.sub.a → augment.checks) imports are fine


def test_detects_shared_names_utils_and_a_crowded_recipes_top_level(fake_root):
    (fake_root / "callbacks/early_stopping.py").write_text("")
    (fake_root / "recipes/optimization/early_stopping.py").write_text("")
    (fake_root / "recipes/dropout/dropout_utils.py").write_text("")
    for name in ("cli", "a", "b", "c"):
        (fake_root / f"recipes/{name}.py").write_text("")
    assert shared_file_names() == {"early_stopping.py": ["callbacks/early_stopping.py",
                                                         "recipes/optimization/early_stopping.py"]}
    assert utils_modules() == ["recipes/dropout/dropout_utils.py"]
    assert len(top_level_recipes_modules()) == 5
