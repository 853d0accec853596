"""Debugging hpyx pipelines: worker queries, graph pictures, progress.

Look at a pipeline by recording it::

    with hpyx.debug.record() as rec:
        out = hpyx.dataflow(merge, hpyx.async_(load, 1), hpyx.async_(load, 2))
        out.result()
    rec.render("pipeline.svg")           # needs Graphviz's `dot`
    print(rec.to_dot())                  # DOT text
    rec.write_chrome_trace("trace.json") # open in Perfetto / chrome://tracing

or export what a future still depends on (``to_dot(future)``). Nodes are
named after their callable's ``__qualname__`` (``hpyx.named`` sets another
name) and coloured by state; failed nodes show their exception type. Large
graphs render collapsed: one box per name, with counts.

In cluster mode (``hpyx.init(cluster=...)``) recordings and traces show each
node by its task key, with its edges, the address of the worker that ran it
and its run's times.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import IO, TYPE_CHECKING, Any, Literal, overload

from . import _core

if TYPE_CHECKING:
    from ._future import Future

__all__ = [
    "Recording",
    "disable_tracing",
    "enable_tracing",
    "get_num_worker_threads",
    "get_worker_thread_id",
    "progress",
    "record",
    "render",
    "snapshot",
    "to_dot",
    "to_json",
]

import logging

LOGGER = logging.getLogger("hpyx")

# Above this many nodes a rendered picture is collapsed by name by default:
# Graphviz's layout of tens of thousands of boxes is neither fast nor readable.
COLLAPSE_ABOVE = 2000


def get_worker_thread_id() -> int:
    """The calling thread's 0-based worker index, or -1 outside the pool."""
    return _core.get_worker_thread_id()


def get_num_worker_threads() -> int:
    """The number of worker threads in the pool (0 if it is not running)."""
    return _core.pool_size() or 0


def enable_tracing(path: str | os.PathLike[str]) -> None:
    """Writes one JSON line per finished task to ``path`` (truncated first).

    Each line has ``name``, ``node_id``, ``worker_thread_id`` (-1 outside the
    pool), ``start_ns``, ``duration_ns`` (on the graph's clock) and ``state``.
    Tasks created before tracing started are not traced. In cluster mode a
    task's line also has ``worker_address``, the address of the dask worker
    that ran it, and is named by its task key. The environment
    variable ``HPYX_TRACE_PATH`` switches tracing on when the runtime starts.
    Tracing stops, and the file is flushed, at :func:`disable_tracing` or
    shutdown.

    Args:
        path: The file to write.
    """
    _core.enable_tracing(str(path))


def disable_tracing() -> None:
    """Stops tracing and flushes the trace file."""
    _core.disable_tracing()
    from ._cluster import _observe

    _observe.forget_traced()


class _Exportable:
    """Export methods shared by recordings and snapshots of futures."""

    def snapshot(self) -> _core.Snapshot:
        raise NotImplementedError

    def to_dot(self, *, collapse: bool = False, title: str | None = None) -> str:
        """DOT text of the graph (``collapse=True`` groups nodes by name)."""
        return self.snapshot().to_dot(collapse, title)

    def to_json(self) -> str:
        """JSON of the graph (schema ``hpyx.graph/1``, see viz/SCHEMA.md)."""
        return self.snapshot().to_json()

    def to_chrome_trace(self) -> str:
        """Chrome trace-event JSON: one track per worker (Perfetto opens it)."""
        return self.snapshot().to_chrome_trace()

    def write_chrome_trace(self, path: str | os.PathLike[str]) -> None:
        """Writes :meth:`to_chrome_trace` to ``path``."""
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.to_chrome_trace())

    @overload
    def render(
        self,
        path: None = None,
        *,
        format: str | None = None,
        collapse: bool | None = None,
        title: str | None = None,
    ) -> bytes: ...
    @overload
    def render(
        self,
        path: str | os.PathLike[str],
        *,
        format: str | None = None,
        collapse: bool | None = None,
        title: str | None = None,
    ) -> str | os.PathLike[str]: ...
    def render(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        format: str | None = None,
        collapse: bool | None = None,
        title: str | None = None,
    ) -> bytes | str | os.PathLike[str]:
        """Renders a picture with Graphviz's ``dot``.

        Args:
            path: Where to write it; None returns the bytes instead.
            format: "svg" or "png"; by default from ``path``'s suffix, else svg.
            collapse: Group nodes by name; by default when there are more
                than ``COLLAPSE_ABOVE`` nodes.
            title: A label for the picture.

        Returns:
            The picture's bytes if ``path`` is None, else ``path``.

        Raises:
            FileNotFoundError: If Graphviz's ``dot`` is not installed (the
                message names it).
        """
        snap = self.snapshot()
        if format is None:
            suffix = (
                str(path).rsplit(".", 1)[-1].lower()
                if path is not None and "." in str(path)
                else ""
            )
            format = suffix if suffix in ("svg", "png") else "svg"
        if collapse is None:
            collapse = len(snap) > COLLAPSE_ABOVE
        data = snap.render(format, collapse, title)
        if path is None:
            return data
        with open(path, "wb") as f:
            f.write(data)
        return path


