"""One registry for every kind of plug-in: encoders, strategies, weightings, methods, ...

A :class:`Registry` maps names to classes (or factory functions) of one kind. Plug-ins register
themselves with a decorator in the file that defines them::

    from molmtl.mtl.registry import STRATEGIES

    @STRATEGIES.register("toy")
    class ToySharing(Strategy):
        def __init__(self, tasks, encoder_factory, head_factory, strength: float = 1.0): ...

and :meth:`Registry.build` makes one from its name and keyword options, checking the option
names and types first, so that a misspelled name or option is one sentence listing what there
is, never a ``TypeError`` from deep inside. Options are the keyword parameters of the class (or
function) minus those the caller injects (a strategy's tasks and factories, a weighting's task
count); their types come from the annotations, so ``"lam=0.01"`` from the command line becomes
a float.

Finding plug-ins without importing everything: a registry knows the package its built-in
plug-ins live in. Looking up ``cross-stitch`` first imports the module named after it
(``<package>.cross_stitch``), which registers it; only a name not found that way imports the
package's other modules (then the ``molmtl.plugins`` entry points of installed packages). So
predicting with PaiNN never imports the 2D encoders' PyTorch Geometric, and adding a plug-in is
one file.

Names match ignoring case, ``-``, ``_`` and spaces (``Cross_Stitch`` is ``cross-stitch``, ``nash-mtl``
is ``nashmtl``); tables show the registered spelling.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import pkgutil
import re
import sys
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from molmtl.errors import InputError

T = TypeVar("T")

#: Entry-point group through which installed packages add plug-ins: each entry names a module to
#: import, whose decorators register its plug-ins (``[project.entry-points."molmtl.plugins"]``).
ENTRY_POINT_GROUP = "molmtl.plugins"

_NO_DEFAULT = inspect.Parameter.empty


def normalize_name(name: str) -> str:
    """The look-up key of a plug-in name: lower case, without ``-``, ``_`` and spaces."""
    return re.sub(r"[-_\s]", "", str(name).strip().lower())


@dataclass(frozen=True)
class OptionSpec:
    """One keyword option of a plug-in.

    Attributes:
        name: the keyword.
        annotation: its type (``float``, ``int | None``, ...), or None when not annotated.
        default: its default, or :data:`inspect.Parameter.empty` when required.
        help: the line its docstring's ``Args:`` section gives it (may be empty).
    """

    name: str
    annotation: Any = None
    default: Any = _NO_DEFAULT
    help: str = ""

    @property
    def required(self) -> bool:
        return self.default is _NO_DEFAULT

    def type_name(self) -> str:
        return _type_name(self.annotation, self.default)


@dataclass(frozen=True)
class Entry:
    """A registered plug-in: its name, the object that builds it and its options."""

    name: str
    obj: Callable
    options: Mapping[str, OptionSpec] = field(default_factory=dict)
    summary: str = ""


class Registry(Generic[T]):
    """Named plug-ins of one kind.

    Args:
        kind: what the plug-ins are, for messages (``"encoder"``, ``"strategy"``...).
        package: the package of the built-in plug-ins (imported module by module on look-up).
        injected: parameters the caller passes itself, which are therefore not user options.
        check_injected: called with the injected keyword values before each build (their checks).
    """

    def __init__(self, kind: str, *, package: str | None = None, injected: Sequence[str] = (),
                 check_injected: Callable[[dict], None] | None = None):
        if kind in _REGISTRIES:
            raise ValueError(f"there is already a registry of {kind} plug-ins")
        self.kind, self.package, self.injected = kind, package, tuple(injected)
        self._check_injected = check_injected
        self._home = sys._getframe(1).f_globals.get("__name__", "")  # the module that made it, for pickling
        self._entries: dict[str, Entry] = {}
        self._discovered = False
        self._plugins_loaded = False
        _REGISTRIES[kind] = self

    def __reduce__(self):  # by reference: a pickled factory (DDP spawn, workers) finds the process's own
        return registry_of, (self.kind, self._home)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, package={self.package!r})"

    # ------------------------------------------------------------------ registration
    def register(self, name: str | None = None, *, options_from: Sequence[Callable] = (),
                 defaults: Mapping[str, Any] | None = None, summary: str | None = None):
        """Decorator registering a class or factory function under ``name`` (default: its name).

        Args:
            options_from: callables whose keyword parameters are the options instead of the
                decorated object's own (a factory that passes ``**options`` on).
            defaults: option defaults that differ from those signatures.
            summary: one line for listings (default: the first line of the docstring).
        """

        def decorate(obj):
            key_name = name or obj.__name__.lower()
            key = normalize_name(key_name)
            sources = tuple(options_from) or (obj,)
            options = _options_of(sources, self.injected, defaults or {})
            text = summary if summary is not None else _first_line(obj.__doc__)
            old = self._entries.get(key)
            if old is not None and old.obj is not obj and _qualname(old.obj) != _qualname(obj):
                raise ValueError(f"{self.kind} {key_name!r} is registered twice ({_qualname(old.obj)}, {_qualname(obj)})")
            self._entries[key] = Entry(key_name, obj, options, text)
            return obj

        return decorate

    def unregister(self, name: str) -> None:
        """Remove ``name`` (a plug-in registered for a while, e.g. in a test)."""
        self._entries.pop(normalize_name(name), None)

    # ------------------------------------------------------------------ look-up
    def __contains__(self, name: str) -> bool:
        try:
            self.entry(name)
        except InputError:
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def names(self) -> tuple[str, ...]:
        """Every plug-in's name, sorted (imports every built-in module of the package)."""
        self._discover_all()
        return tuple(sorted(e.name for e in self._entries.values()))

    def entry(self, name: str) -> Entry:
        """The :class:`Entry` called ``name``; InputError listing the names when there is none."""
        if not isinstance(name, str) or not name.strip():
            raise InputError(f"a {self.kind} name must be a non-empty string, got {name!r}; choose one of: "
                             f"{', '.join(self.names())}")
        key = normalize_name(name)
        if key not in self._entries:
            self._import_named(name)
        if key not in self._entries:
            self._discover_all()
        if key not in self._entries:
            raise InputError(f"unknown {self.kind} {name!r}; choose one of: {', '.join(self.names())}")
        return self._entries[key]

    def get(self, name: str) -> Callable:
        """The class or function registered as ``name``."""
        return self.entry(name).obj

    def canonical(self, name: str) -> str:
        """The registered spelling of ``name``."""
        return self.entry(name).name

    def options(self, name: str) -> Mapping[str, OptionSpec]:
        return self.entry(name).options

    # ------------------------------------------------------------------ options and building
    def check_options(self, name: str, options: Mapping[str, Any]) -> dict[str, Any]:
        """``options`` with each value checked against (and strings converted to) its type.

        InputError (one sentence) for an option the plug-in does not take, naming those it takes,
        or for a value of the wrong type.
        """
        entry = self.entry(name)
        return check_options(f"{self.kind} {entry.name!r}", entry.options, options)

    def parse_options(self, name: str, pairs: Sequence[str]) -> dict[str, Any]:
        """``["lam=0.01", "same_init=true"]`` (command-line ``KEY=VALUE`` pairs) -> typed options."""
        entry = self.entry(name)
        return check_options(f"{self.kind} {entry.name!r}", entry.options, parse_pairs(pairs, f"{self.kind} option"))

    def build(self, name: str, /, *args, **options) -> T:
        """A new plug-in ``name``: ``obj(*args, **options)``.

        ``options`` are the user's options, checked by :meth:`check_options`, and any of the
        registry's ``injected`` parameters, passed on as given.
        """
        entry = self.entry(name)
        injected = {k: v for k, v in options.items() if k in self.injected}
        if self._check_injected is not None:
            self._check_injected(injected)
        checked = check_options(f"{self.kind} {entry.name!r}", entry.options,
                                {k: v for k, v in options.items() if k not in self.injected})
        missing = [o.name for o in entry.options.values() if o.required and o.name not in checked]
        if missing:
            raise InputError(f"{self.kind} {entry.name!r} needs the option {missing[0]!r}")
        return entry.obj(*args, **injected, **checked)

    def describe(self) -> str:
        """A plain-text listing: each plug-in, its summary and options with types and defaults."""
        lines = []
        for key_name in self.names():
            entry = self.entry(key_name)
            lines.append(f"{entry.name}: {entry.summary}" if entry.summary else entry.name)
            for o in entry.options.values():
                default = "required" if o.required else f"default {o.default!r}"
                lines.append(f"    {o.name} ({o.type_name()}, {default})" + (f": {o.help}" if o.help else ""))
        return "\n".join(lines)

    # ------------------------------------------------------------------ discovery
    def _import_named(self, name: str) -> None:
        """Import ``<package>.<name>`` (``-`` as ``_``) when there is such a module."""
        if self.package is None:
            return
        for candidate in dict.fromkeys((re.sub(r"[-\s]", "_", name.strip().lower()), normalize_name(name))):
            module = f"{self.package}.{candidate}"
            try:
                if importlib.util.find_spec(module) is not None:
                    importlib.import_module(module)
            except ImportError:
                continue

    def _discover_all(self) -> None:
        if not self._discovered and self.package is not None:
            self._discovered = True
            pkg = importlib.import_module(self.package)
            for info in pkgutil.iter_modules(pkg.__path__, prefix=f"{self.package}."):
                importlib.import_module(info.name)
        if not self._plugins_loaded:
            self._plugins_loaded = True
            for ep in entry_points(group=ENTRY_POINT_GROUP):
                importlib.import_module(ep.value.split(":")[0])


