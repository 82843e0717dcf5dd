"""Registry: lookups, configs, errors with close matches, duplicates, entry-point plugins."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

import rgbtask
from rgbtask import registry
from rgbtask.codec import Codec, Decoded, check_value, rgb_scale
from rgbtask.errors import InputError
from rgbtask.params import integer, param


@dataclass(frozen=True, eq=False, repr=False)
class Invert(Codec):
    """A toy codec for registry tests: gray levels inverted into three channels."""

    name: ClassVar[str] = "toy/invert"
    error_unit: ClassVar[str] = "level"
    gain: int = 1

    def validate_value(self, value):
        v = check_value(value, "gray levels", "(..., H, W)", kinds="iu")
        if v.min() < 0 or v.max() > 255:
            raise InputError(f"expected gray levels in 0..255, got {v.min()}..{v.max()}")
        return v.astype(np.uint8)

    def _encode(self, value):
        return np.repeat((255 - value)[..., None], 3, axis=-1)

    def _decode(self, rgb):
        value = 255 - np.rint(rgb[..., 0] * (255 / rgb_scale(rgb))).astype(np.uint8)
        ones = np.ones(value.shape, np.float32)
        return Decoded(value, ones, ones > 0)

    def roundtrip_error(self, reference, decoded):
        return np.abs(reference.astype(int) - decoded)

    def roundtrip_bound(self, reference):
        return 0


@pytest.fixture
def toy():
    registry.register_codec(Invert)
    yield Invert
    registry.unregister_codec("toy/invert")


def test_builtin_names_and_tasks():
    assert "normals/xyz" in rgbtask.list_codecs()
    assert rgbtask.list_codecs(task="normals") == ["normals/xyz"]
    assert rgbtask.list_codecs(task="nothing") == []
    codec = rgbtask.get_codec("normals/xyz")
    assert codec.task == "normals" and codec.name == "normals/xyz"


def test_get_codec_by_name_params_config_and_instance():
    a = rgbtask.get_codec("normals/xyz", bits=16)
    b = rgbtask.get_codec({"name": "normals/xyz", "bits": 16})
    c = rgbtask.get_codec(json.loads(json.dumps(a.get_config())))
    assert a == b == c and hash(a) == hash(c)
    assert rgbtask.get_codec(a) is a
    assert rgbtask.get_codec(a, bits=8) == rgbtask.get_codec("normals/xyz")
    assert rgbtask.get_codec({"name": "normals/xyz", "bits": 16}, bits=8).bits == 8
    assert a != rgbtask.get_codec("normals/xyz")
    assert a.get_config() == {
        "name": "normals/xyz",
        "bits": 16,
        "convention": "opengl",
        "image_convention": "opengl",
        "quantization": "round",
    }
    assert repr(a) == (
        "NormalsXYZ(bits=16, convention='opengl', image_convention='opengl', quantization='round')"
    )


def test_unknown_name_lists_close_matches():
    with pytest.raises(rgbtask.UnknownCodecError, match="did you mean 'normals/xyz'"):
        rgbtask.get_codec("normal/xyz")
    with pytest.raises(ValueError, match="no codec named 'zzz/qqq'"):
        rgbtask.get_codec("zzz/qqq")


def test_unknown_parameter_is_named_with_suggestion():
    with pytest.raises(rgbtask.ConfigError, match="'bit' \\(did you mean 'bits'\\?\\)"):
        rgbtask.get_codec("normals/xyz", bit=16)


def test_config_without_name_and_wrong_types():
    with pytest.raises(rgbtask.ConfigError, match="needs a 'name' key"):
        rgbtask.get_codec({"bits": 8})
    with pytest.raises(rgbtask.ConfigError, match="expected a codec name"):
        rgbtask.get_codec(42)


def test_register_decorator_duplicate_and_replace(toy):
    assert rgbtask.get_codec("toy/invert", gain=2).gain == 2
    assert "toy/invert" in rgbtask.list_codecs("toy")
    # The very same class again replaces nothing: a no-op, not an error.
    assert rgbtask.register_codec(Invert) is Invert

    @dataclass(frozen=True, eq=False, repr=False)
    class Other(Invert):
        pass

    with pytest.raises(rgbtask.RegistrationError, match="already registered.*replace=True"):
        rgbtask.register_codec(Other)
    assert rgbtask.register_codec(Other, replace=True) is Other
    assert type(rgbtask.get_codec("toy/invert")) is Other


def test_register_rejects_bad_names_and_classes():
    with pytest.raises(rgbtask.RegistrationError, match="task/scheme"):
        rgbtask.register_codec(Invert, name="Invert")
    with pytest.raises(rgbtask.RegistrationError, match="subclass of rgbtask.Codec"):
        rgbtask.register_codec(dict)
    with pytest.raises(rgbtask.RegistrationError, match="being registered as"):
        rgbtask.register_codec(Invert, name="toy/other")

    class Abstract(Codec):
        name = "toy/abstract"

    with pytest.raises(rgbtask.RegistrationError, match="abstract"):
        rgbtask.register_codec(Abstract)


def test_register_as_decorator_with_name():
    @rgbtask.register_codec(name="toy/named")
    @dataclass(frozen=True, eq=False, repr=False)
    class Named(Invert):
        name: ClassVar[str] = ""

    try:
        assert Named.name == "toy/named"
        assert rgbtask.get_codec("toy/named").get_config() == {"name": "toy/named", "gain": 1}
    finally:
        registry.unregister_codec("toy/named")


def test_toy_codec_passes_conformance(toy):
    from rgbtask.testing import check_codec

    check_codec(Invert(), [np.arange(12, dtype=np.uint8).reshape(3, 4)])


@dataclass(frozen=True, eq=False, repr=False)
class Lossy(Invert):
    """Drops the lowest bit: breaks its declared zero bound."""

    def _encode(self, value):
        return super()._encode(value // 2 * 2)


def test_check_codec_catches_a_broken_codec():
    from rgbtask.testing import check_codec

    with pytest.raises(AssertionError, match="exceeds the bound"):
        check_codec(Lossy(), [np.arange(12, dtype=np.uint8).reshape(3, 4)])


def test_import_is_lazy():
    code = (
        "import sys, rgbtask; bad = [m for m in ('numba', 'matplotlib', 'cv2', 'scipy', "
        "'rgbtask.codecs.normals') if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


PLUGIN = """
from dataclasses import dataclass
from typing import ClassVar
import numpy as np
from rgbtask import Codec, Decoded, InputError
from rgbtask.codec import check_value, rgb_scale


