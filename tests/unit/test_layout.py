"""The repository's map holds: imports point down or sideways, never into tests/."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from harness.paths import REPO

PACKAGES = ("api", "worker", "shared", "cli", "bench", "harness", "tests")
MAX_LINES = 300


def modules(*packages: str) -> Iterator[Path]:
    for package in packages:
        yield from sorted((REPO / package).rglob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path, name: str | None = None) -> Iterator[str]:
    """Every module `path` (the module `name`) imports, relative imports resolved, wherever the
    import stands: in a function too."""
    package = (name or module_name(path)).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            yield module
            yield from (f"{module}.{alias.name}" for alias in node.names)


def importers_of(target: str, paths: Iterator[Path]) -> list[str]:
    return sorted(
        f"{path.relative_to(REPO)} imports {name}"
        for path in paths
        for name in imported(path)
        if name == target or name.startswith(f"{target}.")
    )


def test_nothing_outside_tests_imports_tests() -> None:
    assert importers_of("tests", modules(*(p for p in PACKAGES if p != "tests"))) == []


def test_only_the_build_step_imports_the_conversions() -> None:
    """worker/conversion/ runs when models are fetched; the worker at run time needs none of it
    (nor onnx). The command that fetches imports it, late."""
    conversion = REPO / "worker" / "conversion"
    run_time = (
        path for path in modules("worker", "api", "shared") if conversion not in path.parents
    )
    assert importers_of("worker.conversion", run_time) == []


def test_every_module_is_at_most_300_lines() -> None:
    """Small modules, each a concern a reader holds at once (STYLE.md)."""
    long = {
        str(path.relative_to(REPO)): lines
        for path in modules(*PACKAGES)
        if (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_the_import_check_sees_late_relative_and_plain_imports(tmp_path: Path) -> None:
    source = tmp_path / "stack.py"
    source.write_text(
        "import tests\n"
        "def f():\n"
        "    from tests.images import encode\n"
        "    from ..tests import service\n"
    )
    found = set(imported(source, "bench.stack"))
    assert {"tests", "tests.images", "tests.service"} <= found
