"""hpyx.Future: a ``concurrent.futures.Future`` backed by a task-graph node.

The node (held by ``hpyx._core.FutureBase``, the Rust half of every
``hpyx.Future`` object) holds the state, the value and the waiting logic;
this class gives it the stdlib's face. It never calls
``concurrent.futures.Future.__init__``, so a future costs no
``threading.Condition``: the attributes that the stdlib's helpers
(``wait``, ``as_completed``) read — ``_condition``, ``_waiters``, ``_state``
— are computed, and the condition is created on first use, together with a
completion callback that notifies the waiters installed under it.
"""

from __future__ import annotations

import concurrent.futures as cf
import functools
import logging
import threading
from collections.abc import Callable, Generator
from concurrent.futures._base import (
    CANCELLED,
    CANCELLED_AND_NOTIFIED,
    FINISHED,
    PENDING,
    RUNNING,
)
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from . import _core

T = TypeVar("T")
U = TypeVar("U")
P = ParamSpec("P")

# The Rust half of every hpyx.Future, and its methods as plain functions:
# `Future` defines these names again, with the stdlib's signatures and
# docstrings, and calls these.
_FutureBase = _core.FutureBase
_result = _FutureBase.result
_exception = _FutureBase.exception
_done = _FutureBase.done
_running = _FutureBase.running
_cancelled = _FutureBase.cancelled
_cancel = _FutureBase.cancel

LOGGER = logging.getLogger("hpyx")

_LAZY_LOCK = threading.Lock()

# Node state -> the stdlib's state names, as cf.wait / as_completed read them.
# A cancelled node has already notified its waiters: CANCELLED_AND_NOTIFIED.
_STATE = {
    "pending": PENDING,
    "ready": PENDING,
    "running": RUNNING,
    "succeeded": FINISHED,
    "failed": FINISHED,
    "cancelled": CANCELLED_AND_NOTIFIED,
}

_FINAL = ("succeeded", "failed", "cancelled")

_DESCRIPTION = {
    "pending": "pending",
    "ready": "pending",
    "running": "running",
    "succeeded": "finished",
    "failed": "finished",
    "cancelled": "cancelled",
}


def _invoke_callback(fn: Callable[[Future[Any]], object], future: Future[Any]) -> None:
    try:
        fn(future)
    except Exception:
        LOGGER.exception("exception calling callback for %r", future)


# The instance-dict getter every cf.Future has (shadowed below).
_instance_dict = cf.Future.__dict__["__dict__"].__get__