@dataclass(frozen=True, eq=False, repr=False)
class Gray(Codec):
    name: ClassVar[str] = "gray/plugin"
    offset: int = 0

    def validate_value(self, value):
        v = check_value(value, "gray levels", "(..., H, W)", kinds="iu")
        if v.min() < 0 or v.max() > 255:
            raise InputError(f"expected gray levels in 0..255, got {v.min()}..{v.max()}")
        return v.astype(np.uint8)

    def _encode(self, value):
        return np.repeat(value[..., None], 3, axis=-1)

    def _decode(self, rgb):
        v = np.rint(rgb[..., 0] * (255 / rgb_scale(rgb))).astype(np.uint8)
        return Decoded(v, np.ones(v.shape, np.float32), np.ones(v.shape, bool))

    def roundtrip_error(self, reference, decoded):
        return np.abs(reference.astype(int) - decoded)

    def roundtrip_bound(self, reference):
        return 0
"""


def test_entry_point_plugin_is_found_lazily(tmp_path):
    """A tiny installed package declaring ``[project.entry-points."rgbtask.codecs"]``.

    We lay it out as pip would (package + ``.dist-info`` with ``entry_points.txt``) on a path
    entry, and check that get_codec finds it, that listing does not import it, and that the name
    clash with a built-in is refused with a warning.
    """
    (tmp_path / "rgbtask_toyplugin").mkdir()
    (tmp_path / "rgbtask_toyplugin" / "__init__.py").write_text(PLUGIN)
    dist = tmp_path / "rgbtask_toyplugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: rgbtask-toyplugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[rgbtask.codecs]\n"
        "gray/plugin = rgbtask_toyplugin:Gray\n"
        "normals/xyz = rgbtask_toyplugin:Gray\n"
    )
    script = textwrap.dedent("""
        import sys, warnings
        import numpy as np
        import rgbtask
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            names = rgbtask.list_codecs()
        assert "gray/plugin" in names, names
        assert "rgbtask_toyplugin" not in sys.modules, "listing must not import the plugin"
        assert any("already registered" in str(w.message) for w in caught), caught
        codec = rgbtask.get_codec("gray/plugin", offset=3)
        assert type(codec).__module__ == "rgbtask_toyplugin"
        assert codec.get_config() == {"name": "gray/plugin", "offset": 3}
        assert type(rgbtask.get_codec("normals/xyz")).__module__ == "rgbtask.codecs.normals"
        from rgbtask.testing import check_codec
        check_codec(codec, [np.arange(6, dtype=np.uint8).reshape(2, 3)])
        print("plugin ok")
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "plugin ok"


