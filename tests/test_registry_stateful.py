"""Stateful tests of the registry: register / replace / lookup / lazy references / entry points.

A hypothesis state machine drives the real registry and a plain-dict model side by side and checks,
after every step, that they agree. The model is written from the registry's documented behaviour:

* ``register_codec`` takes a name once; the very same class again is a no-op; another class needs
  ``replace=True``; bad names, non-Codec classes and abstract classes are refused; a failed
  registration changes nothing (neither the registry nor the class);
* lazy ``"module:attr"`` references (entry points) resolve to the class they name on first lookup
  (the built-in families' modules are imported up front here, so their classes are registered); a module whose import registers its classes with ``@register_codec`` (as the
  built-in codec modules do) is no clash, and neither is one whose name was replaced in the meantime
  (the replacement stands); a broken reference is a RegistrationError naming it, never "unknown";
* entry points are discovered on the first lookup; a plugin name clashing with a registered one and
  a malformed name are ignored with a warning.

Codecs here are throwaway classes in throwaway modules (one put straight into ``sys.modules``, others
served by an import hook so that importing them runs ``register_codec``). Every test leaves the
global registry exactly as it found it.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import difflib
import importlib
import importlib.abc
import importlib.machinery
import importlib.metadata
import inspect
import itertools
import os
import re
import subprocess
import sys
import textwrap
import threading
import time
import types
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

import rgbtask
from rgbtask import registry
from rgbtask.codec import Codec, Decoded
from rgbtask.errors import ConfigError, RegistrationError, RgbtaskError, UnknownCodecError

# The built-in codec modules are imported once, up front, so that the model knows their classes
# (each registers its own: the registry holds them as classes from then on).
registry._load_all_families()
BUILTIN_CODECS = {
    name: f"{cls.__module__}:{cls.__qualname__}"
    for name, cls in registry._entries.items()
    if registry._origins[name] == "rgbtask"
}

NAMES = ["normals/xyz", "mask/binary", "toy/a", "toy/b", "toy/c", "other/a"]  # valid, some built-in
ABSENT = ["toy/aa", "normal/xyz", "toy/d", "zzz/qqq"]  # valid names the machine never registers
MALFORMED = ["Bad/Name", "nodash"]  # entry-point names that are not codec names
INVALID = ["", "Toy/A", "toy", "toy/", "/a", "toy a/b", "toy/a/b", 5, *MALFORMED]
TASKS = [None, "toy", "to", "normals", "mask", "other", "zzz"]
DIST = "rgbtask-toyplugin"
# References that cannot be loaded; "{toys}" is this run's throwaway module.
BROKEN = [
    "no_such_module_xyz:Thing",
    "{toys}:Missing",
    "{toys}:Holder.Missing",
    "{toys}:not_a_codec",
    "{toys}:helper",
]
_serial = itertools.count()


# ------------------------------------------------------------------------------ throwaway codecs
class _Trivial:
    """The abstract methods of Codec, implemented trivially (a gray-level toy)."""

    error_unit = "level"

    def validate_value(self, value):
        return np.ascontiguousarray(np.asarray(value, dtype=np.uint8))

    def _encode(self, value):
        return np.repeat(value[..., None], 3, axis=-1)

    def _decode(self, rgb):
        value = rgb[..., 0]
        ones = np.ones(value.shape, np.float32)
        return Decoded(value, ones, ones > 0)

    def roundtrip_error(self, reference, decoded):
        return np.abs(reference.astype(int) - decoded)

    def roundtrip_bound(self, reference):
        return 0


class _Abstract(Codec):
    """Misses every method: registering it must fail."""

    name = "toy/abstract"


def make_toy(module: str, attr: str, preset: str = "") -> type[Codec]:
    """A fresh ``@dataclass(frozen=True, eq=False, repr=False)`` Codec named ``module:attr``."""

    def body(ns):
        ns.update({"__module__": module, "__qualname__": attr, "__annotations__": {"level": int}})
        ns["level"] = 0
        if preset:
            ns["name"] = preset

    cls = types.new_class(attr, (_Trivial, Codec), exec_body=body)
    return dataclasses.dataclass(frozen=True, eq=False, repr=False)(cls)


def reference(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


class _PluginFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves throwaway modules whose import registers their classes, as a codec module does."""

    def __init__(self):
        self.modules: dict[str, tuple[list[type], list[type], object]] = {}
        self.executed: dict[str, int] = {}

    def add(self, module: str, registers=(), holds=(), before_exec=None) -> None:
        """``module`` holds ``registers`` + ``holds``; importing it registers ``registers``."""
        self.modules[module] = (list(registers), list(holds), before_exec)

    def find_spec(self, fullname, path=None, target=None):
        if fullname in self.modules:
            return importlib.machinery.ModuleSpec(fullname, self)
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        registers, holds, before_exec = self.modules[module.__name__]
        self.executed[module.__name__] = self.executed.get(module.__name__, 0) + 1
        if before_exec is not None:
            before_exec()
        for cls in holds + registers:
            setattr(module, cls.__qualname__, cls)
        for cls in registers:
            registry.register_codec(cls)  # what ``@register_codec`` does at import


