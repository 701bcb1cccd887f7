"""``process_files``: a folder of recordings through one operator, one Dask task per file.

Every channel of a file is one row of a single-channel operator, as ``wavedil filter``
runs it: the operator gets ``(channels, 1, T)`` float32. A file of at most ``segment``
frames is one task (read, process, write); a longer one is a dask array of segments read
from the file, run by ``wavedil.dask.apply`` (halos, warm-ups, the offline denoiser's
statistics), each segment saved beside the target, then joined into it by one task.

Outputs follow the command line's rules (``wavedil.io``): the input's name in ``out_dir``,
the format from the extension, the input's subtype if the format takes it, samples beyond
full scale clipped and counted; written to a temporary file that is renamed into place
whole, so a target is either absent or complete. A failing file is a row of the table and
does not stop the others. Reruns skip every file whose output exists and is newer than
its input (``overwrite=True`` redoes them). A worker that dies is replaced by Dask, which
runs its task again (``distributed.scheduler.allowed-failures``); the task first removes
what a killed attempt left (hidden ``.NAME.*.part`` files), as ``process_files`` does
again once a file is finished. The client and the workers must see the same files (one
machine, or a shared filesystem).

BLAS: one thread per Dask thread (Dask runs the files side by side): the local threaded
scheduler runs under ``threadpoolctl``'s limit; on a distributed client ``process_files``
calls ``tune_workers`` (``wavedil.dask.workers``: that limit, and glibc's malloc set to
reuse large blocks, which Dask's nanny turns off) unless ``tune_workers=False``.
"""

from __future__ import annotations

import glob
import json
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..engine.params import flag, integer
from ..io import AtomicWriter, AudioSource
from . import workers
from .plans import plan_for

SEGMENT = 1 << 22  # frames: a longer file is split in segments of this many
WRITE_BLOCK = 1 << 16  # frames per write
WARM_UP = 4096  # frames of zeros run once before the files (numba compiles)


@dataclass(frozen=True)
class FileResult:
    """One file: ``status`` ``"done"``, ``"skipped"`` (output up to date) or ``"failed"``;
    ``duration`` seconds of audio, ``elapsed`` seconds of processing (read to written),
    ``rtf = elapsed / duration`` (None without audio), ``error`` (one line, naming the file).
    """

    path: str
    output: str
    status: str
    duration: float = 0.0
    elapsed: float = 0.0
    rtf: float | None = None
    error: str = ""
    frames: int = 0
    channels: int = 0
    sample_rate: int = 0
    segments: int = 1
    clipped: int = 0


@dataclass(frozen=True)
class Job:
    """One file to run: its place in the table, paths, the delayed ``FileResult``."""

    index: int
    path: str
    target: str
    task: Any
    segmented: bool


class FileTable(Sequence[FileResult]):
    """The rows of ``process_files``, in the order of the paths; ``str()`` is a table,
    ``to_json()`` a list of objects."""

    columns = ("file", "status", "duration (s)", "time (s)", "RTF", "error")

    def __init__(self, rows: Iterable[FileResult]) -> None:
        self.rows = list(rows)

    def __getitem__(self, i: Any) -> Any:
        return self.rows[i]

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        counts = {s: sum(r.status == s for r in self.rows) for s in ("done", "skipped", "failed")}
        return f"FileTable({len(self.rows)} files: " + ", ".join(
            f"{n} {s}" for s, n in counts.items()) + ")"

    @property
    def failed(self) -> list[FileResult]:
        """The rows whose file failed (``status == "failed"``), with their ``error``."""
        return [r for r in self.rows if r.status == "failed"]

    def __str__(self) -> str:
        """One line per file (names and errors left-aligned), then the totals."""
        cells = [[os.path.basename(r.path), r.status, f"{r.duration:.2f}", f"{r.elapsed:.2f}",
                  "-" if r.rtf is None else f"{r.rtf:.4f}", r.error] for r in self.rows]
        rows = [list(self.columns)] + cells
        widths = [max(len(row[i]) for row in rows) for i in range(len(self.columns))]

        def line(row: list[str]) -> str:
            parts = [c.ljust(w) if i in (0, 5) else c.rjust(w)
                     for i, (c, w) in enumerate(zip(row, widths))]
            return "  ".join(parts).rstrip()

        done = [r for r in self.rows if r.status == "done"]
        audio, spent = sum(r.duration for r in done), sum(r.elapsed for r in done)
        return "\n".join([line(rows[0]), "  ".join("-" * w for w in widths)]
                         + [line(row) for row in cells]
                         + [f"{repr(self)[10:-1]}; {audio:.2f} s of audio in {spent:.2f} s of "
                            f"tasks"])

    def to_json(self) -> str:
        """The rows as a JSON list of objects (one per file: the ``FileResult`` fields)."""
        return json.dumps([asdict(r) for r in self.rows], indent=1)


