"""The README's quickstart, CI and the module layering stay consistent."""

import ast
import pathlib
import re
from importlib import metadata

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "keras_scratch_rnn"

# Data flow, bottom to top: a module may import only those before it.
LAYERS = [
    "tolerances",
    "reference",
    "ops",
    "scratch_rnn_cell",
    "scratch_rnn",
    "interchange",
    "tbptt",
    "parity",
    "terminal",
    "demos",
    "explain",
    "gradflow",
    "figures",
    "docs_gen",
    "cli",
    "__main__",
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
    assert "pip install" in commands[1] and "[test]" in commands[1]
    assert "pytest" in commands[1]


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


def test_lower_layers_never_import_upper_ones():
    """reference -> ops -> layers -> tools; never the other way."""
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    assert modules <= set(LAYERS), modules - set(LAYERS)
    for i, name in enumerate(LAYERS):
        path = PACKAGE / f"{name}.py"
        if not path.exists():
            continue
        upper = {f"keras_scratch_rnn.{m}" for m in LAYERS[i + 1 :]}
        assert not _imports(path) & upper, name
    assert "tensorflow" not in _imports(PACKAGE / "reference.py")
    assert "keras" not in _imports(PACKAGE / "ops.py")