class Recording(_Exportable):
    """Every task-graph node created while recording, kept for export.

    Use as a context manager (recording stops on exit; the nodes stay until
    the Recording is dropped) or call :meth:`stop`.
    """

    def __init__(self) -> None:
        from ._cluster import _observe

        self._recording = _core.record()
        # What only the cluster knows of cluster nodes (keys, edges, runs).
        self._cluster = _observe.start_recording()

    def __enter__(self) -> Recording:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> Literal[False]:
        self.stop()
        return False

    def stop(self) -> None:
        """Stops recording new nodes."""
        self._recording.stop()
        self._cluster.stop()

    def __len__(self) -> int:
        return len(self._recording)

    def snapshot(self) -> _core.Snapshot:
        """A consistent snapshot (nodes, edges, states) of what was recorded."""
        return self._cluster.annotate(self._recording.snapshot())


def record() -> Recording:
    """Starts recording every node created from now on; see :class:`Recording`."""
    return Recording()


class _Ancestry(_Exportable):
    def __init__(self, futures: Future[Any] | Iterable[Future[Any]]) -> None:
        self._nodes = [f._node for f in _futures(futures)]

    def snapshot(self) -> _core.Snapshot:
        return _core.snapshot_of(self._nodes)


def _futures(futures: Future[Any] | Iterable[Future[Any]]) -> list[Future[Any]]:
    from ._future import Future

    if isinstance(futures, Future):
        return [futures]
    found = list(futures)
    for f in found:
        if not isinstance(f, Future):
            raise TypeError("expected hpyx futures, got %s" % type(f).__name__)
    return found


def snapshot(futures: Future[Any] | Iterable[Future[Any]]) -> _core.Snapshot:
    """A snapshot of ``futures`` and everything they still depend on.

    Finished inputs are released once their dependents have run, unless they
    were created while recording: to see a finished pipeline, record it.
    """
    return _Ancestry(futures).snapshot()


def to_dot(
    futures: Future[Any] | Iterable[Future[Any]],
    *,
    collapse: bool = False,
    title: str | None = None,
) -> str:
    """DOT text of ``futures`` and what they still depend on."""
    return _Ancestry(futures).to_dot(collapse=collapse, title=title)


def to_json(futures: Future[Any] | Iterable[Future[Any]]) -> str:
    """JSON (schema ``hpyx.graph/1``) of ``futures`` and their ancestry."""
    return _Ancestry(futures).to_json()


def render(
    futures: Future[Any] | Iterable[Future[Any]],
    path: str | os.PathLike[str] | None = None,
    *,
    format: str | None = None,
    collapse: bool | None = None,
    title: str | None = None,
) -> bytes | str | os.PathLike[str]:
    """Renders ``futures`` and their ancestry with Graphviz; see Recording.render."""
    return _Ancestry(futures).render(path, format=format, collapse=collapse, title=title)


class _PlainBar:
    """A one-line progress display for when tqdm is not installed."""

    def __init__(self, total, desc, file):
        self.total, self.desc, self.file = total, desc, file
        self.n = -1

    def update_to(self, n):
        if n != self.n:
            self.n = n
            pct = 100.0 * n / self.total if self.total else 100.0
            self.file.write("\r%s: %d/%d tasks done (%.0f%%)" % (self.desc, n, self.total, pct))
            self.file.flush()

    def close(self):
        self.file.write("\n")
        self.file.flush()


class _TqdmBar:
    def __init__(self, total, desc, file):
        from tqdm import tqdm

        self.bar = tqdm(total=total, desc=desc, file=file, unit="task", mininterval=0.1)

    def update_to(self, n):
        if n > self.bar.n:
            self.bar.update(n - self.bar.n)

    def close(self):
        self.bar.close()


def progress(
    futures: Future[Any] | Iterable[Future[Any]],
    *,
    desc: str = "hpyx",
    file: IO[str] | None = None,
    interval: float = 0.1,
) -> list[Future[Any]]:
    """Waits for ``futures``, showing finished/total on stderr.

    Uses tqdm if it is installed, a plain line otherwise; redraws at most
    every ``interval`` seconds (10 times a second by default). Nothing is
    shown unless you call this.

    Args:
        futures: The futures to wait for.
        desc: The bar's label.
        file: Where to draw (default ``sys.stderr``).
        interval: Seconds between redraws.

    Returns:
        The futures, as a list, all done.
    """
    futures = _futures(futures)
    counter = _core.DoneCounter([f._node for f in futures])
    file = sys.stderr if file is None else file
    show = True
    bar: _TqdmBar | _PlainBar | None
    try:
        bar = _TqdmBar(len(counter), desc, file)
    except ImportError:
        bar = _PlainBar(len(counter), desc, file)
    except Exception:
        # tqdm draws as it starts: a display that fails is logged, and the
        # wait goes on without it.
        LOGGER.exception("hpyx.debug.progress: drawing the progress bar failed")
        bar, show = None, False

    def draw(method, *args):
        # A display that fails (a closed file, a broken terminal) is logged
        # once; the wait goes on without it.
        nonlocal show
        if show:
            try:
                getattr(bar, method)(*args)
            except Exception:
                show = False
                LOGGER.exception("hpyx.debug.progress: drawing the progress bar failed")

    try:
        while True:
            draw("update_to", counter.count())
            if counter.wait_next(interval):
                draw("update_to", len(counter))
                break
    finally:
        # Always closed: on success, on an error and on KeyboardInterrupt.
        draw("close")
    return futures