def process_files(paths: Iterable[str | os.PathLike[str]], op: Any,
                  out_dir: str | os.PathLike[str], client: Any = None, *,
                  segment: int = SEGMENT, overwrite: bool = False, progress: bool = False,
                  subtype: str | None = None, clip: bool = True,
                  tune_workers: bool = True) -> FileTable:
    """Run ``op`` over every file of ``paths`` into ``out_dir`` (module docstring).

    Args:
        op: a wavedil operator (``Denoiser``, a model, ...) or ``wavedil.denoise`` (its
            options through ``functools.partial``); it maps ``(channels, 1, T)`` to itself.
        client: a ``dask.distributed.Client``; None runs on Dask's threaded scheduler.
        segment: frames per task of a long file (at least the operator's context).
        overwrite: redo files whose output is up to date.
        progress: a ``tqdm`` bar over the files on stderr.
        subtype, clip: as ``wavedil filter``'s ``--subtype`` and ``--clip``.
        tune_workers: set up the client's worker processes first
            (``wavedil.dask.tune_workers``: one BLAS thread, malloc reusing large blocks).

    Returns the ``FileTable``; it raises only for a wrong call (``out_dir`` not a folder).
    """
    segment = integer(segment, "segment")
    overwrite, progress, clip, tune = (
        flag(v, n) for v, n in ((overwrite, "overwrite"), (progress, "progress"),
                                (clip, "clip"), (tune_workers, "tune_workers")))
    files = [os.fspath(p) for p in paths]
    folder = os.fspath(out_dir)
    os.makedirs(folder, exist_ok=True)
    options = {"subtype": subtype, "clip": clip}
    rows: dict[int, FileResult] = {}
    jobs: list[Job] = []
    targets: dict[str, str] = {}
    for i, path in enumerate(files):
        target = os.path.join(folder, os.path.basename(path))
        if target in targets:
            rows[i] = _failed(path, target, f"{path}: its output {target} is also the output "
                                            f"of {targets[target]}")
            continue
        targets[target] = path
        if not overwrite and _up_to_date(path, target):
            rows[i] = FileResult(path, target, "skipped")
            continue
        remove_leftovers(target)
        try:
            jobs.append(Job(i, path, target, *_task(path, target, op, segment, options)))
        except Exception as error:  # a file the plan refuses (e.g. a segment too short)
            rows[i] = _failed(path, target, _message(path, error))
    if jobs:
        _warm_up(op)
    bar = _bar(len(files), progress)
    if bar is not None:
        bar.update(len(rows))
    for i, result in _run(jobs, client, bar, op, tune):
        rows[i] = result
        remove_leftovers(result.output, finished=True)
    if bar is not None:
        bar.close()
    return FileTable(rows[i] for i in range(len(files)))


def _task(path: str, target: str, op: Any, segment: int, options: dict) -> tuple[Any, bool]:
    """The delayed result of one file, and whether it runs in segments."""
    import soundfile as sf
    from dask import delayed

    try:
        info = sf.info(path)
    except Exception:  # the task reads it again and reports why it cannot
        info = None
    if info is None or info.frames <= segment:
        return delayed(run_file, pure=False)(path, target, op, options), False
    return segmented(path, target, op, segment, info, options), True


def _run(jobs: list[Job], client: Any, bar: Any, op: Any,
         tune: bool) -> Iterator[tuple[int, FileResult]]:
    """``(index, FileResult)`` as the files finish."""
    if client is None:
        yield from _run_local(jobs, bar)
        return
    from distributed import as_completed

    if tune:
        workers.tune_workers(client)
    client.run(_warm_up, op)  # every worker loads its kernels before the clock runs
    futures = {client.compute(job.task): job for job in jobs}
    for future in as_completed(futures):
        job = futures[future]
        try:
            result = future.result()
        except Exception as error:  # a segment failed, or a worker died too often
            result = _failed(job.path, job.target, _message(job.path, error))
        if bar is not None:
            bar.update(1)
        yield job.index, result