class Future(_FutureBase, cf.Future[T]):
    """Represents the result of an asynchronous computation.

    Generic in its value, as ``concurrent.futures.Future`` is:
    ``hpyx.Future[int]`` is a future whose result is an ``int``.
    """

    # The node lives in the `_FutureBase` part of the object (Rust); these
    # are class defaults, shadowed per instance only when used, so a future
    # made by a task needs no instance dict.
    _promise: _core.Promise | None = None
    _cond: threading.Condition | None = None
    _waiter_list: list[Any] | None = None
    _notified = False

    def __setattr__(
        self,
        name: str,
        value: object,
        _track: Callable[[object], None] = _core.track,
        _set: Callable[[object, str, object], None] = object.__setattr__,
    ) -> None:
        # A future made by a task starts untracked by the cycle collector (it
        # can be in no cycle: see `wrap` in python/src/future/make.rs); anything
        # stored on it could close one, so it is tracked again first.
        _track(self)
        _set(self, name, value)

    @property
    def __dict__(self, _track: Callable[[object], None] = _core.track) -> dict[str, Any]:  # type: ignore[override]
        # vars(future) hands out the instance dict for writing: track first.
        _track(self)
        return _instance_dict(self)

    def __new__(cls, *args: object, **kwargs: object) -> Future[T]:
        promise = _core.promise()
        self: Future[T] = _FutureBase.__new__(cls, promise)
        self._promise = promise
        return self

    def __init__(self) -> None:
        """Initializes the future. Should not be called by clients."""

    # -- what the stdlib's helpers read ------------------------------------

    @property
    def _condition(self) -> threading.Condition:  # type: ignore[override]
        cond = self._cond
        if cond is None:
            cond = self._install_condition()
        return cond

    def _install_condition(self) -> threading.Condition:
        with _LAZY_LOCK:
            cond = self._cond
            if cond is not None:
                return cond
            self._waiter_list = []
            cond = self._cond = threading.Condition()
        # Outside _LAZY_LOCK: on a finished node the callback runs right here
        # and takes the condition, which another thread may hold while it
        # waits for _LAZY_LOCK. Until it has run, _state is not final.
        try:
            self._on_complete(self._notify_stdlib_waiters)
        except BaseException:
            # (A forked child: RuntimeError.) Leave no condition installed
            # that no completion would ever notify; the next helper retries.
            with _LAZY_LOCK:
                self._cond = self._waiter_list = None
            raise
        return cond

    @property
    def _waiters(self) -> list[Any]:  # type: ignore[override]
        self._condition  # noqa: B018 (creates the list)
        assert self._waiter_list is not None
        return self._waiter_list

    @property
    def _state(self) -> str:  # type: ignore[override]
        state = self._node_state
        if self._cond is not None and not self._notified and state in _FINAL:
            # The node finished but its waiters are not notified yet: helpers
            # holding _condition must see the state change together with the
            # notification (as in the stdlib), else cf.wait counts a future
            # twice and as_completed yields one twice.
            return CANCELLED if state == "cancelled" else RUNNING
        return _STATE[state]

    def _notify_stdlib_waiters(self) -> None:
        assert self._cond is not None and self._waiter_list is not None
        with self._cond:
            self._notified = True
            state = self._node_state
            for waiter in self._waiter_list:
                if state == "succeeded":
                    waiter.add_result(self)
                elif state == "failed":
                    waiter.add_exception(self)
                else:
                    waiter.add_cancelled(self)
            self._cond.notify_all()

    # -- the stdlib's API ----------------------------------------------------

    def __repr__(self) -> str:
        state = self._node_state
        extra = ""
        if state == "succeeded":
            extra = " returned %s" % _result(self, 0).__class__.__name__
        elif state == "failed":
            extra = " raised %s" % _exception(self, 0).__class__.__name__
        return "<%s at %#x state=%s%s name=%r>" % (
            self.__class__.__name__,
            id(self),
            _DESCRIPTION[state],
            extra,
            self._node_name,
        )

    def cancel(self) -> bool:
        """Cancel the future if possible.

        Returns True if the future was cancelled, False otherwise. A future
        cannot be cancelled if it is running or has already completed.
        """
        return _cancel(self)

    def cancelled(self) -> bool:
        """Return True if the future was cancelled."""
        return _cancelled(self)

    def running(self) -> bool:
        """Return True if the future is currently executing."""
        return _running(self)

    def done(self) -> bool:
        """Return True if the future was cancelled or finished executing."""
        return _done(self)

    def add_done_callback(self, fn: Callable[[Future[T]], object]) -> None:
        """Attaches a callable that will be called when the future finishes.

        Args:
            fn: A callable that will be called with this future as its only
                argument when the future completes or is cancelled. The
                callable will always be called by a thread in the same
                process in which it was added. If the future has already
                completed or been cancelled then the callable will be
                called immediately. These callables are called in the order
                that they were added.
        """
        self._on_complete(functools.partial(_invoke_callback, fn, self))

    def result(self, timeout: float | None = None) -> T:
        """Return the result of the call that the future represents.

        Args:
            timeout: The number of seconds to wait for the result if the future
                isn't done. If None, then there is no limit on the wait time.

        Returns:
            The result of the call that the future represents.

        Raises:
            CancelledError: If the future was cancelled.
            TimeoutError: If the future didn't finish executing before the given
                timeout.
            Exception: If the call raised then that exception will be raised.
        """
        try:
            return _result(self, timeout)
        finally:
            # Break a reference cycle with the exception (its traceback holds
            # this frame); the node's reference to it is invisible to gc.
            self = None  # type: ignore[assignment]

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """Return the exception raised by the call that the future represents.

        Args:
            timeout: The number of seconds to wait for the exception if the
                future isn't done. If None, then there is no limit on the wait
                time.

        Returns:
            The exception raised by the call that the future represents or None
            if the call completed without raising.

        Raises:
            CancelledError: If the future was cancelled.
            TimeoutError: If the future didn't finish executing before the given
                timeout.
        """
        return _exception(self, timeout)

    def set_running_or_notify_cancel(self) -> bool:
        """Mark the future as running or process any cancel notifications.

        Should only be used by Executor implementations and unit tests.

        Returns:
            False if the Future was cancelled, True otherwise.

        Raises:
            RuntimeError: if this method was already called or if set_result()
                or set_exception() was called.
        """
        if _cancelled(self):
            return False
        if self._promise is None or _done(self):
            raise RuntimeError("Future in unexpected state")
        return True

    def set_result(self, result: T) -> None:
        """Sets the return value of work associated with the future.

        Should only be used by Executor implementations and unit tests.
        """
        self._check_settable().set_result(result)

    def set_exception(self, exception: BaseException | None) -> None:
        """Sets the result of the future as being the given exception.

        Should only be used by Executor implementations and unit tests.
        """
        self._check_settable().set_exception(exception)  # type: ignore[arg-type]

    def _check_settable(self) -> _core.Promise:
        if _done(self):
            raise cf.InvalidStateError("{}: {!r}".format(self._state, self))
        if self._promise is None:
            raise cf.InvalidStateError(
                "{}: {!r}: a task's future is completed by its task; "
                "set_result()/set_exception() are for futures made with "
                "hpyx.Future()".format(self._state, self)
            )
        return self._promise

    # -- beyond the stdlib ---------------------------------------------------

    # `then(fn, /, *args, **kwargs)` is `_core.FutureBase.then`, inherited
    # (one call from Python into Rust, no frame in between); declared here
    # for type checkers only.
    if TYPE_CHECKING:

        def then(
            self, fn: Callable[Concatenate[T, P], U], /, *args: P.args, **kwargs: P.kwargs
        ) -> Future[U]:
            """Chains a continuation: ``fn(value, *args, **kwargs)`` on the pool."""
            ...

    def __await__(self) -> Generator[Any, None, T]:
        import asyncio

        return asyncio.wrap_future(self).__await__()

    @property
    def name(self) -> str:
        """The readable name of this future's task-graph node."""
        return self._node_name


# A Future for an existing node, made as `submit` makes its futures (the
# registered `Future` type, see `_combinators`).
_wrap: Callable[[_core.Node], Future[Any]] = _core.wrap
