"""Type stubs for hpyx._core, the Rust core of hpyx (PyO3)."""

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final, ParamSpec, Self, final

from typing_extensions import disjoint_base

_P = ParamSpec("_P")

__all__ = [
    "CFG_KEYS",
    "DoneCounter",
    "ExecutorCore",
    "FutureBase",
    "InternalError",
    "MapResults",
    "Named",
    "Node",
    "Promise",
    "Recording",
    "Snapshot",
    "__version__",
    "_after_fork_in_child",
    "_allocator_committed",
    "_before_fork",
    "_dask_get",
    "_dask_spec_types",
    "_release_memory",
    "_trace_cluster_node",
    "_trace_cluster_run",
    "_worker_thread_states",
    "dataflow",
    "clock_ns",
    "default_pool_size",
    "disable_tracing",
    "enable_tracing",
    "get_worker_thread_id",
    "init",
    "is_running",
    "is_tracing",
    "pool_size",
    "promise",
    "ready",
    "record",
    "register_future_types",
    "shutdown",
    "snapshot_of",
    "track",
    "when_all",
    "when_any",
    "wrap",
    # Only in builds with the `fault-injection` feature (see the end).
    "_FAULT_POINTS",
    "_inject_panic",
    "_injected_remaining",
]
__version__: Final[str]
CFG_KEYS: Final[list[str]]

class InternalError(RuntimeError):
    """A Rust panic inside the hpyx runtime, reported on the affected future."""

# -- runtime --------------------------------------------------------------------

def init(*, os_threads: int | None = None, cfg: list[str] | None = None) -> None: ...
def shutdown(*, at_exit: bool = False) -> None: ...
def is_running() -> bool: ...
def pool_size() -> int | None: ...
def default_pool_size() -> int: ...
def get_worker_thread_id() -> int: ...
def _before_fork() -> None: ...
def _after_fork_in_child() -> None: ...
def _worker_thread_states() -> int: ...

# -- nodes ----------------------------------------------------------------------

@final
class Node:
    """A node of the task graph."""

    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def state(self) -> str:
        """ "pending", "ready", "running", "succeeded", "failed" or "cancelled"."""
    def done(self) -> bool: ...
    def running(self) -> bool: ...
    def cancelled(self) -> bool: ...
    def wait(self, timeout: float | None = None) -> bool: ...
    def result(self, timeout: float | None = None) -> Any: ...
    def exception(self, timeout: float | None = None) -> BaseException | None: ...
    def cancel(self) -> bool: ...
    def on_complete(self, callback: Callable[[], object]) -> None: ...

