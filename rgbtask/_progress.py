"""The one progress bar of the package: a tqdm bar on stderr, or None.

``convert`` and the fidelity toolkit (and through them the CLI) show progress with it; callers
update the bar when it is not None and close it at the end.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["progress_bar"]


def progress_bar(total: int, enabled: bool | None, desc: str, unit: str) -> Any | None:
    """A tqdm bar of ``total`` steps on stderr, or None.

    ``enabled=None`` shows it only when stderr is a terminal; without tqdm installed there is no
    bar (None), never an error.
    """
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr)
