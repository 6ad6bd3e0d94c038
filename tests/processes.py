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


SESSION_MARK = "NEWRETAIL_TEST_SESSION"  # set in the environment of a test session; every process it starts inherits


def marked(mark: str) -> list[int]:
    """The pids of the processes whose environment carries ``SESSION_MARK=mark``, other than this process and its
    ancestors: what a test session started, wherever it was reparented to."""
    import os

    import psutil

    own = {os.getpid(), *(p.pid for p in psutil.Process().parents())}
    found = []
    for proc in psutil.process_iter(["pid"]):
        if proc.pid in own:
            continue
        try:
            if proc.environ().get(SESSION_MARK) == mark:
                found.append(proc.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
            continue
    return alive(found)


def left_behind(mark: str, wait_s: float = 20.0) -> list[str]:
    """The processes a session started that still run after ``wait_s`` seconds (each as ``pid command``), killed
    once listed so that none outlives the check."""
    import time

    import psutil

    deadline = time.monotonic() + wait_s
    pids = marked(mark)
    while pids and time.monotonic() < deadline:
        time.sleep(0.5)
        pids = marked(mark)
    listed = []
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            listed.append(f"{pid} {' '.join(proc.cmdline())[:200]}")
            proc.kill()
        except psutil.NoSuchProcess:
            continue
    return listed