def test_broken_plugin_reference_is_a_clear_error():
    registry._add_lazy("toy/broken", "no_such_module_xyz:Thing", "test")
    try:
        with pytest.raises(rgbtask.RegistrationError, match="could not be loaded"):
            rgbtask.get_codec("toy/broken")
    finally:
        registry.unregister_codec("toy/broken")


def test_registry_import_loads_no_codec_module():
    """``import rgbtask.registry`` (and a lookup of one family) imports no other codec module."""
    code = (
        "import sys, rgbtask.registry as r; "
        "before = sorted(m for m in sys.modules if m.startswith('rgbtask.codecs.') or m == 'numba'); "
        "r.get_codec_class('normals/xyz'); "
        "after = sorted(m for m in sys.modules if m.startswith('rgbtask.codecs.')); "
        "print(before, after)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] ['rgbtask.codecs.normals']"


def test_builtin_names_are_written_once_in_their_classes():
    from rgbtask.codecs import BUILTIN_MODULES

    for name in rgbtask.list_codecs():
        cls = rgbtask.get_codec_class(name)
        if cls.__module__.startswith("rgbtask."):
            assert cls.name == name
            assert BUILTIN_MODULES[name.split("/")[0]] == cls.__module__
            assert registry._origins[name] == "rgbtask"


def test_get_codec_class_and_unregister_are_public(toy):
    assert rgbtask.get_codec_class is registry.get_codec_class
    assert rgbtask.unregister_codec is registry.unregister_codec
    assert {"get_codec_class", "unregister_codec"} <= set(rgbtask.__all__)
    assert rgbtask.get_codec_class("toy/invert") is Invert
    rgbtask.unregister_codec("toy/invert")
    assert "toy/invert" not in rgbtask.list_codecs()
    with pytest.raises(rgbtask.UnknownCodecError, match="no codec named 'toy/invert'"):
        rgbtask.get_codec_class("toy/invert")
    with pytest.raises(rgbtask.UnknownCodecError, match="no codec named 'toy/invert'"):
        rgbtask.unregister_codec("toy/invert")
    rgbtask.register_codec(Invert)  # for the fixture's teardown


def test_taking_a_builtin_name_is_a_clash_even_before_its_module_is_loaded():
    code = textwrap.dedent("""
        import dataclasses, sys
        import rgbtask
        from rgbtask.codecs.normals import NormalsXYZ

        @dataclasses.dataclass(frozen=True, eq=False, repr=False)
        class Mine(NormalsXYZ):
            pass

        assert "rgbtask.codecs.masks" not in sys.modules
        try:
            rgbtask.register_codec(Mine, name="mask/binary")
        except rgbtask.RegistrationError as exc:
            assert "being registered as" in str(exc), exc
        Mine.name = "mask/binary"
        try:
            rgbtask.register_codec(Mine)
        except rgbtask.RegistrationError as exc:
            assert "already registered (rgbtask)" in str(exc), exc
        else:
            raise AssertionError("no clash")
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_version_comes_from_the_package_metadata():
    from importlib.metadata import PackageNotFoundError, version

    try:
        expected = version("rgbtask")
    except PackageNotFoundError:
        expected = "0+unknown"
    assert rgbtask.__version__ == expected
    assert "__version__" in rgbtask.__all__


def test_package_is_typed():
    from pathlib import Path

    assert (Path(rgbtask.__file__).parent / "py.typed").is_file()


# ---------------------------------------------------------------- check_codec's config section
@dataclass(frozen=True, eq=False, repr=False)
class Offset(Invert):
    """Invert with the levels shifted by ``offset`` (mod 256) before encoding and after decoding."""

    name: ClassVar[str] = "toy/offset"
    offset: int = param(0, integer(0, 255))

    def _encode(self, value):
        return super()._encode((value.astype(int) - self.offset).astype(np.uint8))

    def _decode(self, rgb):
        value, confidence, valid = super()._decode(rgb)
        return Decoded((value.astype(int) + self.offset).astype(np.uint8), confidence, valid)


@dataclass(frozen=True, eq=False, repr=False)
class Forgetful(Offset):
    """get_config() leaves out ``offset``: a rebuilt codec compares equal but decodes differently."""

    def get_config(self):
        config = super().get_config()
        config.pop("offset")
        return config


@dataclass(frozen=True, eq=False, repr=False)
class Caster(Invert):
    """Casts a float ``gain`` by hand: 2.7 is silently stored as 2."""

    def __post_init__(self):
        super().__post_init__()
        if isinstance(self.gain, float) and np.isfinite(self.gain):
            object.__setattr__(self, "gain", int(self.gain))


@dataclass(frozen=True, eq=False, repr=False)
class Crashing(Invert):
    """Casts ``gain`` with float(): a string gives a bare ValueError, not a ConfigError."""

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "gain", float(self.gain) if self.gain is not None else None)


SAMPLE = [np.arange(12, dtype=np.uint8).reshape(3, 4)]


def test_config_section_passes_a_validated_codec_and_one_that_keeps_what_it_is_given():
    from rgbtask.testing import check_codec, check_config_values

    check_config_values(Offset(), SAMPLE)
    check_config_values(Offset(offset=3), SAMPLE)
    check_config_values(Invert(), SAMPLE)  # stores whatever it is given: allowed
    check_codec(Offset(), SAMPLE, adversarial=False)


def test_config_section_catches_a_config_that_leaves_out_a_parameter():
    from rgbtask.testing import check_codec, check_config_values

    codec = Forgetful(offset=3)
    assert Forgetful.from_config(codec.get_config()) == codec  # equality alone misses it
    with pytest.raises(AssertionError, match=r"missing \['offset'\]"):
        check_config_values(codec, SAMPLE)
    with pytest.raises(AssertionError, match=r"missing \['offset'\]"):
        check_codec(codec, SAMPLE, adversarial=False)
    check_codec(codec, SAMPLE, adversarial=False, config_values=False)  # the rest is blind to it


def test_config_section_catches_a_rebuilt_codec_that_decodes_differently(monkeypatch):
    from rgbtask.testing import check_config_values

    # Even when the field list agrees with the config, the rebuilt codec's results are compared.
    monkeypatch.setattr("rgbtask.testing._config_fields", lambda codec: ["gain"])
    with pytest.raises(AssertionError, match="rebuilt by from_config.* (en|de)codes"):
        check_config_values(Forgetful(offset=3), SAMPLE)


def test_config_section_catches_a_silent_cast():
    from rgbtask.testing import check_config_values

    assert Caster(gain=2.7).get_config()["gain"] == 2
    with pytest.raises(AssertionError, match=r"gain=2\.7 .*stored as 2\b"):
        check_config_values(Caster(), SAMPLE)


def test_config_section_wants_a_config_error():
    from rgbtask.testing import check_config_values

    with pytest.raises(AssertionError, match="gain='x'.*raised ValueError.*expected a ConfigError"):
        check_config_values(Crashing(), SAMPLE)


# ---------------------------------------------------------------- one of each
def test_within_bound_is_the_one_tolerance():
    from rgbtask.codec import BOUND_RTOL, within_bound

    assert within_bound(0.0, 0.0) and within_bound(1.0, 1.0)
    assert within_bound(1.0 + BOUND_RTOL / 2, 1.0) and not within_bound(1.0 + 2 * BOUND_RTOL, 1.0)
    assert not within_bound(1e-9, 0.0) and not within_bound(np.nan, 1.0)
    assert within_bound([0.5, 2.0], 1.0).tolist() == [True, False]


def test_progress_bar_is_off_unless_asked():
    from rgbtask._progress import progress_bar

    assert progress_bar(3, False, "x", "step") is None
    bar = progress_bar(3, True, "x", "step")
    if bar is not None:  # tqdm installed
        bar.update(1)
        bar.close()


def test_helpers_are_defined_once():
    """rgb_scale, the progress bar and the bound tolerance have one definition in the package."""
    import pathlib
    import re

    root = pathlib.Path(rgbtask.__file__).parent
    sources = {p: p.read_text() for p in root.rglob("*.py")}
    patterns = {
        "full-scale constant 65535.0": r"return 65535\.0",
        "a tqdm bar": r"tqdm\(",
        "a bound tolerance": r"bound \* \(1 \+",
    }
    for what, pattern in patterns.items():
        where = sorted(
            str(p.relative_to(root)) for p, s in sources.items() if re.search(pattern, s)
        )
        assert len(where) == 1, (what, where)
    assert not hasattr(__import__("rgbtask.codec").codec, "require_params")