_FINDER = _PluginFinder()


@contextlib.contextmanager
def plugin_modules():
    """The import hook installed; its modules forgotten (and unimported) afterwards."""
    sys.meta_path.insert(0, _FINDER)
    try:
        yield _FINDER
    finally:
        sys.meta_path.remove(_FINDER)
        for module in _FINDER.modules:
            sys.modules.pop(module, None)
        _FINDER.modules.clear()
        _FINDER.executed.clear()


# ------------------------------------------------------------------------------ snapshot / restore
def snapshot():
    with registry._lock:
        return (
            dict(registry._entries),
            dict(registry._origins),
            registry._entry_points_loaded,
            {name: set(refs) for name, refs in registry._shadowed.items()},
        )


def restore(state) -> None:
    entries, origins, loaded, shadowed = state
    with registry._lock:
        registry._entries.clear()
        registry._entries.update(entries)
        registry._origins.clear()
        registry._origins.update(origins)
        registry._entry_points_loaded = loaded
        registry._shadowed.clear()
        registry._shadowed.update({name: set(refs) for name, refs in shadowed.items()})


@pytest.fixture
def registry_restored():
    state = snapshot()
    yield
    restore(state)


# ------------------------------------------------------------------------------ the model
class Expected(Exception):
    """The model's prediction that a call raises ``kind`` with ``fragments`` in its message."""

    def __init__(self, kind: type[Exception], *fragments: str):
        super().__init__(kind.__name__, *fragments)
        self.kind, self.fragments = kind, fragments


