"""Helpers shared by tests (not fixtures)."""
import importlib.util
import pathlib

import numpy as np

SCRIPTS = pathlib.Path(__file__).resolve().parents[1] / "scripts"


def load_script(name):
    """The module of ``scripts/<name>.py``, executed from its file (the scripts are programs, not a package)."""
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def wrapped_command(text):
    """The installed command (a name of ``recipes.commands.COMMANDS``) that the script text ``text`` is a wrapper
    of: it imports the command's function from its module and exits with what it returns; else ``None``."""
    import re

    from recipes.commands import COMMANDS

    for name, (entry, _) in COMMANDS.items():
        module, _, function = entry.partition(":")
        if (re.search(rf"^from {re.escape(module)} import [^\n]*\b{function}\b", text, re.MULTILINE)
                and f"sys.exit({function}())" in text):
            return name
    return None


def write_image_folder(root, n_train=8, n_test=2, classes=("cat", "dog", "ship"), size=32, seed=0):
    """Write root/{train,test}/<class>/*.png with random images whose mean brightness encodes the class.

    Returns {split: (images uint8 (N, size, size, 3), labels)} in the sorted-file order of each class.
    """
    from PIL import Image

    rng = np.random.default_rng(seed)
    root = pathlib.Path(root)
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images, labels = [], []
        for label, name in enumerate(sorted(classes)):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                base = 40 + 70 * label
                img = np.clip(rng.integers(-30, 30, (size, size, 3)) + base, 0, 255).astype(np.uint8)
                Image.fromarray(img).save(folder / f"{name}_{i:04d}.png")
                images.append(img)
                labels.append(label)
        out[split] = (np.stack(images), np.array(labels))
    return out


def backend_grads(fn, *arrays):
    """Gradients of the scalar ``fn(*tensors)`` with respect to every array, by autodiff on the active backend
    (jax.grad under JAX, tf.GradientTape under TensorFlow)."""
    import keras

    if keras.backend.backend() == "jax":
        import jax

        return [np.asarray(g) for g in jax.grad(fn, argnums=tuple(range(len(arrays))))(*arrays)]
    import tensorflow as tf

    tensors = [tf.constant(a) for a in arrays]
    with tf.GradientTape() as tape:
        for t in tensors:
            tape.watch(t)
        loss = fn(*tensors)
    return [g.numpy() for g in tape.gradient(loss, tensors)]


def run_train_command(root, out, *flags):
    """The training command in this process on the image folder ``root/data`` (cache ``root/cache``), writing to
    ``out``: (exit status, stdout, stderr)."""
    import contextlib
    import io

    from recipes.training import command

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code = command.main(["--data-dir", str(root / "data"), "--cache-dir", str(root / "cache"),
                                 "--output-dir", str(out), *flags])
        except SystemExit as e:
            code = e.code
    return code, stdout.getvalue(), stderr.getvalue()
