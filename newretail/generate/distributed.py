"""The Dask engine: the same partition tasks as the local engine, run on a Dask distributed cluster.

Every task draws from its own random stream and writes its files with the function the caller passes
(:func:`newretail.generate.run.run_task`), exactly as a local worker process does, so a dataset made on a cluster
is byte-identical to one made on this machine. Workers write straight into ``out``, which must therefore be the
same path on shared storage for the client (which writes the manifest last) and every worker. Without a scheduler
address a ``LocalCluster`` of ``workers`` processes with one thread each is started for the run and closed
afterwards.

``dask[distributed]`` is an optional dependency (``pip install newretail[dask]``) and is imported lazily.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from newretail.extras import require
from newretail.generate.errors import GenerateError

if TYPE_CHECKING:
    from distributed import Client

    from newretail.generate.run import Plan, Task

TaskRunner = Callable[["Plan", "Task", str], list[dict[str, Any]]]

CONNECT_TIMEOUT_S = 20.0  # s, how long to try to reach a scheduler before giving up
TASKS_PER_THREAD = 2  # tasks in flight per worker thread: the scheduler is never far ahead, results are small


def require_dask() -> None:
    """Refuse, naming the extra, when dask's distributed scheduler is not installed (checked before any work).

    Raises
    ------
    newretail.extras.MissingExtraError
        ``engine = 'dask' needs distributed, in the dask extra: pip install 'newretail[dask]'``.
    """
    require("distributed", "dask", purpose="engine = 'dask'")


def dask_setup(worker: Any) -> None:
    """Run by Dask in each worker process of a LocalCluster started by :func:`dask_client` (its ``preload``), as
    the worker starts: the kernel kills the worker when the process that started the cluster ends (Linux), and
    Ctrl-C is left to that process (which closes the cluster) instead of printing each worker's traceback."""
    import signal
    import threading

    from newretail.generate.pool import arm_parent_death_signal

    arm_parent_death_signal()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def dask_client(stack: ExitStack, *, workers: int, scheduler: str | None) -> Client:
    """A client of the cluster at ``scheduler``, or of a new LocalCluster of ``workers`` one-thread processes; both
    are closed with ``stack``. The LocalCluster's worker processes exit when this process ends, however it ends (on
    Linux the kernel kills them at once; elsewhere Dask's nanny stops them within seconds).

    Raises
    ------
    newretail.extras.MissingExtraError
        When the ``dask`` extra is not installed.
    GenerateError
        When no scheduler answers at ``scheduler``.
    """
    require_dask()
    from distributed import Client, LocalCluster

    if scheduler is None:
        cluster = stack.enter_context(
            LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
                preload=[__name__],  # each worker runs dask_setup below as it starts
            )
        )
        return stack.enter_context(Client(cluster))
    try:
        return stack.enter_context(Client(scheduler, timeout=CONNECT_TIMEOUT_S))
    except (OSError, TimeoutError, ValueError) as exc:
        raise GenerateError(
            f"scheduler = {scheduler!r}: no Dask scheduler answered there within {CONNECT_TIMEOUT_S:.0f} s ({exc}); "
            "give the address the scheduler prints, e.g. tcp://10.0.0.5:8786, or omit it to start a LocalCluster"
        ) from None


def _check_shared(out: Path, records: list[dict[str, Any]], scheduler: str | None) -> None:
    """The first finished task's files must be visible here, or the manifest would describe files we cannot see."""
    missing = [rec["path"] for rec in records if not (out / rec["path"]).is_file()]
    if missing:
        raise GenerateError(
            f"out = {str(out)!r}: the workers of {scheduler or 'the cluster'} wrote {missing[0]} but it is not visible "
            "here; with a remote cluster the output folder must be on storage shared by the client and every worker, "
            "at the same path"
        )


def run_on_dask(
    run_task: TaskRunner, p: Plan, out: str, *, workers: int, scheduler: str | None
) -> Iterator[list[dict[str, Any]]]:
    """Run every partition task of ``p`` on a Dask cluster, yielding each task's file records as it finishes.

    Parameters
    ----------
    run_task : draws one task and writes its files, returning their records
        (:func:`newretail.generate.run.run_task`; passed in, so this engine does not import the local one).
    p : the dataset's plan (see :func:`newretail.generate.run.plan`).
    out : dataset folder; with a remote cluster, a path on storage shared by this machine and every worker.
    workers : processes of the LocalCluster started when ``scheduler`` is None (one thread each); with a
        scheduler address the cluster's own workers are used and this is ignored.
    scheduler : address of a running Dask scheduler (e.g. ``tcp://10.0.0.5:8786``), or None for a LocalCluster.

    Yields
    ------
    The records (path, rows, bytes, sha256, fraction) of the files one task wrote, in the order tasks finish.
    """
    from distributed import as_completed

    if not callable(run_task):
        raise ValueError(f"run_task: expected a function of (plan, task, out), got {type(run_task).__name__}")
    root = Path(out)
    run = uuid.uuid4().hex[:8]  # task keys unique to this run, should the cluster serve several runs
    with ExitStack() as stack:
        client = dask_client(stack, workers=workers, scheduler=scheduler)
        threads = max(1, sum(client.nthreads().values()))
        shared_plan = client.scatter(p, broadcast=True, hash=False)
        queue = iter(p.tasks)

        def submit(task: Any) -> Any:
            return client.submit(
                run_task, shared_plan, task, out, key=f"newretail-{run}-{task.group}-{task.index}", pure=False
            )

        futures = as_completed([submit(task) for task in islice(queue, TASKS_PER_THREAD * threads)])
        checked = False
        for future in futures:
            records: list[dict[str, Any]] = future.result()
            future.release()
            if not checked:
                _check_shared(root, records, scheduler)
                checked = True
            yield records
            nxt = next(queue, None)
            if nxt is not None:
                futures.add(submit(nxt))
