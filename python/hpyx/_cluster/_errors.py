"""What the cluster reports, in the words of hpyx's local semantics.

dask.distributed cancels every pending future with a bare ``CancelledError``
when its client loses the scheduler, and fails a whole graph submission when
one of its payloads cannot be pickled. hpyx turns the first into
``ClusterError`` (the work did not run to completion; the error says why) and
the second into a ``TypeError`` on the one node whose function or argument
cannot be sent, naming it.
"""

from __future__ import annotations

import reprlib

# The reason dask.distributed gives the futures it cancels on a lost scheduler.
_CONNECTION_LOST = "scheduler-connection-lost"


class ClusterError(RuntimeError):
    """The cluster could not run a task: the scheduler was lost or is
    unreachable. The task's result is gone; submit it again once the cluster
    is back."""


def missing_distributed(error):
    """The ImportError raised when dask.distributed is not installed."""
    return ImportError(
        "hpyx's cluster mode needs the 'distributed' package "
        "(pip install 'hpyx[distributed]' or pip install distributed): %s" % error
    )


def connection_lost(address, detail=None):
    text = "lost the connection to the dask scheduler at %s" % address
    if detail:
        text += ": %s" % detail
    return ClusterError(text + "; the task's result is gone")


def is_connection_lost(cancelled):
    """True if dask cancelled a future because its client lost the scheduler."""
    return getattr(cancelled, "reason", None) == _CONNECTION_LOST


def unpicklable(name, what, error):
    """The error of a node that cannot be sent to the cluster."""
    return TypeError(
        "cannot send task %r to the cluster: its %s cannot be pickled (%s: %s)"
        % (name, what, type(error).__name__, error)
    )


def find_unpicklable(name, fn, args, kwargs, dumps):
    """The error naming the first part of a node that ``dumps`` rejects, or
    None if every part pickles."""
    parts = [("function %s" % reprlib.repr(fn), fn)]
    parts += [("argument %d (%s)" % (i, reprlib.repr(arg)), arg) for i, arg in enumerate(args)]
    parts += [("keyword argument %r" % key, value) for key, value in kwargs.items()]
    for what, value in parts:
        try:
            dumps(value)
        except Exception as error:
            return unpicklable(name, what, error)
    return None