class Model:
    """The registry as plain dicts: name -> class or lazy reference string."""

    def __init__(self, state):
        self.entries: dict[str, type | str] = dict(state[0])
        self.origins: dict[str, str] = dict(state[1])
        self.shadowed: dict[str, set[str]] = {name: set(refs) for name, refs in state[3].items()}
        self.names: dict[type, str] = {}  # every throwaway class -> what its .name must be
        self.pending: list[tuple[str, str]] | None = None  # entry points installed, undiscovered
        self.plugins: dict[str, list[type]] = {}  # import-hook module -> classes it registers
        self.imported: set[str] = set()
        self.warnings: list[tuple[str, ...]] = []  # fragments of each warning the call must emit

    def clone(self) -> Model:
        twin = copy.copy(self)
        twin.entries, twin.origins, twin.names = (
            dict(self.entries),
            dict(self.origins),
            dict(self.names),
        )
        twin.shadowed = {name: set(refs) for name, refs in self.shadowed.items()}
        twin.imported, twin.warnings = set(self.imported), []
        return twin

    @staticmethod
    def valid(name) -> bool:
        return isinstance(name, str) and name not in INVALID

    def name_of(self, cls: type) -> str:
        return self.names.get(cls, getattr(cls, "name", ""))

    def unknown(self, name) -> Expected:
        names = sorted(self.entries)
        close = difflib.get_close_matches(str(name), names, n=5, cutoff=0.5)
        fragments = [f"no codec named {name!r}", f"(registered: {', '.join(names)})"]
        fragments += [repr(c) for c in close] + (["did you mean"] if close else [])
        return Expected(UnknownCodecError, *fragments)

    # ---------------------------------------------------------------- operations
    def add_lazy(self, name: str, ref: str, origin: str) -> None:
        if name in self.entries:
            self.warnings.append(
                (f"{origin} offers codec {name!r}", "already registered", "ignored")
            )
            self.shadowed.setdefault(name, set()).add(ref)
        else:
            self.entries[name] = ref
            self.origins[name] = origin

    def discover(self) -> None:
        if self.pending is None:
            return
        found, self.pending = self.pending, None
        for name, ref in found:
            if self.valid(name):
                self.add_lazy(name, ref, f"entry point of {DIST}")
            else:
                self.warnings.append((f"entry point from {DIST} ignored", repr(name)))

    def register(self, cls, name, replace: bool):
        if not (isinstance(cls, type) and issubclass(cls, Codec)):
            raise Expected(RegistrationError, "expected a subclass of rgbtask.Codec", repr(cls))
        bound = self.name_of(cls)
        codec_name = name if name is not None else bound
        if not self.valid(codec_name):
            raise Expected(
                RegistrationError,
                "expected a codec name of the form 'task/scheme'",
                repr(codec_name),
            )
        if bound and bound != codec_name:
            raise Expected(RegistrationError, f"is {bound!r} but it is being registered as")
        if inspect.isabstract(cls):
            raise Expected(RegistrationError, "is abstract")
        existing = self.entries.get(codec_name)
        same = existing is cls or existing == reference(cls)
        if existing is not None and not same and not replace:
            if reference(cls) in self.shadowed.get(codec_name, ()):
                event("register: ignored, its lazy reference had lost the name")
                return cls  # a replaced or refused lazy reference arriving late: ignored
            raise Expected(
                RegistrationError,
                f"codec name {codec_name!r} is already registered",
                "replace=True",
            )
        if isinstance(existing, str) and not same:
            self.shadowed.setdefault(codec_name, set()).add(existing)
        self.entries[codec_name] = cls
        if not same:
            self.origins[codec_name] = cls.__module__
        self.names[cls] = codec_name
        return cls

    def unregister(self, name) -> None:
        if not isinstance(name, str) or name not in self.entries:
            raise self.unknown(name)
        del self.entries[name]
        self.origins.pop(name, None)

    def _resolve(self, name: str, ref: str):
        module_name, _, attr = ref.partition(":")
        broken = Expected(
            RegistrationError, "could not be loaded from", f"codec {name!r}", repr(ref)
        )
        if module_name in self.plugins:
            if module_name not in self.imported:
                try:  # importing it registers its classes, in order, until one fails
                    for cls in self.plugins[module_name]:
                        self.register(cls, None, False)
                except Expected:
                    raise broken from None
                self.imported.add(module_name)
            obj = SimpleNamespace(**{c.__qualname__: c for c in self.plugins[module_name]})
        elif module_name in sys.modules:  # the throwaway module, the built-in codec modules
            obj = sys.modules[module_name]
        else:
            raise broken
        try:
            for part in attr.split("."):
                obj = getattr(obj, part)
        except AttributeError:
            raise broken from None
        return obj

    def get_codec_class(self, name):
        self.discover()
        if not isinstance(name, str) or name not in self.entries:
            raise self.unknown(name)
        entry = self.entries[name]
        if isinstance(entry, type):
            return entry
        obj = self._resolve(name, entry)
        if not (isinstance(obj, type) and issubclass(obj, Codec)):
            raise Expected(
                RegistrationError, "not a Codec subclass", f"codec {name!r} refers to {entry!r}"
            )
        if isinstance(self.entries.get(name), type):
            return obj
        bound = self.name_of(obj)
        if bound and bound != name:
            raise Expected(RegistrationError, f"has name {bound!r}, registered as {name!r}")
        self.names[obj] = name
        self.entries[name] = obj
        return obj

    def get_codec(self, name, params: dict) -> tuple[type, dict]:
        """The class and config ``get_codec`` returns."""
        cls = self.get_codec_class(name)
        if params and not issubclass(cls, _Trivial):
            raise Expected(ConfigError, f"unknown parameter {next(iter(params))!r}")
        config = {"name": name, "level": 0, **params} if issubclass(cls, _Trivial) else None
        return cls, config

    def list_codecs(self, task):
        self.discover()
        return sorted(n for n in self.entries if task is None or n.split("/", 1)[0] == task)


# ------------------------------------------------------------------------------ the machine
def _keep(into: list):
    def keep(cls):
        into.append(cls)
        return cls

    return keep


