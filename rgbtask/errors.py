"""One error family. Every error rgbtask raises for bad user input is a ``ValueError``.

Messages follow one pattern: what was expected, what came, and what to do about it.
"""

from __future__ import annotations


class RgbtaskError(ValueError):
    """Base of every error rgbtask raises on purpose."""


class InputError(RgbtaskError):
    """An array given to ``encode`` / ``decode`` has the wrong dtype, shape or values."""


class ConfigError(RgbtaskError):
    """A codec was constructed with unknown or invalid parameters."""


class UnknownCodecError(RgbtaskError):
    """No codec is registered under the requested name."""


class RegistrationError(RgbtaskError):
    """A codec could not be registered (bad name, duplicate, not a Codec subclass)."""
