"""Codec registry: names -> classes.

Three sources fill it, all resolved lazily so that ``import rgbtask`` (and ``import rgbtask.registry``)
imports no codec module (and so neither Numba nor OpenCV):

* the built-in codec modules, one per task family, which the codecs package declares
  (:data:`rgbtask.codecs.BUILTIN_MODULES`, ``task -> module``) without importing them. A family's
  module is imported on the first lookup of a name of that task; its classes register themselves with
  ``@register_codec``, so a codec's name is written once, in its class's ``name``;
* :func:`register_codec`, as a call or a class decorator;
* third-party packages, through the entry-point group ``rgbtask.codecs``: an entry point's name is
  the codec name and its value ``"package.module:Class"``. They are discovered on the first lookup
  and imported only when that codec is asked for.

Registering a name twice is an error unless ``replace=True``. A built-in name replaced before its
family's module was imported stays replaced: the built-in class's own registration is then ignored.
Likewise a lazily referenced class that registers itself after its name was replaced (or after its
entry point was refused for a clash) is ignored, so that importing its module does not fail. An unknown name raises
:class:`~rgbtask.errors.UnknownCodecError` listing the close matches.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import re
import threading
import warnings
from collections.abc import Mapping
from typing import Any

from rgbtask.codec import Codec
from rgbtask.errors import ConfigError, RegistrationError, UnknownCodecError

__all__ = [
    "ENTRY_POINT_GROUP",
    "get_codec",
    "get_codec_class",
    "list_codecs",
    "register_codec",
    "unregister_codec",
]

ENTRY_POINT_GROUP = "rgbtask.codecs"
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_]*/[a-z0-9][a-z0-9_.-]*$")

_lock = threading.RLock()
_entries: dict[str, type[Codec] | str] = {}  # a class, or a lazy "module:attr" reference
_origins: dict[str, str] = {}  # name -> where it came from ("builtin", "entry point <dist>", ...)
# name -> lazy references that lost that name (replaced, or refused as a clash): when their module is
# imported, its ``@register_codec`` for that name is ignored instead of failing the whole import.
_shadowed: dict[str, set[str]] = {}
_entry_points_loaded = False
# Built-in families: task -> module, as the codecs package declares them; a module leaves _pending
# once imported (its classes then registered themselves).
_builtin_modules: dict[str, str] = {}
_pending: dict[str, str] = {}
BUILTIN_ORIGIN = "rgbtask"


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise RegistrationError(
            f"expected a codec name of the form 'task/scheme' (lower case, e.g. 'depth/cubewalk'), "
            f"got {name!r}"
        )
    return name


def _reference(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _add_lazy(name: str, reference: str, origin: str) -> None:
    _load_family(_task_of(name))  # a built-in of that name is registered first, and wins
    with _lock:
        if name in _entries:
            warnings.warn(
                f"rgbtask: {origin} offers codec {name!r}, already registered by "
                f"{_origins.get(name, '?')}; ignored",
                RuntimeWarning,
                stacklevel=3,
            )
            _shadowed.setdefault(name, set()).add(reference)
            return
        _entries[name] = reference
        _origins[name] = origin


def declare_builtin_modules(modules: Mapping[str, str]) -> None:
    """Declare built-in codec modules (``task -> module``), imported on a first lookup of that task.

    Called by :mod:`rgbtask.codecs`; the codec names come from the classes, which register
    themselves with ``@register_codec`` when their module is imported.
    """
    with _lock:
        for task, module in modules.items():
            if module not in _builtin_modules.values():
                _pending[task] = module
            _builtin_modules[task] = module


def _declared() -> None:
    if not _builtin_modules:
        importlib.import_module("rgbtask.codecs")  # declares the built-in families (imports none)


def _load_family(task: Any) -> None:
    """Import the built-in module of ``task`` (a name's part before the slash), if not done yet."""
    _declared()
    module = _pending.get(task) if isinstance(task, str) else None
    if module is None:
        return
    # Imported without holding the lock: the module's @register_codec takes it (and another thread
    # may be importing the same module directly, holding its import lock).
    importlib.import_module(module)
    with _lock:
        _pending.pop(task, None)


def _load_all_families() -> None:
    _declared()
    for task in list(_pending):
        _load_family(task)


def _task_of(name: Any) -> Any:
    return name.split("/", 1)[0] if isinstance(name, str) else None


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    from importlib.metadata import entry_points

    found = list(entry_points(group=ENTRY_POINT_GROUP))
    for ep in found:  # built-ins first, outside the lock: a plugin never takes a built-in's name
        _load_family(_task_of(ep.name))
    with _lock:
        if _entry_points_loaded:
            return
        _entry_points_loaded = True
        for ep in found:
            dist = getattr(getattr(ep, "dist", None), "name", None) or "?"
            try:
                name = _check_name(ep.name)
            except RegistrationError as exc:
                warnings.warn(
                    f"rgbtask: entry point from {dist} ignored: {exc}", RuntimeWarning, stacklevel=2
                )
                continue
            _add_lazy(name, ep.value, f"entry point of {dist}")


def register_codec(
    cls: type[Codec] | None = None, name: str | None = None, *, replace: bool = False
):
    """Register a :class:`~rgbtask.Codec` subclass under ``name`` (default: ``cls.name``).

    Usable as ``register_codec(MyCodec)``, ``@register_codec`` or ``@register_codec(name="x/y")``.
    A name already taken by another class raises :class:`~rgbtask.errors.RegistrationError` unless
    ``replace=True``; registering the very same class again is a no-op.
    Returns the class, so it works as a decorator.
    """

    def decorate(klass: type[Codec]) -> type[Codec]:
        if not (isinstance(klass, type) and issubclass(klass, Codec)):
            raise RegistrationError(f"expected a subclass of rgbtask.Codec, got {klass!r}")
        codec_name = name if name is not None else klass.name
        _check_name(codec_name)
        if klass.name and klass.name != codec_name:
            raise RegistrationError(
                f"{klass.__qualname__}.name is {klass.name!r} but it is being registered as "
                f"{codec_name!r}; get_config() must carry the registered name"
            )
        if inspect.isabstract(klass):
            raise RegistrationError(f"{klass.__qualname__} is abstract: implement every method")
        builtin = klass.__module__ in _builtin_modules.values()
        if not replace and not builtin:
            _load_family(_task_of(codec_name))  # so that taking a built-in name is a clash
        with _lock:
            existing = _entries.get(codec_name)
            # Importing a lazily referenced module registers the class it refers to: not a clash.
            same = existing is klass or existing == _reference(klass)
            if existing is not None and not same and not replace:
                if builtin and klass.__module__ in _pending.values():
                    return klass  # a built-in replaced before its module was imported: ignored
                if _reference(klass) in _shadowed.get(codec_name, ()):
                    return klass  # its name was replaced (or its entry point refused): ignored
                raise RegistrationError(
                    f"codec name {codec_name!r} is already registered "
                    f"({_origins.get(codec_name, '?')}); pass replace=True to replace it"
                )
            if isinstance(existing, str) and not same:
                _shadowed.setdefault(codec_name, set()).add(existing)
            klass.name = codec_name  # only now: a refused registration leaves the class as it was
            _entries[codec_name] = klass
            if not same:
                _origins[codec_name] = BUILTIN_ORIGIN if builtin else klass.__module__
        return klass

    if cls is None:
        return decorate
    return decorate(cls)


def unregister_codec(name: str) -> None:
    """Remove a codec from the registry (for tests and plugin reloads).

    An unknown name raises :class:`~rgbtask.errors.UnknownCodecError`.
    """
    _load_family(_task_of(name))
    with _lock:
        known = isinstance(name, str) and name in _entries
        if known:
            del _entries[name]
            _origins.pop(name, None)
    if not known:  # the message may import the other families: outside the lock
        raise UnknownCodecError(_unknown_message(name))


def _unknown_message(name: str) -> str:
    _load_all_families()  # the close matches may be in any family
    with _lock:
        names = sorted(_entries)
    close = difflib.get_close_matches(str(name), names, n=5, cutoff=0.5)
    hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
    return f"no codec named {name!r}{hint} (registered: {', '.join(names)})"


def get_codec_class(name: str) -> type[Codec]:
    """The class registered under ``name``, importing its module on first use.

    Raises :class:`~rgbtask.errors.UnknownCodecError` (with close matches) for an unknown name and
    :class:`~rgbtask.errors.RegistrationError` when a plugin's module cannot be loaded.
    """
    _load_family(_task_of(name))
    _load_entry_points()
    with _lock:
        entry = _entries.get(name) if isinstance(name, str) else None
    if entry is None:  # the message may import the other families: outside the lock
        raise UnknownCodecError(_unknown_message(name))
    if isinstance(entry, type):
        return entry
    module_name, _, attr = entry.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except Exception as exc:  # a broken plugin must not look like an unknown name
        raise RegistrationError(
            f"codec {name!r} ({_origins.get(name, '?')}) could not be loaded from {entry!r}: {exc}"
        ) from exc
    if not (isinstance(obj, type) and issubclass(obj, Codec)):
        raise RegistrationError(
            f"codec {name!r} refers to {entry!r}, which is not a Codec subclass"
        )
    with _lock:
        current = _entries.get(name)
        if not isinstance(current, type):
            if obj.name and obj.name != name:
                raise RegistrationError(f"{entry!r} has name {obj.name!r}, registered as {name!r}")
            obj.name = name
            if current == entry:  # not unregistered (or re-pointed) while we were importing
                _entries[name] = obj
    return obj


def list_codecs(task: str | None = None) -> list[str]:
    """Sorted names of every registered codec, or of one task's (``"depth"``, ``"mask"``, ...)."""
    if task is None:
        _load_all_families()
    else:
        _load_family(task)
    _load_entry_points()
    with _lock:
        names = sorted(_entries)
    if task is not None:
        names = [n for n in names if n.split("/", 1)[0] == task]
    return names


def get_codec(name_or_config: str | Mapping[str, Any] | Codec, **params: Any) -> Codec:
    """A codec by name with keyword parameters, or from a config dict (``get_config()`` output).

    Keyword ``params`` override the config's. A :class:`Codec` instance is returned as it is (or,
    with params, rebuilt with them).
    """
    if isinstance(name_or_config, Codec):
        if not params:
            return name_or_config
        name_or_config = name_or_config.get_config()
    if isinstance(name_or_config, Mapping):
        config = dict(name_or_config)
        if "name" not in config:
            raise ConfigError(f"a codec config needs a 'name' key, got keys {sorted(config)}")
        name = config.pop("name")
        config.update(params)
    elif isinstance(name_or_config, str):
        name, config = name_or_config, dict(params)
    else:
        raise ConfigError(
            f"expected a codec name, config dict or Codec, got {type(name_or_config).__name__}"
        )
    cls = get_codec_class(name)
    _check_params(cls, config)
    return cls.from_config({"name": name, **config})


def _check_params(cls: type[Codec], config: Mapping[str, Any]) -> None:
    signature = inspect.signature(cls)
    accepts_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    if accepts_any:
        return
    accepted = [p for p in signature.parameters if p != "self"]
    unknown = [k for k in config if k not in accepted]
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, accepted, n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ConfigError(
            f"unknown parameter {', '.join(hints)} for codec {cls.name!r}; "
            f"accepted: {', '.join(accepted) or 'none'}"
        )
