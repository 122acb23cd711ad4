"""The README's quickstart, CI and the module layering stay consistent."""

import ast
import pathlib
import re
from importlib import metadata

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "keras_scratch_rnn"

# Data flow, bottom to top: a module may import only those before it.
# The package's levels, bottom to top: a module never imports one of a
# higher level.
LAYERS = [
    ("tolerances", "terminal"),
    ("reference",),
    ("ops",),
    ("layers",),
    ("tools",),
    ("learn",),
    ("cli", "__main__"),
]


def _quickstart_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quickstart", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def test_quickstart_is_two_one_line_commands():
    """Exactly two commands: install + main job, install + tests."""
    commands = _quickstart_commands()
    assert len(commands) == 2
    assert "pip install" in commands[0]
    assert "python -m keras_scratch_rnn" in commands[0]
    assert "pip install" in commands[1] and ".[test," in commands[1]
    for backend in ("jax", "torch"):  # each backend's process
        assert f"KERAS_BACKEND={backend} python -m pytest" in commands[1]


def test_ci_runs_the_readme_test_command():
    """`.ci/run` runs the README's second command, word for word."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert _quickstart_commands()[1] in ci.splitlines()


def test_dependencies():
    """TensorFlow with Keras 3 and NumPy; pytest in the test extra."""
    requires = metadata.requires("keras-scratch-rnn")
    core = [r for r in requires if "extra ==" not in r]
    assert any(r.startswith("tensorflow>=2.16") for r in core)
    assert any(r.startswith("numpy") for r in core)
    assert any(
        r.startswith("pytest") and 'extra == "test"' in r for r in requires
    )


def _imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def _level(module):
    """The index in LAYERS of `keras_scratch_rnn.<name>...`, or None."""
    parts = module.split(".")
    if parts[0] != "keras_scratch_rnn" or len(parts) < 2:
        return None
    return next(
        (i for i, names in enumerate(LAYERS) if parts[1] in names), None
    )


def _top_level_imports(path):
    """Modules imported at the top of a file (not inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return _imports_of(node for node in tree.body)


def _imports_of(nodes):
    names = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_lower_layers_never_import_upper_ones():
    """reference -> ops -> layers -> tools -> learn -> cli; never the other
    way. The math is written once, with no backend; each backend's ops
    import only their own; the layers work on every backend, so they
    import no backend at module level."""
    files = sorted(PACKAGE.rglob("*.py"))
    for path in files:
        name = path.relative_to(PACKAGE).with_suffix("").parts[0]
        if name == "__init__":
            continue
        level = next(i for i, names in enumerate(LAYERS) if name in names)
        for module in _imports(path):
            other = _level(module)
            assert other is None or other <= level, (path, module)
    backends = {"tensorflow", "jax", "torch", "keras"}

    def roots(path):
        return {m.split(".")[0] for m in _top_level_imports(path)}

    assert not roots(PACKAGE / "reference" / "rnn.py") & backends
    assert not roots(PACKAGE / "ops" / "rnn_math.py") & backends
    for backend in ("tensorflow", "jax", "torch"):
        path = PACKAGE / "ops" / f"{backend}.py"
        if path.exists():
            assert not roots(path) & (backends - {backend}), path
    for path in (PACKAGE / "layers").glob("*.py"):
        assert not roots(path) & {"tensorflow", "jax", "torch"}, path
