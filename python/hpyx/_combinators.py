"""The combinators: each call adds a node to the task graph."""

from __future__ import annotations

import concurrent.futures as cf

from . import _core
from ._future import Future, _wrap


def named(name, fn, /):
    """Gives the task that runs ``fn`` a readable name.

    The name labels the node in ``repr``, graph exports and traces; by
    default a node is named after the callable's ``__qualname__``. Naming
    this way never collides with ``fn``'s own keyword arguments.

    Example:
        >>> import hpyx
        >>> hpyx.async_(hpyx.named("load", len), "abc").result()
        3

    Args:
        name: The node name.
        fn: The callable.

    Returns:
        A callable that calls ``fn`` and carries ``name``.
    """
    return _core.Named(name, fn)


def _bridge(future):
    """An hpyx Future that mirrors a stdlib Future."""
    mirror = Future()

    def copy(source):
        if source.cancelled():
            mirror.cancel()
            return
        exc = source.exception()
        if exc is not None:
            mirror.set_exception(exc)
        else:
            mirror.set_result(source.result())

    future.add_done_callback(copy)
    return mirror


def _futures_arg(futures):
    """The futures of ``when_all(*futures)`` / ``when_any(*futures)`` as a
    list: the arguments, or the one iterable given."""
    if len(futures) == 1 and not isinstance(futures[0], cf.Future):
        try:
            return list(futures[0])
        except TypeError:
            pass
    return list(futures)


# `async_` is the Rust method of an untracked executor core, bound: no
# Python frame per task (its docstring and signature are set in Rust).
_SPAWNER = _core.ExecutorCore(track=False)
async_ = _SPAWNER.async_


# `dataflow` is the Rust function itself: one call per node, no Python frame
# (its docstring is in python/src/combinators.rs).
dataflow = _core.dataflow


def when_all(*futures):
    """A future for the values of ``futures``, in input order.

    Accepts futures as arguments or one iterable of futures. Fails like the
    first input (in input order) that failed or was cancelled.
    ``when_all()`` is a ready future of ``()``.

    Returns:
        A Future whose result is a tuple of the input values.
    """
    futures = _futures_arg(futures)
    if not futures:
        return ready_future(())
    # One Rust call finds the nodes (a million, maybe) and adds the node.
    return _core.when_all(futures)


def when_any(*futures):
    """A future for the first of ``futures`` to finish.

    A failure or cancellation counts as finishing. Accepts futures as
    arguments or one iterable of futures.

    Returns:
        A Future whose result is ``(index, futures)``: the index of the
        first input to finish and the list of the input future objects.

    Raises:
        ValueError: If no futures are given.
    """
    futures = _futures_arg(futures)
    if not futures:
        raise ValueError("when_any() needs at least one future")
    return _core.when_any(futures)


def ready_future(value):
    """A future that is already done with ``value``."""
    return _wrap(_core.ready(value))


def shared_future(future):
    """Returns ``future``: hpyx futures are already shareable.

    Any number of continuations, waiters and callbacks may hang off one
    future.
    """
    if not isinstance(future, Future):
        raise TypeError("shared_future() takes an hpyx.Future, got %s" % type(future).__name__)
    return future


# The combinators recognise these futures (and read their nodes directly).
_core.register_future_types(Future, cf.Future, _bridge)