@disjoint_base
class FutureBase:
    """The Rust half of every hpyx.Future: its node, inside the object."""

    def __new__(cls, promise: Promise) -> Self: ...
    def result(self, timeout: float | None = None) -> Any: ...
    def exception(self, timeout: float | None = None) -> BaseException | None: ...
    def done(self) -> bool: ...
    def running(self) -> bool: ...
    def cancelled(self) -> bool: ...
    def cancel(self) -> bool:
        """True if cancelled now or before (the stdlib's `cancel`)."""
    @property
    def _node(self) -> Node: ...
    @property
    def _node_state(self) -> str: ...
    @property
    def _node_name(self) -> str: ...
    def _on_complete(self, callback: Callable[[], object]) -> None: ...
    # Typed on hpyx.Future (generic in its value); the registered future type.
    def then(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Chains a continuation: ``fn(value, *args, **kwargs)`` on the pool."""

@final
class Promise:
    """The writing end of a node completed from Python (``hpyx.Future()``)."""

    def node(self) -> Node: ...
    def set_result(self, value: Any) -> None: ...
    def set_exception(self, exception: BaseException) -> None: ...

@final
class ExecutorCore:
    """The Rust half of HPXExecutor: its closed flag and tracked futures."""

    def __new__(cls, track: bool = True) -> Self: ...
    # Return the registered future type (hpyx.Future, typed there).
    def submit(self, fn: Callable[_P, Any], /, *args: _P.args, **kwargs: _P.kwargs) -> Any: ...
    def async_(self, fn: Callable[_P, Any], /, *args: _P.args, **kwargs: _P.kwargs) -> Any: ...
    def map(
        self,
        func: Callable[..., Any],
        arg_tuples: Iterable[tuple[Any, ...]],
        timeout: float | None = None,
    ) -> MapResults: ...
    def close(self) -> list[Node]: ...
    def __len__(self) -> int: ...

@final
class MapResults:
    """The iterator HPXExecutor.map returns: the results, in order, with a
    generator's close, send and throw."""

    def __iter__(self) -> MapResults: ...
    def __next__(self) -> Any: ...
    def send(self, arg: Any) -> Any: ...
    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any: ...
    def close(self) -> None: ...

@final
class Named:
    """A callable carrying a task name: ``hpyx.named(name, fn)``."""

    name: str
    func: Callable[..., Any]
    def __new__(cls, name: str, func: Callable[..., Any]) -> Self: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...

# -- combinators ----------------------------------------------------------------

def dataflow(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """``hpyx.dataflow`` itself (needs ``register_future_types`` first)."""

def when_all(futures: list[Any]) -> Any: ...
def when_any(futures: list[Any]) -> Any: ...
def register_future_types(hpyx: type, stdlib: type, bridge: Callable[[Any], Any]) -> None:
    """Called once by ``hpyx``: the futures the combinators recognise."""

def ready(value: Any, name: str | None = None) -> Node: ...
def promise(name: str | None = None) -> Promise: ...
def wrap(node: Node) -> Any:
    """A new hpyx.Future (the registered type) around ``node``, untracked by gc."""

def track(obj: object) -> None:
    """Makes the cycle collector track ``obj`` again (an untracked future)."""

# -- debugging ------------------------------------------------------------------

@final
class Snapshot:
    """A consistent picture of part of the graph."""

    def __len__(self) -> int: ...
    def nodes(self) -> list[dict[str, Any]]: ...
    def edges(self) -> list[tuple[int, int]]: ...
    def to_dot(self, collapse: bool = False, title: str | None = None) -> str: ...
    def to_json(self) -> str: ...
    def to_chrome_trace(self) -> str: ...
    def render(self, format: str, collapse: bool = False, title: str | None = None) -> bytes: ...
    def with_cluster_nodes(
        self,
        nodes: list[tuple[int, str, int | None, int | None, str | None]],
        edges: list[tuple[int, int]],
    ) -> Snapshot:
        """This snapshot with cluster nodes (id, task key, start, end, worker
        address) named by key and timed, plus the cluster's edges."""

@final
class Recording:
    """Every node created while active, kept for export."""

    @property
    def active(self) -> bool: ...
    def stop(self) -> None: ...
    def __len__(self) -> int: ...
    def snapshot(self) -> Snapshot: ...

@final
class DoneCounter:
    """Counts finished nodes among a fixed set (progress bars)."""

    def __new__(cls, nodes: Sequence[Node]) -> Self: ...
    def __len__(self) -> int: ...
    def count(self) -> int: ...
    def wait_next(self, timeout: float) -> bool: ...

def record() -> Recording: ...
def snapshot_of(nodes: Sequence[Node]) -> Snapshot: ...
def enable_tracing(path: str) -> None: ...
def disable_tracing() -> None: ...
def is_tracing() -> bool: ...
def clock_ns() -> int:
    """Now on the graph's clock (the times of snapshots and traces), in ns."""

def _trace_cluster_node(node_id: int, key: str) -> bool: ...
def _trace_cluster_run(node_id: int, start_ns: int, end_ns: int, worker_address: str) -> None: ...

# -- dask graphs (hpyx.dask) ------------------------------------------------------

def _dask_spec_types(
    graph_node: type,
    task: type,
    task_ref: type,
    data_node: type,
    alias: type,
    list: type,
    tuple: type,
    set: type,
    dict: type,
    convert_legacy: Callable[[Any, dict[Any, Any], dict[Any, Any] | None], Any],
) -> None:
    """Called once by ``hpyx.dask``: dask's task spec classes."""

def _dask_get(
    dsk: dict[Any, Any],
    keys: list[Any],
    cache: dict[Any, Any] | None = None,
    context: Any = None,
    hooks: tuple[Callable[[Any], None], Callable[[Any, Any], None]] | None = None,
) -> list[Any]:
    """Computes the flat list ``keys`` of the graph ``dsk``; their values in order."""

# -- test hooks -------------------------------------------------------------------

def _release_memory() -> int: ...
def _allocator_committed() -> int: ...

# Only in builds with the `fault-injection` feature (the dev/test installs of
# scripts/setup.sh; never release wheels).
_FAULT_POINTS: Final[list[str]]

def _inject_panic(point: str, count: int) -> None: ...
def _injected_remaining(point: str) -> int: ...
