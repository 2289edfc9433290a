"""Every bench module imports. `make bench` runs them one after another for half an hour, the
front's last, and mypy does not read bench/: a broken import (a rename that missed one name)
stayed hidden there for a day."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import bench
from bench.__main__ import MODULES


def bench_modules() -> list[str]:
    return [module.name for module in pkgutil.walk_packages(bench.__path__, "bench.")]


@pytest.mark.parametrize("name", bench_modules())
def test_the_bench_module_imports(name: str) -> None:
    importlib.import_module(name)


def test_make_bench_runs_modules_that_exist() -> None:
    assert set(MODULES) <= set(bench_modules())
