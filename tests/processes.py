"""Which processes a command started, and which of them still run: for the tests that a killed or interrupted run
leaves no process behind."""

from __future__ import annotations


def descendants(pid: int) -> list[int]:
    """The pids of every process ``pid`` started, children of children included (none when it has ended)."""
    import psutil

    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def alive(pids: list[int] | set[int]) -> list[int]:
    """The pids that still run; a zombie waiting for its parent or init to reap it has ended."""
    import psutil

    running = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                running.append(pid)
        except psutil.NoSuchProcess:
            continue
    return running
