"""The combinators: each call adds a node to the task graph."""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast, overload

from . import _core
from ._future import Future, _wrap

T = TypeVar("T")
R = TypeVar("R")
A = TypeVar("A")
B = TypeVar("B")
C = TypeVar("C")
P = ParamSpec("P")
# An input of when_any: its result lists the input future objects as given.
AnyFuture = TypeVar("AnyFuture", bound="cf.Future[Any]")


def named(name: str, fn: Callable[P, R], /) -> Callable[P, R]:
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
    return cast("Callable[P, R]", _core.Named(name, fn))


def _bridge(future: cf.Future[T]) -> Future[T]:
    """An hpyx Future that mirrors a stdlib Future."""
    mirror: Future[T] = Future()

    def copy(source: cf.Future[T]) -> None:
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


def _futures_arg(futures: tuple[Any, ...]) -> list[Any]:
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
if TYPE_CHECKING:

    def async_(fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> Future[R]:
        """Runs ``fn(*args, **kwargs)`` on the pool; a Future for its result."""
        ...

else:
    async_ = _SPAWNER.async_


# `dataflow` is the Rust function itself: one call per node, no Python frame
# (its docstring is in python/src/combinators.rs).
# For type checkers: each argument is a future of the parameter's type or a
# value of it (futures are replaced by their values).
if TYPE_CHECKING:

    @overload
    def dataflow(fn: Callable[[], R], /) -> Future[R]: ...
    @overload
    def dataflow(fn: Callable[[A], R], a: cf.Future[A] | A, /) -> Future[R]: ...
    @overload
    def dataflow(
        fn: Callable[[A, B], R], a: cf.Future[A] | A, b: cf.Future[B] | B, /
    ) -> Future[R]: ...
    @overload
    def dataflow(
        fn: Callable[[A, B, C], R],
        a: cf.Future[A] | A,
        b: cf.Future[B] | B,
        c: cf.Future[C] | C,
        /,
    ) -> Future[R]: ...
    @overload
    def dataflow(fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> Future[R]: ...
    def dataflow(fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> Future[R]:
        """Runs ``fn`` once every future among its arguments is done."""
        ...

else:
    dataflow = _core.dataflow


@overload
def when_all() -> Future[tuple[()]]: ...
@overload
def when_all(a: cf.Future[A], /) -> Future[tuple[A]]: ...
@overload
def when_all(a: cf.Future[A], b: cf.Future[B], /) -> Future[tuple[A, B]]: ...
@overload
def when_all(a: cf.Future[A], b: cf.Future[B], c: cf.Future[C], /) -> Future[tuple[A, B, C]]: ...
@overload
def when_all(futures: Iterable[cf.Future[T]], /) -> Future[tuple[T, ...]]: ...
@overload
def when_all(*futures: cf.Future[T]) -> Future[tuple[T, ...]]: ...
def when_all(*futures: Any) -> Future[Any]:
    """A future for the values of ``futures``, in input order.

    Accepts futures as arguments or one iterable of futures. Fails like the
    first input (in input order) that failed or was cancelled.
    ``when_all()`` is a ready future of ``()``.

    Returns:
        A Future whose result is a tuple of the input values.
    """
    inputs = _futures_arg(futures)
    if not inputs:
        return ready_future(())
    # One Rust call finds the nodes (a million, maybe) and adds the node.
    return cast("Future[Any]", _core.when_all(inputs))


@overload
def when_any(futures: Iterable[AnyFuture], /) -> Future[tuple[int, list[AnyFuture]]]: ...
@overload
def when_any(*futures: AnyFuture) -> Future[tuple[int, list[AnyFuture]]]: ...
def when_any(*futures: Any) -> Future[tuple[int, list[Any]]]:
    """A future for the first of ``futures`` to finish.

    A failure or cancellation counts as finishing. Accepts futures as
    arguments or one iterable of futures.

    Returns:
        A Future whose result is ``(index, futures)``: the index of the
        first input to finish and the list of the input future objects.

    Raises:
        ValueError: If no futures are given.
    """
    inputs = _futures_arg(futures)
    if not inputs:
        raise ValueError("when_any() needs at least one future")
    return cast("Future[tuple[int, list[Any]]]", _core.when_any(inputs))


def ready_future(value: T) -> Future[T]:
    """A future that is already done with ``value``."""
    return _wrap(_core.ready(value))


def shared_future(future: Future[T]) -> Future[T]:
    """Returns ``future``: hpyx futures are already shareable.

    Any number of continuations, waiters and callbacks may hang off one
    future.
    """
    if not isinstance(future, Future):
        raise TypeError("shared_future() takes an hpyx.Future, got %s" % type(future).__name__)
    return future


# The combinators recognise these futures (and read their nodes directly).
_core.register_future_types(Future, cf.Future, _bridge)