_REGISTRIES: dict[str, Registry] = {}


def registry_of(kind: str, home: str | None = None) -> Registry:
    """The registry of ``kind`` plug-ins, made when its module (``home``) was imported."""
    if kind not in _REGISTRIES and home:
        importlib.import_module(home)
    return _REGISTRIES[kind]


# ---------------------------------------------------------------------- options of callables
def _qualname(obj) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


def _first_line(doc: str | None) -> str:
    return _plain((doc or "").strip().splitlines()[0]) if (doc or "").strip() else ""


def _plain(text: str) -> str:
    """reStructuredText roles and literals as plain text (``:math:`\\tau``` -> ``\\tau``)."""
    text = re.sub(r":\w+:`([^`]*)`", r"\1", text)
    return re.sub(r"`+([^`]*)`+", r"\1", text).strip()


def _arg_help(doc: str | None) -> dict[str, str]:
    """``name -> text`` from Google-style ``Args:`` sections (``name (type): text``, continued on
    more deeply indented lines)."""
    out: dict[str, str] = {}
    in_args, current, indent = False, None, 0
    for line in (doc or "").splitlines():
        stripped = line.strip()
        depth = len(line) - len(line.lstrip())
        if stripped in ("Args:", "Arguments:", "Parameters:"):
            in_args, current = True, None
            continue
        if not in_args:
            continue
        if not stripped or (stripped.endswith(":") and " " not in stripped):  # a blank line or the next section
            in_args, current = bool(stripped) and False, None
            continue
        m = re.match(r"^([A-Za-z_][\w, ]*?)(?:\s*\([^)]*\))?\s*:\s*(.*)$", stripped)
        if m and (current is None or depth <= indent):
            current, indent = [n.strip() for n in m.group(1).split(",")], depth
            for name in current:
                out.setdefault(name, m.group(2).strip())
        elif current is not None and depth > indent:
            for name in current:
                out[name] = f"{out[name]} {stripped}"
    return {k: _plain(v) for k, v in out.items()}


