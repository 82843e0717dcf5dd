"""Every registered codec goes through rgbtask.testing.check_codec on its own examples."""

from __future__ import annotations

import pytest

import rgbtask
from rgbtask.registry import get_codec_class
from rgbtask.testing import check_codec, check_config_values

ALL = rgbtask.list_codecs()


@pytest.mark.parametrize("name", ALL)
def test_every_codec_has_examples(name, scene):
    examples = list(get_codec_class(name).examples(scene))
    assert examples, f"{name} yields no examples: it would be registered untested"
    for codec, values in examples:
        assert codec.name == name
        assert len(values) >= 1


@pytest.mark.parametrize("name", ALL)
def test_every_codec_conforms(name, scene):
    for codec, values in get_codec_class(name).examples(scene):
        check_codec(codec, values, config_values=False)  # the config section: below


@pytest.mark.parametrize("name", ALL)
def test_every_codec_validates_and_round_trips_its_config(name, scene):
    """check_codec's config section: complete configs, validated parameters, same decodings."""
    for codec, values in get_codec_class(name).examples(scene):
        check_config_values(codec, values)


def test_conformance_covers_every_registered_codec():
    # A codec registered after this module was collected would escape the parametrization above.
    assert rgbtask.list_codecs() == ALL