def _run_local(jobs: list[Job], bar: Any) -> Iterator[tuple[int, FileResult]]:
    """The threaded scheduler: the one-task files together, then each segmented file."""
    import dask
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):
        whole = [job for job in jobs if not job.segmented]
        if whole:
            results = dask.compute(*[job.task for job in whole], scheduler="threads")
            for job, result in zip(whole, results):
                if bar is not None:
                    bar.update(1)
                yield job.index, result
        for job in jobs:
            if not job.segmented:
                continue
            try:
                (result,) = dask.compute(job.task, scheduler="threads")
            except Exception as error:
                result = _failed(job.path, job.target, _message(job.path, error))
            if bar is not None:
                bar.update(1)
            yield job.index, result


# -- one file, one task ---------------------------------------------------------------------

def run_file(path: str, target: str, op: Any, options: dict) -> FileResult:
    """Read, process and write one file (every error becomes a failed row)."""
    start = time.perf_counter()
    try:
        remove_leftovers(target)
        with AudioSource(path) as source:
            blocks = list(source.blocks(WRITE_BLOCK))
            rate, channels = source.rate, source.channels
            keep = _kept_subtype(source.format, source.subtype)
        audio = np.concatenate(blocks, axis=-1) if blocks else \
            np.zeros((channels, 0), np.float32)
        _check_finite(path, audio, 0, rate)
        frames = audio.shape[-1]
        y = audio if frames == 0 else _call(op, audio[:, None, :], path)[:, 0, :]
        with AtomicWriter(target, rate, channels, options["subtype"], frames=frames,
                          input_path=path, clip=options["clip"], input_subtype=keep) as writer:
            for a in range(0, frames, WRITE_BLOCK):
                writer.write(y[:, a : a + WRITE_BLOCK])
        return _done(path, target, frames, channels, rate, time.perf_counter() - start, 1,
                     writer.clipped)
    except Exception as error:
        return _failed(path, target, _message(path, error))


def _call(op: Any, x: np.ndarray, path: str) -> np.ndarray:
    y = plan_for(op, x.shape[-1]).whole(x)
    if y.shape != x.shape:
        raise ValueError(f"the operator must map (channels, 1, T) = {x.shape} to itself, "
                         f"got {y.shape}")
    return np.asarray(y, np.float32)


# -- a long file, in segments ---------------------------------------------------------------

def segmented(path: str, target: str, op: Any, segment: int, info: Any,
              options: dict) -> Any:
    """The delayed result of a long file: segments read, ``apply``, saved, joined."""
    import dask.array as da
    from dask import delayed

    from .apply import apply

    frames, channels = int(info.frames), int(info.channels)
    if segment < 1:
        raise ValueError(f"segment must be >= 1 frames, got {segment}")
    bounds = [(a, min(a + segment, frames)) for a in range(0, frames, segment)]
    reads = [delayed(read_segment, nout=2, pure=False)(path, a, b, info.samplerate)
             for a, b in bounds]
    x = da.concatenate([da.from_delayed(r[0], (channels, 1, b - a), np.float32)
                        for r, (a, b) in zip(reads, bounds)], axis=-1)
    y = apply(op, x)
    if y.shape != x.shape:
        raise ValueError(f"the operator must map (channels, 1, T) = {x.shape} to itself, "
                         f"got {y.shape}")
    blocks = y.astype(np.float32).to_delayed().reshape(-1)
    saved = [delayed(save_segment, pure=False)(block, _segment_path(target, k))
             for k, block in enumerate(blocks)]
    started = [r[1] for r in reads]
    job = delayed(join_segments, pure=False)(path, target, saved, started, info.samplerate,
                                             channels, _kept_subtype(info.format, info.subtype),
                                             options)
    return job


def read_segment(path: str, a: int, b: int, rate: int) -> tuple[np.ndarray, float]:
    """Frames ``[a, b)`` as ``(channels, 1, b - a)`` float32, and when the read began."""
    import soundfile as sf

    started = time.time()
    try:
        with sf.SoundFile(path) as f:
            f.seek(a)
            block = f.read(b - a, dtype="float32", always_2d=True)
    except sf.LibsndfileError as error:
        raise ValueError(f"{path}: cannot read frames {a} to {b} ({error})") from None
    if block.shape[0] != b - a:
        raise ValueError(f"{path}: ends at frame {a + block.shape[0]}, expected {b}")
    _check_finite(path, block.T, a, rate)
    return np.ascontiguousarray(block.T)[:, None, :], started