def _signature_of(obj: Callable) -> tuple[inspect.Signature, dict[str, Any], str | None]:
    target = obj.__init__ if inspect.isclass(obj) else obj
    try:
        hints = typing.get_type_hints(target)
    except Exception:  # noqa: BLE001 - a third-party annotation we cannot resolve: types from defaults
        hints = {}
    doc = obj.__doc__ or ""
    if inspect.isclass(obj) and obj.__init__.__doc__:
        doc += "\n" + obj.__init__.__doc__
    if inspect.isclass(obj):  # class docstrings often list the arguments in the module's docstring
        module_doc = getattr(inspect.getmodule(obj), "__doc__", None) or ""
        doc = doc + "\n" + module_doc
    return inspect.signature(target), hints, doc


def options_of(*sources: Callable, injected: Sequence[str] = (), defaults: Mapping[str, Any] | None = None) -> dict[str, OptionSpec]:
    """The keyword options of ``sources`` (classes or functions; the first to name one wins),
    leaving out ``injected`` parameters; ``defaults`` override theirs."""
    return _options_of(sources, injected, defaults or {})


def _options_of(sources: Sequence[Callable], injected: Sequence[str], defaults: Mapping[str, Any]) -> dict[str, OptionSpec]:
    options: dict[str, OptionSpec] = {}
    for source in sources:
        sig, hints, doc = _signature_of(source)
        helps = _arg_help(doc)
        for p in sig.parameters.values():
            if p.name == "self" or p.name in injected or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            default = defaults.get(p.name, p.default)
            options.setdefault(p.name, OptionSpec(p.name, hints.get(p.name), default, helps.get(p.name, "")))
    return options


