"""Shared pieces of the benchmarks: the machine's description, measured child processes, the peers, result files.

The benchmarks run on demand (``make bench``), never in ``make test``. Each one measures the peers in the same run
as newretail, so the ratios it prints hold even on a machine shared with other work, where absolute times are noisy.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PEERS = ROOT / "benchmarks" / ".peers"  # peer generators, installed on demand, never in the lock file
PEER_PINS = ("tpchgen-cli==4.0.0", "faker==40.54.0", "mimesis==22.2.0")
PYTHON = sys.executable
ONE_THREAD = {  # every library in a measured process runs on one core
    "POLARS_MAX_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "RAYON_NUM_THREADS": "1",
    "OMP_WAIT_POLICY": "PASSIVE",
}


def ensure_peers() -> Path:
    """Install the peer generators (tpchgen-cli, Faker, mimesis) into ``benchmarks/.peers`` if missing."""
    stamp = PEERS / ".pins"
    if stamp.is_file() and stamp.read_text() == "\n".join(PEER_PINS):
        return PEERS
    uv = Path(PYTHON).with_name("uv")
    cmd = [str(uv), "pip", "install", "--quiet", "--python", PYTHON, "--target", str(PEERS), *PEER_PINS]
    if not uv.is_file():
        cmd = [PYTHON, "-m", "pip", "install", "--quiet", "--target", str(PEERS), *PEER_PINS]
    subprocess.run(cmd, check=True)
    stamp.write_text("\n".join(PEER_PINS))
    return PEERS


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return float("nan")


def machine() -> dict[str, Any]:
    """Cores, memory, CPU model, OS, load and the versions of what is measured."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for pkg in ("newretail", "numpy", "polars", "pyarrow", "dask", "distributed", "lightgbm", "shap"):
        try:
            versions[pkg] = version(pkg)
        except PackageNotFoundError:
            versions[pkg] = None
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": round(_mem_total_gib(), 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "versions": versions,
        "when_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


@dataclass(frozen=True)
class Run:
    """What a child process used: wall time, CPU time, peak memory of its largest process and of its whole tree."""

    wall_s: float
    cpu_s: float  # user + system, the child and all its descendants
    max_rss_mib: float  # largest single process (kernel's exact high-water mark)
    tree_rss_mib: float  # sum over the process tree, sampled every 50 ms (upper bound: shared pages counted twice)
    returncode: int
    stdout: str
    stderr: str


def _tree_rss_kib(pid: int) -> int:
    """Resident memory of a process and all its descendants, in KiB (from /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        ppid = int(fields.get("PPid", "0").strip())
        children.setdefault(ppid, []).append(int(entry.name))
        rss[int(entry.name)] = int(fields.get("VmRSS", "0 kB").split()[0])
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        total += rss.get(p, 0)
        stack.extend(children.get(p, []))
    return total


def measure(cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
    """Run ``cmd`` to completion, measuring it (wall, CPU, peak memory) with ``os.wait4`` and /proc sampling."""
    full_env = {**os.environ, **(env or {})}
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=full_env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _tree_rss_kib(proc.pid))
            stop.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out_chunks: list[str] = []
    err_chunks: list[str] = []
    readers = [
        threading.Thread(target=lambda: out_chunks.append(proc.stdout.read()), daemon=True),  # type: ignore[union-attr]
        threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()), daemon=True),  # type: ignore[union-attr]
    ]
    for r in readers:
        r.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    stop.set()
    sampler.join()
    for r in readers:
        r.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Run(
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        max_rss_mib=usage.ru_maxrss / 1024,
        tree_rss_mib=max(peak[0], usage.ru_maxrss) / 1024,
        returncode=proc.returncode,
        stdout="".join(out_chunks),
        stderr="".join(err_chunks),
    )


def checked(run: Run, what: str) -> Run:
    """``run`` if it succeeded, else a RuntimeError quoting the end of its stderr."""
    if run.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {run.returncode}):\n{run.stderr[-3000:]}")
    return run


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table; floats with 3 significant digits."""

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}"
        if isinstance(v, int):
            return f"{v:,}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def dir_bytes(path: Path) -> int:
    """Bytes used by the files under ``path``."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def write_result(name: str, *, title: str, text: str, data: dict[str, Any]) -> Path:
    """Print ``text`` and write it to ``benchmarks/results/<name>.md`` (with the machine) and the numbers to
    ``<name>.json``."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    info = machine()
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items() if v)
    md = (
        f"# {title}\n\n{text}\n\n"
        f"Machine: {info['cpu_model']}, {info['cores']} cores, {info['memory_gib']} GiB, {info['os']}, "
        f"Python {info['python']}; load average {info['load_average_1_5_15']} at the end; {versions}; "
        f"{info['when_utc']}.\n"
    )
    print(md)
    (RESULTS / f"{name}.md").write_text(md)
    payload = {"benchmark": name, "machine": info, **data}
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=1, default=_jsonable) + "\n")
    return RESULTS / f"{name}.md"


def _jsonable(value: Any) -> Any:
    if isinstance(value, Run):
        d = asdict(value)
        d.pop("stdout")
        d.pop("stderr")
        return d
    return str(value)
