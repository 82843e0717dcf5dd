"""Atomic writes: every writer writes ``.<name>.rgbtask-<host>-<pid>-<random>.part`` in the destination
folder, flushes it and renames it into place; :func:`remove_stale_partials` deletes the temporary
files of processes that died on this host.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
from collections.abc import Callable
from pathlib import Path

from rgbtask.errors import InputError

__all__ = [
    "partial_name",
    "remove_stale_partials",
    "write_atomic",
]

_PARTIAL = re.compile(
    r"^\.(?P<name>.*)\.rgbtask-(?P<host>[A-Za-z0-9._-]+)-(?P<pid>\d+)-(?P<token>[0-9a-f]{8})\.part$"
)


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", socket.gethostname())[:64] or "host"


def partial_name(path: str | Path) -> str:
    """The temporary name :func:`write_atomic` writes ``path`` under before renaming it:
    ``.<name>.rgbtask-<host>-<pid>-<8 hex digits>.part`` (hidden, and matched by no ``*.png``)."""
    name = Path(path).name[:120]
    return f".{name}.rgbtask-{_host()}-{os.getpid()}-{secrets.token_hex(4)}.part"


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name != "posix":  # os.kill(pid, 0) is not a probe on Windows: never call a process dead
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: alive, someone else's
        return True
    try:  # Linux: a zombie (killed, not yet reaped) writes nothing more
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rfind(")") + 2 : stat.rfind(")") + 3] not in ("Z", "X")


def remove_stale_partials(folder: str | Path) -> list[Path]:
    """Delete the temporary files :func:`write_atomic` left in ``folder`` when its process died.

    Only files named by :func:`partial_name` whose owner ran on this host and is no longer alive are
    removed; those of live processes (another run writing there now) and of other hosts (a shared
    file system) are left alone. Returns the removed paths.
    """
    folder = Path(folder)
    host, removed = _host(), []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _PARTIAL.match(entry.name)
        if not match or match["host"] != host or _pid_alive(int(match["pid"])):
            continue
        try:
            os.unlink(entry.path)
        except FileNotFoundError:  # another run removed it first
            continue
        except OSError:
            continue
        removed.append(Path(entry.path))
    return sorted(removed)


def write_atomic(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, flush it to disk, rename it to ``path``.

    The temporary name is :func:`partial_name` (``.<name>.rgbtask-<host>-<pid>-<random>.part``): a
    crash leaves at most that file, never a half-written ``path``, and
    :func:`remove_stale_partials` cleans it up later. Any exception inside ``write`` removes the
    temporary file and propagates. An output that cannot be created (``path`` is a directory, its
    parent is a file or not writable) is an :class:`InputError` naming ``path``.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"expected a file name to write, got the directory {str(path)!r}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
        reason = f"{str(blocker)!r}, a file" if blocker else f"{str(path.parent)!r}: {exc.strerror}"
        raise InputError(f"expected a folder to write {str(path)!r} in, got {reason}") from None
    tmp = path.parent / partial_name(path)
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # umask applies
    except OSError as exc:
        raise InputError(
            f"expected a writable folder for {str(path)!r}, got {exc.strerror}"
        ) from None
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno is not None:
            raise type(exc)(exc.errno, exc.strerror, str(path)) from exc
        raise
    return path