# ---------------------------------------------------------------------- values
def parse_pairs(pairs: Sequence[str], what: str = "option") -> dict[str, str]:
    """``["a=1", "b=x,y"]`` -> ``{"a": "1", "b": "x,y"}``; InputError for an item without ``=``."""
    out = {}
    for item in pairs:
        key, sep, value = str(item).partition("=")
        if not sep or not key.strip():
            raise InputError(f"a {what} is KEY=VALUE (e.g. lam=0.01), got {item!r}")
        out[key.strip().replace("-", "_")] = value.strip()
    return out


def check_options(owner: str, specs: Mapping[str, OptionSpec], options: Mapping[str, Any]) -> dict[str, Any]:
    """Options checked against ``specs`` (see :meth:`Registry.check_options`); ``owner`` names
    the plug-in in messages."""
    out = {}
    for key, value in options.items():
        spec = specs.get(key)
        if spec is None:
            known = ", ".join(specs) or "none"
            raise InputError(f"{owner} has no option {key!r}; its options are: {known}")
        out[key] = coerce(value, spec.annotation, spec.default, f"{owner} option {key!r}")
    return out


def _type_name(annotation, default) -> str:
    if typing.get_origin(annotation) is typing.Literal:
        return "one of " + ", ".join(map(str, typing.get_args(annotation)))
    if annotation is None:
        return type(default).__name__ if default not in (None, _NO_DEFAULT) else "any"
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _union_args(annotation) -> tuple:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)


_TRUE, _FALSE = {"true", "yes", "on", "1"}, {"false", "no", "off", "0"}


def _from_text(text: str, kind, where: str):
    """A command-line string as ``kind`` (bool, int, float, str, list/tuple, dict, Literal)."""
    origin = typing.get_origin(kind)
    if kind is bool:
        low = text.strip().lower()
        if low in _TRUE or low in _FALSE:
            return low in _TRUE
        raise ValueError
    if kind is int:
        return int(text)
    if kind is float:
        return float(text)
    if kind is str:
        return text
    if origin is typing.Literal:
        if text in typing.get_args(kind):
            return text
        raise ValueError
    if kind in (list, tuple) or origin in (list, tuple, Sequence, typing.Sequence):
        text = text.strip()
        items = json.loads(text) if text.startswith("[") else [s.strip() for s in text.split(",") if s.strip()]
        args = [a for a in typing.get_args(kind) if a is not Ellipsis]
        if len(args) == 1 and not isinstance(items, str):
            items = [coerce(v, args[0], _NO_DEFAULT, where) for v in items]
        return tuple(items) if (kind is tuple or origin is tuple) else list(items)
    if kind is dict or origin is dict:
        value = json.loads(text)
        if not isinstance(value, dict):
            raise ValueError
        return value
    raise TypeError


def coerce(value, annotation, default, where: str):
    """``value`` as the option's type: command-line strings are converted, other values checked.

    ``None`` is accepted where the type (or a None default) allows it; ints where floats are
    wanted. InputError names the option and the type wanted.
    """
    kinds = _union_args(annotation) if annotation is not None else ()
    optional = type(None) in kinds or default is None
    concrete = [k for k in kinds if k is not type(None)]
    if annotation is None and default not in (None, _NO_DEFAULT):
        concrete = [type(default)]
    if value is None:
        if optional or not concrete:
            return None
        raise InputError(f"{where} cannot be None; it takes {_type_name(annotation, default)}")
    if not concrete:  # unannotated, no default to go by: take it as given
        return value
    if isinstance(value, str) and str not in concrete:
        if optional and value.strip().lower() in ("none", "null"):
            return None
        for kind in concrete:
            try:
                return _from_text(value, kind, where)
            except (ValueError, TypeError, json.JSONDecodeError):
                continue
        raise InputError(f"{where} takes {_type_name(annotation, default)}, got {value!r}")
    for kind in concrete:
        if _is_instance(value, kind):
            return float(value) if kind is float and not isinstance(value, bool) else value
    raise InputError(f"{where} takes {_type_name(annotation, default)}, got {value!r}")


def _is_instance(value, kind) -> bool:
    origin = typing.get_origin(kind)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin is typing.Literal:
        return value in typing.get_args(kind)
    if origin is not None:
        kind = origin
    if kind in (Sequence, typing.Sequence):
        return isinstance(value, (list, tuple))
    try:
        return isinstance(value, kind)
    except TypeError:  # a typing construct isinstance cannot check: accept it
        return True


__all__ = ["Registry", "registry_of", "Entry", "OptionSpec", "normalize_name", "coerce", "check_options", "parse_pairs",
           "options_of", "ENTRY_POINT_GROUP"]