class RegistryMachine(RuleBasedStateMachine):
    """The real registry against :class:`Model`, compared call by call and after every step."""

    toys = Bundle("toys")  # classes in the throwaway modules (reachable by a lazy reference)
    decorated = Bundle("decorated")  # classes defined by a class statement under @register_codec

    def __init__(self):
        super().__init__()
        self.state = snapshot()
        serial = next(_serial)
        self.toy_module = types.ModuleType(f"_rgbtask_stateful_toys_{serial}")
        self.toy_module.not_a_codec = dict
        self.toy_module.helper = len
        self.toy_module.Holder = SimpleNamespace()
        sys.modules[self.toy_module.__name__] = self.toy_module
        self.plugins = plugin_modules()
        self.plugins.__enter__()
        self.model = Model(self.state)
        if not registry._entry_points_loaded:  # no lookup yet in this process: none discovered
            self.model.pending = []
        self.installed: list[SimpleNamespace] = []
        self.original_entry_points = importlib.metadata.entry_points
        original = self.original_entry_points
        installed = self.installed

        def entry_points(**params):
            if params.get("group") == registry.ENTRY_POINT_GROUP:
                return list(installed)
            return original(**params)

        importlib.metadata.entry_points = entry_points

    def teardown(self):
        importlib.metadata.entry_points = self.original_entry_points
        self.plugins.__exit__(None, None, None)
        sys.modules.pop(self.toy_module.__name__, None)
        restore(self.state)

    # ---------------------------------------------------------------- comparing one call
    def compare(self, real, model):
        """Run ``real()`` and ``model()``; same outcome, same warnings. Returns both results."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                got, error = real(), None
            except Exception as exc:
                got, error = None, exc
        self.model.warnings = []
        try:
            want, expected = model(), None
        except Expected as exc:
            want, expected = None, exc
        outcome = f"{expected.kind.__name__}: {expected.fragments[0]}" if expected else "success"
        for label in [outcome, *(f"warning: {w[0]}" for w in self.model.warnings)]:
            event(re.sub(r"'[^']*'|\[.*\]|\b\d+\b", "_", label))  # --hypothesis-show-statistics
        if expected is None:
            if error is not None:
                raise AssertionError(f"the model expected success, got {error!r}") from error
        else:
            assert error is not None, f"expected {expected.kind.__name__}, got {got!r}"
            if not isinstance(error, expected.kind):
                raise AssertionError(f"expected {expected.kind.__name__}, got {error!r}") from error
            assert isinstance(error, ValueError), error
            for fragment in expected.fragments:
                assert fragment in str(error), (fragment, str(error))
            if expected.kind is RegistrationError:
                assert not isinstance(error, UnknownCodecError), error
        messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
        assert len(messages) == len(self.model.warnings), (messages, self.model.warnings)
        for message, fragments in zip(messages, self.model.warnings):
            assert message.startswith("rgbtask: "), message
            for fragment in fragments:
                assert fragment in message, (fragment, message)
        return got, want

    def toy_ref(self, target) -> str:
        if isinstance(target, str):
            return target.format(toys=self.toy_module.__name__)
        return reference(target)

    # ---------------------------------------------------------------- rules: registering
    @rule(target=toys, preset=st.one_of(st.just(""), st.sampled_from(NAMES)))
    def new_toy(self, preset):
        attr = f"Toy{next(_serial)}"
        cls = make_toy(self.toy_module.__name__, attr, preset)
        setattr(self.toy_module, attr, cls)
        self.model.names[cls] = preset
        return cls

    @rule(
        cls=st.one_of(toys, decorated),
        name=st.one_of(st.none(), st.sampled_from(NAMES), st.sampled_from(INVALID)),
        replace=st.booleans(),
        form=st.sampled_from(["call", "decorator"]),
    )
    def register(self, cls, name, replace, form):
        if form == "call":
            real = lambda: registry.register_codec(cls, name=name, replace=replace)  # noqa: E731
        elif name is None and not replace:
            real = lambda: registry.register_codec(cls)  # noqa: E731  # what @register_codec does
        else:
            real = lambda: registry.register_codec(name=name, replace=replace)(cls)  # noqa: E731
        got, want = self.compare(real, lambda: self.model.register(cls, name, replace))
        assert got is want

    @rule(
        target=decorated,
        preset=st.sampled_from(["", *NAMES]),
        as_name=st.one_of(st.none(), st.sampled_from(NAMES)),
        replace=st.booleans(),
    )
    def define_decorated(self, preset, as_name, replace):
        if as_name is None and not replace:
            decorator = registry.register_codec
        else:
            decorator = registry.register_codec(name=as_name, replace=replace)
        made: list[type] = []

        def real():
            @decorator
            @_keep(made)
            @dataclasses.dataclass(frozen=True, eq=False, repr=False)
            class Decorated(_Trivial, Codec):
                name = preset
                level: int = 0

            return Decorated

        def model():
            self.model.names[made[0]] = preset
            return self.model.register(made[0], as_name, replace)

        got, want = self.compare(real, model)
        assert got is want
        return made[0]

    @precondition(lambda self: any(isinstance(e, type) for e in self.model.entries.values()))
    @rule(data=st.data())
    def register_same_class_again(self, data):
        names = sorted(n for n, e in self.model.entries.items() if isinstance(e, type))
        cls = self.model.entries[data.draw(st.sampled_from(names), label="name")]
        got, want = self.compare(
            lambda: registry.register_codec(cls), lambda: self.model.register(cls, None, False)
        )
        assert got is cls is want

    @rule(
        thing=st.sampled_from([dict, int, "toy/a", 3, _Abstract, Codec]),
        name=st.one_of(st.none(), st.sampled_from(NAMES)),
    )
    def register_a_non_codec(self, thing, name):
        self.compare(
            lambda: registry.register_codec(thing, name=name),
            lambda: self.model.register(thing, name, False),
        )

    @rule(name=st.one_of(st.sampled_from(NAMES), st.sampled_from([*ABSENT, ["toy/a"]])))
    def unregister(self, name):
        self.compare(lambda: registry.unregister_codec(name), lambda: self.model.unregister(name))

    # ---------------------------------------------------------------- rules: lazy references
    @rule(name=st.sampled_from(NAMES), points_at=st.one_of(toys, st.sampled_from(BROKEN)))
    def add_lazy_reference(self, name, points_at):
        ref = self.toy_ref(points_at)
        self.compare(
            lambda: registry._add_lazy(name, ref, "test"),
            lambda: self.model.add_lazy(name, ref, "test"),
        )

    @rule(target=toys, names=st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True))
    def add_plugin_module(self, names):
        """A module named lazily, whose import registers its classes (as a codec module does)."""
        module = f"_rgbtask_stateful_plugin_{next(_serial)}"
        classes = [make_toy(module, f"Codec{i}", preset) for i, preset in enumerate(names)]
        _FINDER.add(module, registers=classes)
        self.model.plugins[module] = classes
        for cls in classes:
            self.model.names[cls] = cls.name
        for cls in classes:
            ref = reference(cls)
            self.compare(
                lambda: registry._add_lazy(cls.name, ref, "test plugin"),  # noqa: B023
                lambda: self.model.add_lazy(cls.name, ref, "test plugin"),  # noqa: B023
            )
        return classes[0]

    @rule(
        eps=st.lists(
            st.tuples(
                st.sampled_from([*NAMES, *MALFORMED]),
                st.one_of(toys, st.sampled_from(BROKEN)),
            ),
            max_size=4,
        )
    )
    def install_entry_points(self, eps):
        """Plugins appear (as in a fresh process): discovered on the next lookup, not now."""
        found = [(name, self.toy_ref(target)) for name, target in eps]
        self.installed[:] = [
            SimpleNamespace(name=name, value=ref, dist=SimpleNamespace(name=DIST))
            for name, ref in found
        ]
        registry._entry_points_loaded = False
        self.model.pending = found

    # ---------------------------------------------------------------- rules: lookups
    @rule(
        name=st.one_of(st.sampled_from(NAMES), st.sampled_from([*ABSENT, ["toy/a"], 5])),
        how=st.sampled_from(["class", "name", "config", "params"]),
    )
    def lookup(self, name, how):
        if how == "class":
            got, want = self.compare(
                lambda: registry.get_codec_class(name), lambda: self.model.get_codec_class(name)
            )
            assert got is want
            return
        params = {"config": {"level": 2}, "params": {"level": 3}}.get(how, {})
        if how == "config":
            real = lambda: rgbtask.get_codec({"name": name, **params})  # noqa: E731
        else:
            real = lambda: rgbtask.get_codec(name, **params)  # noqa: E731

        def model():
            if how != "config" and not isinstance(name, str):
                raise Expected(ConfigError, "expected a codec name, config dict or Codec")
            return self.model.get_codec(name, params)

        codec, want = self.compare(real, model)
        if want is not None:
            cls, config = want
            assert type(codec) is cls
            assert codec.get_config()["name"] == name
            if config is not None:
                assert codec.get_config() == config

    @precondition(lambda self: any(isinstance(e, str) for e in self.model.entries.values()))
    @rule(data=st.data(), how=st.sampled_from(["class", "name"]))
    def first_lookup_of_a_lazy_reference(self, data, how):
        names = sorted(n for n, e in self.model.entries.items() if isinstance(e, str))
        self.lookup(data.draw(st.sampled_from(names), label="name"), how)

    @rule(task=st.sampled_from(TASKS))
    def list_codecs(self, task):
        got, want = self.compare(
            lambda: rgbtask.list_codecs(task), lambda: self.model.list_codecs(task)
        )
        assert got == want

    # ---------------------------------------------------------------- invariants
    @invariant()
    def registry_matches_model(self):
        model = self.model
        assert sorted(registry._entries) == sorted(model.entries)
        for name, entry in model.entries.items():
            if isinstance(entry, type):
                assert registry._entries[name] is entry, name
            else:
                assert registry._entries[name] == entry, name  # not resolved before its lookup
        assert registry._origins == model.origins
        assert registry._entry_points_loaded is (model.pending is None)
        for cls, name in model.names.items():
            assert cls.name == name, (cls, cls.name, name)

    @invariant()
    def lazy_references_resolve_as_modelled(self):
        """Look every lazy name up, compare, then put registry, model and classes back as they were."""
        lazy = sorted(n for n, e in self.model.entries.items() if isinstance(e, str))
        if self.model.pending is not None or not lazy:
            return
        state, model, modules = snapshot(), self.model, set(sys.modules)
        names = {cls: cls.name for cls in model.names}
        self.model = model.clone()
        try:
            for name in lazy:
                got, want = self.compare(
                    lambda: registry.get_codec_class(name),  # noqa: B023
                    lambda: self.model.get_codec_class(name),  # noqa: B023
                )
                assert got is want, (name, got, want)
            self.registry_matches_model()
        finally:
            self.model = model
            restore(state)
            for cls, name in names.items():
                cls.name = name
            for module in set(sys.modules) - modules:
                if module.startswith("_rgbtask_stateful_plugin_"):
                    del sys.modules[module]

    @invariant()
    def lookups_agree(self):
        if self.model.pending is not None:
            return  # a lookup would discover the entry points: left to the rules
        names = sorted(self.model.entries)
        assert rgbtask.list_codecs() == names
        for task in TASKS[1:]:
            assert rgbtask.list_codecs(task=task) == [n for n in names if n.startswith(task + "/")]
        for name, entry in self.model.entries.items():
            if isinstance(entry, type):
                assert registry.get_codec_class(name) is entry
                if issubclass(entry, _Trivial):
                    assert rgbtask.get_codec(name).get_config() == {"name": name, "level": 0}
                    assert rgbtask.get_codec({"name": name, "level": 1}).level == 1
        for absent in ("toy/ab", "normal/xyz", "mask/binar", "zzz/qqq"):
            if absent not in self.model.entries:
                with pytest.raises(UnknownCodecError) as info:
                    rgbtask.get_codec(absent)
                for fragment in self.model.unknown(absent).fragments:
                    assert fragment in str(info.value), (fragment, str(info.value))


TestRegistryMachine = RegistryMachine.TestCase
# ~4 s on the 2-core machine; the "thorough" profile's 1000 examples take ~35 s.
TestRegistryMachine.settings = settings(
    max_examples=max(100, settings.default.max_examples), stateful_step_count=40, deadline=None
)


def test_machine_leaves_the_registry_as_it_found_it():
    before = snapshot()
    entry_points = importlib.metadata.entry_points
    meta_path = list(sys.meta_path)
    run_state_machine_as_test(
        RegistryMachine, settings=settings(max_examples=5, stateful_step_count=30, deadline=None)
    )
    assert snapshot() == before
    assert importlib.metadata.entry_points is entry_points
    assert sys.meta_path == meta_path
    assert not [m for m in sys.modules if m.startswith("_rgbtask_stateful_")]
    # The built-ins are intact: every one listed, from rgbtask, resolving to its own class.
    assert set(BUILTIN_CODECS) <= set(rgbtask.list_codecs())
    for name, ref in BUILTIN_CODECS.items():
        assert registry._origins[name] == "rgbtask"
        cls = registry.get_codec_class(name)
        assert reference(cls) == ref and cls.name == name
    assert type(rgbtask.get_codec("normals/xyz")).__name__ == "NormalsXYZ"


# ------------------------------------------------------------------------------ regressions
def test_failed_registration_leaves_the_class_alone(registry_restored):
    """A clash must not rename the class: it stays registrable under its own name."""
    cls = make_toy(__name__, "Unnamed")
    with pytest.raises(RegistrationError, match="already registered"):
        registry.register_codec(cls, name="normals/xyz")
    assert cls.name == ""
    assert registry.register_codec(cls, name="toy/a") is cls
    assert rgbtask.get_codec("toy/a").get_config() == {"name": "toy/a", "level": 0}


def test_replaced_lazy_name_does_not_break_its_module(registry_restored):
    """Replacing one of a module's lazily named codecs, then importing that module for another."""
    with plugin_modules() as finder:
        first = make_toy("_rgbtask_stateful_plugin_r", "First", "toy/a")
        second = make_toy("_rgbtask_stateful_plugin_r", "Second", "toy/b")
        finder.add("_rgbtask_stateful_plugin_r", registers=[first, second])
        registry._add_lazy("toy/a", reference(first), "test")
        registry._add_lazy("toy/b", reference(second), "test")
        mine = registry.register_codec(make_toy(__name__, "Mine"), name="toy/b", replace=True)
        assert registry.get_codec_class("toy/a") is first  # imports the module: no clash
        assert registry.get_codec_class("toy/b") is mine  # the replacement stands
        assert second.name == "toy/b"


