"""Where an output goes and how it gets there whole: a temporary file beside the target,
renamed into place at the end, removed on any failure or on SIGINT/SIGTERM.

Rules (sox's where it has one): the output may not be the input (by path, symlink or hard
link) unless ``in_place``; its folder must exist; a read-only file is not replaced; a
symlink is written through to its target (the link stays); a device or FIFO (``/dev/null``,
``/dev/full``) is written directly; the new file gets the mode a plain ``open`` would give
(``0666 & ~umask``) or the mode of the file it replaces.
"""

from __future__ import annotations

import os
import signal
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived while an output was being written."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"interrupted by {signal.Signals(signum).name}")


@dataclass(frozen=True)
class Target:
    """A checked output: the path to replace (symlinks resolved) and how to write it."""

    path: str       # as given
    real: str       # where the bytes go
    direct: bool    # a device or FIFO: written in place, no temporary file
    mode: int       # permissions of the new file

    def __repr__(self) -> str:
        return f"Target({self.path!r}, direct={self.direct})"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_target(path: str, input_path: str | None = None, in_place: bool = False) -> Target:
    """The output ``path`` checked against the rules above (``ValueError`` naming it)."""
    real = os.path.realpath(path)
    folder = os.path.dirname(real) or "."
    try:
        st = os.stat(real)
    except FileNotFoundError:
        st = None
    if st is None:
        if not os.path.isdir(folder):
            raise ValueError(f"{path}: the output folder {folder} does not exist")
        return Target(path, real, False, 0o666 & ~_umask())
    if stat.S_ISDIR(st.st_mode):
        raise ValueError(f"{path}: is a directory")
    if input_path is not None and _same_file(st, input_path) and not in_place:
        raise ValueError(f"{path}: is the input file {input_path} (give --in-place to "
                         f"replace it after a complete run)")
    if not stat.S_ISREG(st.st_mode):
        return Target(path, real, True, 0)
    mode = stat.S_IMODE(st.st_mode)
    if not mode & 0o222:
        raise ValueError(f"{path}: is read-only (mode {mode:04o}); not replacing it")
    return Target(path, real, False, mode)


def _same_file(st: os.stat_result, other: str) -> bool:
    try:
        o = os.stat(other)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == (o.st_dev, o.st_ino)


@contextmanager
def signals_raise() -> Iterator[None]:
    """While inside, SIGINT and SIGTERM raise ``Interrupted`` (so cleanup runs)."""
    def handler(signum: int, frame: FrameType | None) -> None:
        raise Interrupted(signum)

    try:
        old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread: leave the signals alone
        yield
        return
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


class AtomicPath:
    """A temporary path beside ``target`` (its mode set): ``commit()`` renames it onto the
    target, ``discard()`` removes it. A direct target is its own path (nothing to do)."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.path = target.real
        if target.direct:
            return
        folder, name = os.path.split(target.real)
        fd, self.path = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=folder or ".")
        try:
            os.fchmod(fd, target.mode)
        finally:
            os.close(fd)

    def __repr__(self) -> str:
        return f"AtomicPath({self.target.path!r})"

    def commit(self) -> None:
        """Rename the temporary file onto the target."""
        if not self.target.direct:
            os.replace(self.path, self.target.real)

    def discard(self) -> None:
        """Remove the temporary file (if any)."""
        if not self.target.direct:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