def save_segment(block: np.ndarray, where: str) -> str:
    """Save a segment's output ``(channels, n)`` whole (temporary file, then renamed)."""
    import tempfile

    folder, name = os.path.split(where)
    fd, temporary = tempfile.mkstemp(prefix=f"{name}.", suffix=".part", dir=folder or ".")
    try:
        with os.fdopen(fd, "wb") as f:
            np.save(f, np.ascontiguousarray(block[:, 0, :]))
        os.replace(temporary, where)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return where


def join_segments(path: str, target: str, saved: list[str], started: list[float], rate: int,
                  channels: int, keep: str | None, options: dict) -> FileResult:
    """Write the saved segments, in order, into the target (atomically); remove them."""
    try:
        frames = 0
        with AtomicWriter(target, rate, channels, options["subtype"],
                          frames=None, input_path=path, clip=options["clip"],
                          input_subtype=keep) as writer:
            for where in saved:
                part = np.load(where, mmap_mode="r")
                for a in range(0, part.shape[-1], WRITE_BLOCK):
                    writer.write(np.asarray(part[:, a : a + WRITE_BLOCK]))
                frames += part.shape[-1]
        elapsed = time.time() - min(started)
        return _done(path, target, frames, channels, rate, elapsed, len(saved), writer.clipped)
    except Exception as error:
        return _failed(path, target, _message(path, error))
    finally:
        for where in saved:
            if os.path.exists(where):
                os.unlink(where)


def _segment_path(target: str, k: int) -> str:
    folder, name = os.path.split(target)
    return os.path.join(folder, f".{name}.seg{k:05d}.npy")


# -- small parts ----------------------------------------------------------------------------

def remove_leftovers(target: str, finished: bool = False) -> None:
    """Remove what an interrupted attempt left beside ``target``: temporary outputs
    (``.NAME.*.part``) and, once the file is ``finished``, its saved segments."""
    folder, name = os.path.split(target)
    patterns = [f".{glob.escape(name)}.*.part"]
    if finished:
        patterns.append(f".{glob.escape(name)}.seg*.npy")
    for pattern in patterns:
        for leftover in glob.glob(os.path.join(glob.escape(folder or "."), pattern)):
            try:
                os.unlink(leftover)
            except FileNotFoundError:
                pass


def _up_to_date(path: str, target: str) -> bool:
    try:
        return os.stat(target).st_mtime >= os.stat(path).st_mtime
    except OSError:
        return False


def _kept_subtype(fmt: str, subtype: str) -> str | None:
    """The input's subtype for the output, as ``wavedil filter`` keeps it (not lossy ones)."""
    return None if subtype in ("VORBIS", "OPUS") or fmt == "MPEG" else subtype


def _check_finite(path: str, audio: np.ndarray, first: int, rate: int) -> None:
    bad = ~np.isfinite(audio)
    if bad.any():
        frame = first + int(np.argmax(bad.any(axis=0)))
        raise ValueError(f"{path}: {int(np.count_nonzero(bad))} sample(s) are NaN or "
                         f"infinite, the first at frame {frame} ({frame / rate:.3f} s); "
                         f"nothing written")


def _done(path: str, target: str, frames: int, channels: int, rate: int, elapsed: float,
          segments: int, clipped: int) -> FileResult:
    duration = frames / rate if rate else 0.0
    return FileResult(path, target, "done", duration, elapsed,
                      elapsed / duration if duration else None, "", frames, channels, rate,
                      segments, clipped)


def _failed(path: str, target: str, error: str) -> FileResult:
    return FileResult(path, target, "failed", error=error)


def _message(path: str, error: BaseException) -> str:
    text = str(error) or type(error).__name__
    if isinstance(error, OSError) and error.strerror:
        text = f"{error.filename or path}: {error.strerror[0].lower() + error.strerror[1:]}"
    if path not in text:
        text = f"{path}: {text}"
    return " ".join(text.split())


def _warm_up(op: Any) -> None:
    """One short call, so that numba compiles (and caches) the kernels once, not in every
    task's time (an operator that refuses it fails in the tasks with its own message)."""
    try:
        plan_for(op, WARM_UP).whole(np.zeros((1, 1, WARM_UP), np.float32))
    except Exception:
        pass


def _bar(total: int, enabled: bool) -> Any:
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm is the optional extra wavedil[progress]
        return None
    return tqdm(total=total, unit="file", desc="files", leave=False)