def test_refused_entry_point_does_not_break_its_plugin(registry_restored, monkeypatch):
    """A plugin offering a taken name (ignored, with a warning) still loads its other codecs."""
    with plugin_modules() as finder:
        gray = make_toy("_rgbtask_stateful_plugin_e", "Gray", "toy/gray")
        clash = make_toy("_rgbtask_stateful_plugin_e", "Clash", "normals/xyz")
        finder.add("_rgbtask_stateful_plugin_e", registers=[clash, gray])
        eps = [
            SimpleNamespace(name=c.name, value=reference(c), dist=SimpleNamespace(name=DIST))
            for c in (clash, gray)
        ]
        monkeypatch.setattr(importlib.metadata, "entry_points", lambda **params: eps)
        monkeypatch.setattr(registry, "_entry_points_loaded", False)
        with pytest.warns(RuntimeWarning, match="already registered"):
            assert "toy/gray" in rgbtask.list_codecs()
        assert registry.get_codec_class("toy/gray") is gray
        assert type(rgbtask.get_codec("normals/xyz")).__name__ == "NormalsXYZ"


@pytest.mark.parametrize("call", [registry.get_codec_class, registry.unregister_codec])
def test_unhashable_name_is_an_unknown_codec(call):
    with pytest.raises(UnknownCodecError, match=r"no codec named \['toy/a'\]"):
        call(["toy/a"])
    with pytest.raises(UnknownCodecError, match="no codec named"):
        rgbtask.get_codec({"name": ["toy/a"]})


