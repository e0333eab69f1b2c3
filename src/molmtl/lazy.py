"""Package attributes imported on first use (PEP 562), for packages whose parts pull heavy imports."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module


def lazy_exports(package: str, homes: Mapping[str, str], names: list[str]) -> tuple[Callable, Callable]:
    """``(__getattr__, __dir__)`` for ``package``: each of ``names`` is imported from the submodule
    ``homes[name]`` when first looked up, so importing the package itself costs nothing."""

    def __getattr__(name: str):
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(import_module(f"{package}.{homes[name]}"), name)

    def __dir__():
        return sorted(set(names) | {"__doc__", "__name__", "__path__"})

    return __getattr__, __dir__


__all__ = ["lazy_exports"]
