"""A process pool whose workers run only the package's code and die with their parent.

``concurrent.futures.ProcessPoolExecutor`` does not do for a library called from anywhere: with the ``spawn`` and
``forkserver`` start methods every worker first re-imports the caller's ``__main__``, so a plain script without
``if __name__ == "__main__":`` runs again in each worker (and fails with BrokenProcessPool); and its workers and
resource tracker outlive a parent killed with SIGKILL, idle, for as long as the machine runs.

Here each worker is a fresh interpreter started as ``python -c`` with this module's :func:`worker_main`: nothing of
the caller's ``__main__`` is imported. It connects back over an authenticated local connection
(:mod:`multiprocessing.connection`: a Unix socket, or a named pipe on Windows) and runs the module-level functions it
is sent, one at a time. It dies with its parent, however the parent ends: its standard input is a pipe from the
parent that a watchdog thread reads until end of file, and on Linux the kernel kills it too
(``prctl(PR_SET_PDEATHSIG, SIGKILL)``). It ignores SIGINT, so Ctrl-C interrupts the parent only, which stops the
workers and reports one line. No semaphore is made, so no resource tracker is started.
"""

from __future__ import annotations

import collections
import copy
import ctypes
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import Executor, Future
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field
from multiprocessing.connection import Client, Connection, Listener
from pathlib import Path
from typing import Any

__all__ = ["ProcessPool", "WorkerDied", "arm_parent_death_signal", "worker_main"]

PR_SET_PDEATHSIG = 1  # linux/prctl.h
# glibc's malloc in the workers: arrays up to 32 MiB (its largest threshold) come from the heap, and up to 1 GiB
# that is freed stays there for the next task, instead of being unmapped and faulted in again for every array of
# every task: 10-13% less CPU for a user shard (see mallopt(3); other C libraries ignore the variables). Set only
# where the caller's environment does not set them.
WORKER_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(1 << 30)}
STARTUP_TIMEOUT_S = 120.0  # s, for every worker to start and connect (imports on a loaded machine)
STOP_TIMEOUT_S = 5.0  # s, for a worker to exit after it is told to, before it is killed
_BOOT = (
    "import sys; sys.argv[1] in sys.path or sys.path.append(sys.argv[1]); "
    "from newretail.generate.pool import worker_main; worker_main()"
)


class WorkerDied(RuntimeError):
    """A worker process stopped while the pool still needed it (killed, out of memory, or crashed)."""