def test_unregister_during_lazy_import_is_not_undone(registry_restored):
    """A lookup importing a lazy reference must not resurrect a name unregistered meanwhile."""
    importing, resume = threading.Event(), threading.Event()

    def before_exec():
        importing.set()
        assert resume.wait(10)

    with plugin_modules() as finder:
        cls = make_toy("_rgbtask_stateful_plugin_u", "Late")
        finder.add("_rgbtask_stateful_plugin_u", holds=[cls], before_exec=before_exec)
        registry._add_lazy("toy/late", reference(cls), "test")

        result = []
        lookup = threading.Thread(
            target=lambda: result.append(registry.get_codec_class("toy/late"))
        )
        lookup.start()
        assert importing.wait(10)
        registry.unregister_codec("toy/late")
        resume.set()
        lookup.join(10)
        assert result == [cls]  # the lookup happened before the unregister ...
        assert "toy/late" not in rgbtask.list_codecs()  # ... and the unregister stands


# ------------------------------------------------------------------------------ threads
def test_concurrent_first_lookups_agree_and_import_once(registry_restored):
    """16 threads look up lazily referenced codecs for the first time, all at once."""
    threads_n = 16
    with plugin_modules() as finder:
        for round_ in range(4):
            module = f"_rgbtask_stateful_plugin_t{round_}"
            # Odd rounds: a module with nothing to register (the reference alone names the class).
            cls = make_toy(module, "Lazy", "" if round_ % 2 else f"toy/lazy{round_}")
            name = f"toy/lazy{round_}"
            slow = lambda: time.sleep(0.01)  # noqa: E731  # widen the window for a race
            if round_ % 2:
                finder.add(module, holds=[cls], before_exec=slow)
            else:
                finder.add(module, registers=[cls], before_exec=slow)
            registry._add_lazy(name, reference(cls), "test")
            barrier = threading.Barrier(threads_n)
            results: list = [None] * threads_n

            def work(i, name=name, barrier=barrier, results=results):
                barrier.wait()
                if i % 2:
                    results[i] = registry.get_codec_class(name)
                else:
                    results[i] = type(rgbtask.get_codec(name, level=i))

            threads = [threading.Thread(target=work, args=(i,)) for i in range(threads_n)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            assert all(r is cls for r in results), results
            assert registry._entries[name] is cls and cls.name == name
            assert rgbtask.list_codecs(task="toy").count(name) == 1
            assert finder.executed[module] == 1


def test_concurrent_register_unregister_distinct_names(registry_restored):
    """Writers churn their own names while readers list and look up: the registry stays whole."""
    writers, rounds = 8, 150
    classes = [make_toy(__name__, f"Churn{i}", f"toy/churn{i}") for i in range(writers)]
    builtins = set(BUILTIN_CODECS)
    errors: list[BaseException] = []
    stop = threading.Event()
    barrier = threading.Barrier(writers + 2)

    def write(i):
        try:
            barrier.wait()
            for r in range(rounds):
                assert registry.register_codec(classes[i]) is classes[i]
                assert registry.get_codec_class(classes[i].name) is classes[i]
                if r < rounds - 1 or i % 2:
                    registry.unregister_codec(classes[i].name)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    def read():
        try:
            barrier.wait()
            while not stop.is_set():
                names = set(rgbtask.list_codecs())
                assert builtins <= names
                assert names <= builtins | {c.name for c in classes}
                with registry._lock:
                    assert registry._entries.keys() == registry._origins.keys()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    threads += [threading.Thread(target=read) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads[:writers]:
        t.join(60)
    stop.set()
    for t in threads[writers:]:
        t.join(60)
    assert not errors, errors
    left = sorted(c.name for i, c in enumerate(classes) if i % 2 == 0)
    assert rgbtask.list_codecs(task="toy") == left
    for name in left:
        assert registry._origins[name] == __name__
        assert rgbtask.get_codec(name).get_config() == {"name": name, "level": 0}


def test_replacing_a_builtin_before_its_module_is_imported():
    """In a fresh interpreter: replace "mask/binary", then use a sibling from the same module."""
    script = textwrap.dedent("""
        import dataclasses, sys
        import numpy as np
        import rgbtask
        from rgbtask import Codec, Decoded

        @rgbtask.register_codec(name="mask/binary", replace=True)
        @dataclasses.dataclass(frozen=True, eq=False, repr=False)
        class Mine(Codec):
            def validate_value(self, value): return value
            def _encode(self, value): return value
            def _decode(self, rgb): return Decoded(rgb, rgb, rgb)
            def roundtrip_error(self, reference, decoded): return 0
            def roundtrip_bound(self, reference): return 0

        assert "rgbtask.codecs.masks" not in sys.modules
        assert rgbtask.get_codec("mask/panoptic").get_config() == {"name": "mask/panoptic"}
        assert type(rgbtask.get_codec("mask/binary")) is Mine
        from rgbtask.codecs.masks import MaskBinary
        assert MaskBinary is not Mine and MaskBinary.name == "mask/binary"
        print("ok")
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_errors_are_one_family():
    assert issubclass(RegistrationError, RgbtaskError) and issubclass(UnknownCodecError, ValueError)
