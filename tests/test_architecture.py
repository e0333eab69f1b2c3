"""The architecture's rules, checked: import layers (import-linter's contracts in pyproject.toml),
and imports inside functions only where a heavy or optional dependency is put off, each saying why."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "molmtl"
ROOT = SRC.parents[1]


def _lint_imports() -> Path | None:
    exe = Path(sys.executable).with_name("lint-imports")
    return exe if exe.is_file() else (Path(p) if (p := shutil.which("lint-imports")) else None)


def test_import_layers_and_forbidden_imports_hold():
    exe = _lint_imports()
    if exe is None:
        pytest.fail("lint-imports is not installed (pip install -e '.[dev]' installs import-linter)")
    proc = subprocess.run([str(exe), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def _function_imports(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    lines = path.read_text().splitlines()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for inner in ast.walk(node):
                if isinstance(inner, (ast.Import, ast.ImportFrom)):
                    yield inner, " ".join(lines[inner.lineno - 1:inner.end_lineno])


def test_imports_inside_functions_say_why():
    """An import inside a function puts off a heavy or optional dependency (RDKit, PySCF,
    Lightning, PyTorch Geometric, Dask, matplotlib, torch in the CLI...) and says so on its line
    with ``# lazy: <reason>``; everything else is imported at the top of its module."""
    missing = []
    for path in sorted(SRC.rglob("*.py")):
        for node, line in _function_imports(path):
            if "# lazy:" not in line:
                missing.append(f"{path.relative_to(SRC)}:{node.lineno}: {line.strip()}")
    assert not missing, "imports inside functions without a '# lazy: reason':\n" + "\n".join(missing)


def test_no_import_cycles_between_molmtl_modules():
    """lint-imports' layers forbid upward imports; this names a cycle directly if one appears."""
    import grimp

    graph = grimp.build_graph("molmtl")
    modules = sorted(graph.modules)
    cycles = []
    for m in modules:
        for other in graph.find_modules_directly_imported_by(m):
            if other != m and graph.find_shortest_chain(importer=other, imported=m):
                cycles.append((m, other))
    assert not cycles, f"import cycles: {cycles[:5]}"


def test_every_source_folder_is_a_package_a_wheel_keeps():
    # setuptools' find (pyproject.toml) skips a folder without __init__.py: it would be missing from
    # a built wheel although the editable install finds it (molmtl.relate once was)
    from setuptools import find_packages

    folders = {p.parent for p in SRC.rglob("*.py") if "__pycache__" not in p.parts}
    missing = sorted(str(f.relative_to(SRC.parent)) for f in folders if not (f / "__init__.py").is_file())
    assert not missing, missing
    found = set(find_packages(str(SRC.parent)))
    assert {".".join(f.relative_to(SRC.parent).parts) for f in folders} <= found