class RemoteTraceback(Exception):
    """The traceback of an exception raised in a worker, attached as its ``__cause__``."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass
class _Worker:
    proc: subprocess.Popen[bytes]
    conn: Connection | None = None
    task: tuple[int, Future[Any]] | None = None
    reader: threading.Thread | None = None


@dataclass
class _Pending:
    items: collections.deque[tuple[int, Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = field(
        default_factory=collections.deque
    )


class ProcessPool(Executor):
    """An executor of ``workers`` processes (see the module's docstring); ``with ProcessPool(2) as pool:``.

    Leaving the ``with`` block normally waits for every submitted task; leaving it by an exception (Ctrl-C
    included) stops the workers at once and cancels what has not run.

    Parameters
    ----------
    workers : number of worker processes, at least 1.
    """

    def __init__(self, workers: int) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers = {workers!r}: must be a whole number >= 1")
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self._pending = _Pending()
        self._broken: BaseException | None = None
        self._closing = False
        self._workers: list[_Worker] = []
        try:
            self._start(workers)
        except BaseException:
            self.terminate()
            raise

    # ------------------------------------------------------------------------------------------------ start
    def _start(self, workers: int) -> None:
        authkey = os.urandom(32)
        with Listener(authkey=authkey) as listener:
            hello = {
                "address": listener.address,
                "authkey": authkey.hex(),
                "parent": os.getpid(),
                "sys_path": sys.path,
            }
            root = str(Path(__file__).resolve().parents[2])
            env = {**WORKER_MALLOC, **os.environ}
            for _ in range(workers):
                proc = subprocess.Popen([sys.executable, "-c", _BOOT, root], stdin=subprocess.PIPE, env=env)
                assert proc.stdin is not None
                proc.stdin.write(json.dumps(hello).encode() + b"\n")
                proc.stdin.flush()  # kept open: its end of file tells the worker the parent is gone
                self._workers.append(_Worker(proc))
            by_pid = self._accept(listener, authkey, workers)
        for worker in self._workers:
            worker.conn = by_pid[worker.proc.pid]
            worker.reader = threading.Thread(target=self._read, args=(worker,), daemon=True, name="pool-reader")
            worker.reader.start()

    def _accept(self, listener: Listener, authkey: bytes, workers: int) -> dict[int, Connection]:
        """Accept one connection per worker; refuse when a worker exits first or none comes in time."""
        found: dict[int, Connection] = {}
        failure: list[BaseException] = []

        def accept() -> None:
            try:
                while len(found) < workers:
                    conn = listener.accept()
                    pid = conn.recv()
                    if pid == "stop":
                        return
                    found[int(pid)] = conn
            except BaseException as exc:  # reported below
                failure.append(exc)

        thread = threading.Thread(target=accept, daemon=True, name="pool-accept")
        thread.start()
        waited = 0.0
        while thread.is_alive() and waited < STARTUP_TIMEOUT_S:
            thread.join(0.1)
            waited += 0.1
            dead = [w.proc for w in self._workers if w.proc.poll() is not None]
            if dead:
                break
        if thread.is_alive():  # unblock accept() with a connection of our own
            with Client(listener.address, authkey=authkey) as stop:
                stop.send("stop")
            thread.join(STOP_TIMEOUT_S)
        if failure or len(found) < workers:
            codes = [w.proc.poll() for w in self._workers]
            reason = f" ({failure[0]})" if failure else ""
            raise WorkerDied(f"the worker processes did not start: exit codes {codes}{reason}")
        return found

    # ----------------------------------------------------------------------------------------------- running
    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Run ``fn(*args, **kwargs)`` in a worker; ``fn`` and its arguments must be picklable (module-level)."""
        future: Future[Any] = Future()
        with self._lock:
            if self._broken is not None:
                raise WorkerDied(str(self._broken))
            if self._closing:
                raise RuntimeError("cannot submit to a pool that is shutting down")
            self._pending.items.append((next(self._ids), future, fn, args, kwargs))
            self._dispatch()
        return future

    def _dispatch(self) -> None:
        """Send pending tasks to idle workers (called with the lock held)."""
        for worker in self._workers:
            while worker.task is None and self._pending.items:
                task_id, future, fn, args, kwargs = self._pending.items.popleft()
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    assert worker.conn is not None
                    worker.conn.send((task_id, fn, args, kwargs))
                except Exception as exc:  # not picklable, or the worker's end is closed
                    future.set_exception(exc)
                    continue
                worker.task = (task_id, future)

    def _read(self, worker: _Worker) -> None:
        assert worker.conn is not None
        while True:
            try:
                task_id, ok, value, remote = worker.conn.recv()
            except (EOFError, OSError):
                self._lost(worker)
                return
            with self._lock:
                current, worker.task = worker.task, None
                if current is not None and current[0] == task_id:
                    if ok:
                        current[1].set_result(value)
                    else:
                        value.__cause__ = RemoteTraceback(remote)
                        current[1].set_exception(value)
                self._dispatch()

    def _lost(self, worker: _Worker) -> None:
        """A worker's connection closed: expected when closing, otherwise the pool is broken."""
        with self._lock:
            if self._closing:
                return
            try:
                code = worker.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                code = None
            error = WorkerDied(f"a worker process (pid {worker.proc.pid}) stopped with exit code {code}")
            self._broken = error
            if worker.task is not None:
                worker.task[1].set_exception(error)
                worker.task = None
            while self._pending.items:
                future = self._pending.items.popleft()[1]
                if future.set_running_or_notify_cancel():
                    future.set_exception(error)

    # -------------------------------------------------------------------------------------------------- stop
    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop the workers once the submitted tasks are done (``wait``), or at once, cancelling the rest."""
        with self._lock:
            if cancel_futures or not wait:
                while self._pending.items:
                    self._pending.items.popleft()[1].cancel()
            running = [w.task[1] for w in self._workers if w.task is not None]
            running += [item[1] for item in self._pending.items]
        if wait:
            wait_futures(running)
        with self._lock:
            self._closing = True
        for worker in self._workers:
            try:
                if worker.conn is not None:
                    worker.conn.send(None)
            except OSError:
                pass
        self._reap(STOP_TIMEOUT_S)

    def terminate(self) -> None:
        """Stop every worker now (SIGTERM, then SIGKILL), failing what runs and cancelling what waits."""
        with self._lock:
            self._closing = True
            while self._pending.items:
                self._pending.items.popleft()[1].cancel()
            for worker in self._workers:
                if worker.task is not None and not worker.task[1].done():
                    worker.task[1].set_exception(WorkerDied("the pool was stopped"))
        for worker in self._workers:
            if worker.proc.poll() is None:
                worker.proc.terminate()
        self._reap(STOP_TIMEOUT_S)

    def _reap(self, timeout: float) -> None:
        for worker in self._workers:
            try:
                worker.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                worker.proc.kill()
                worker.proc.wait()
            for end in (worker.conn, worker.proc.stdin):
                if end is not None:
                    try:
                        end.close()
                    except OSError:
                        pass

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.shutdown(wait=True)
        else:
            self.terminate()


# ------------------------------------------------------------------------------------------------------- worker
def arm_parent_death_signal() -> bool:
    """Ask the kernel to kill this process when its parent ends (Linux ``prctl(PR_SET_PDEATHSIG, SIGKILL)``);
    returns whether it could. Call it in a child process, first thing."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        return int(ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)) == 0
    except (OSError, AttributeError):
        return False


def _die_with_parent(parent: int) -> None:
    """Exit when the parent is gone: the kernel's parent-death signal on Linux, and end of file on stdin anywhere."""
    arm_parent_death_signal()
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)

    def watch() -> None:
        try:
            while os.read(0, 1 << 12):  # the raw descriptor: no buffer lock held at interpreter exit
                pass
        except OSError:
            pass
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def _sendable(exc: BaseException) -> BaseException:
    """The exception itself when it survives pickling, else a RuntimeError with its type and message."""
    try:
        copy.deepcopy(exc)  # the same reduce protocol as pickling
        return exc
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")


def worker_main() -> None:
    """The worker's loop: connect to the parent named on stdin, run each task sent, send back its outcome."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    line = b""
    while not line.endswith(b"\n"):  # byte by byte from the descriptor, so nothing is left in a buffer
        byte = os.read(0, 1)
        if not byte:
            break
        line += byte
    hello = json.loads(line or b"{}")
    if not hello:
        os._exit(1)
    _die_with_parent(int(hello["parent"]))
    sys.path.extend(p for p in hello["sys_path"] if p not in sys.path)
    conn = Client(hello["address"], authkey=bytes.fromhex(hello["authkey"]))
    conn.send(os.getpid())
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            break
        if message is None:
            break
        task_id, fn, args, kwargs = message
        try:
            outcome = (task_id, True, fn(*args, **kwargs), "")
        except BaseException as exc:
            outcome = (task_id, False, _sendable(exc), "".join(traceback.format_exception(exc)))
        try:
            conn.send(outcome)
        except Exception as exc:  # a result that cannot be pickled
            conn.send((task_id, False, RuntimeError(f"result not picklable: {exc}"), ""))
    conn.close()
