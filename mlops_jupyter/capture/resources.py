"""What a cell costs: wall and CPU time (process and workers), memory, GPU where present.

:class:`Monitor` is one per process. ``begin()`` (``pre_run_cell``) and ``end()``
(``post_run_cell``) each read a few counters of the kernel process (``os.times`` and
``/proc/self/status`` through a file kept open: about 10 µs); a background thread samples
while a cell runs (every ``INTERVAL_S``): the kernel's resident memory and, for its child
processes (joblib/loky workers, subprocesses), their memory and CPU, with the list of children
refreshed every ``CHILDREN_EVERY`` samples from ``/proc/<pid>/task/*/children``. Between cells
the thread sleeps on an event: it costs nothing.

Figures of a cell (:class:`Usage`):

- ``cpu_s`` = the kernel's user + system time + its workers': for each child alive during the
  cell, its CPU at the end minus at the start (or since it was born), plus the children that
  exited and were reaped (``os.times`` children fields).
- ``peak_self_rss_mb``: the kernel's peak resident memory. Exact when the cell set a new
  high-water mark (``VmHWM`` grew), else the highest sample. ``peak_workers_rss_mb``: the
  highest sampled sum over the workers. ``peak_rss_mb``: the highest of the kernel's peak and
  any sample of kernel + workers.
- ``retained_mb``: the kernel's resident memory after the cell minus before it.
- GPU memory and utilisation through NVML (``pynvml``) where a GPU and the library are
  present; otherwise those fields are None and nothing is tried again.

Linux reads ``/proc`` directly; elsewhere the same figures come from psutil (sampled peaks).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

INTERVAL_S = 0.025
LONG_CELL_S = 0.2  # past this, end() looks for new child processes itself (about 0.1 ms)
CHILDREN_EVERY = 20  # refresh the list of child processes every 20 samples (0.5 s)
_MB = 1024 * 1024
_KB_MB = 1024.0


@dataclass
class Usage:
    wall_s: float
    cpu_s: float
    cpu_self_s: float
    cpu_workers_s: float
    peak_rss_mb: float
    peak_self_rss_mb: float
    peak_workers_rss_mb: float
    rss_start_mb: float
    rss_end_mb: float
    retained_mb: float
    n_workers: int
    gpu_mem_peak_mb: float | None
    gpu_util_mean: float | None
    samples: int
    interval_s: float
    exact_peak: int
    sampler_cpu_s: float = 0.0  # the sampling thread's own CPU during the cell

    def as_row(self) -> dict[str, Any]:
        # (dataclasses.asdict deep-copies every field: 0.1 ms of the writer's time a cell)
        return dict(self.__dict__)


def _gil_holding_pread() -> Any:
    """``read(fd, size)``: ``pread`` called through ctypes.PyDLL, which keeps the GIL.
    ``os.pread`` lets go of it, and any release on the cell's thread lets IPython's history
    thread commit after every cell (see :meth:`Monitor.begin`). ``os.pread`` where libc cannot
    be loaded so."""
    try:
        import ctypes

        libc = ctypes.PyDLL(None)
        pread = libc.pread
    except (OSError, AttributeError, ImportError):
        return lambda fd, size: os.pread(fd, size, 0)
    pread.restype = ctypes.c_ssize_t
    pread.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_long]
    buffers: dict[tuple[int, int], Any] = {}  # (thread, size): the sampler thread reads too

    def read(fd: int, size: int) -> bytes:
        key = (threading.get_ident(), size)
        buffer = buffers.get(key)
        if buffer is None:
            buffer = buffers[key] = ctypes.create_string_buffer(size)
        n = pread(fd, buffer, size, 0)
        if n < 0:
            raise OSError("pread failed")
        return buffer.raw[:n]

    return read


_pread: Any = None


def pread_keeping_gil(fd: int, size: int) -> bytes:
    global _pread
    if _pread is None:
        _pread = _gil_holding_pread()
    return _pread(fd, size)  # type: ignore[no-any-return]


class _Self:
    """The kernel process's own counters: (rss_kb, hwm_kb).

    Read twice per cell, so on Linux the cheapest sources: ``/proc/self/statm`` (resident
    pages) and ``getrusage`` (``ru_maxrss`` is ``VmHWM``, in kB), the boot clock from
    ``clock_gettime`` (the clock of ``/proc/uptime``) instead of three ``/proc`` reads."""

    def __init__(self) -> None:
        self.fd: int | None = None
        self.statm: int | None = None
        self.uptime_fd: int | None = None
        self.page_kb = 4.0
        if sys.platform.startswith("linux"):
            with contextlib.suppress(OSError, ValueError):
                self.fd = os.open("/proc/self/status", os.O_RDONLY)
                self.uptime_fd = os.open("/proc/uptime", os.O_RDONLY)
                self.page_kb = os.sysconf("SC_PAGE_SIZE") / 1024.0
                self.statm = os.open("/proc/self/statm", os.O_RDONLY)
        self.proc: Any = None

    def uptime(self) -> float | None:
        """Seconds since boot: the clock /proc gives process start times in."""
        if self.uptime_fd is None:
            return None
        boottime = getattr(time, "CLOCK_BOOTTIME", None)
        if boottime is not None:
            return time.clock_gettime(boottime)
        try:
            return float(os.pread(self.uptime_fd, 64, 0).split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def hwm_kb(self) -> float | None:
        """The high-water mark of resident memory, from ``getrusage``: a call that keeps the
        GIL, unlike a ``/proc`` read (see :meth:`Monitor.begin`)."""
        try:
            import resource

            peak = float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        except (ImportError, OSError):
            return None
        return peak / 1024.0 if sys.platform == "darwin" else peak  # bytes there, kB here

    def memory_kb(self) -> tuple[float, float | None]:
        if self.statm is not None:
            try:
                import resource

                rss = int(pread_keeping_gil(self.statm, 128).split()[1]) * self.page_kb
                return rss, float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
            except (OSError, ValueError, IndexError, ImportError):
                self.statm = None
        if self.fd is not None:
            try:
                raw = os.pread(self.fd, 8192, 0)
                return _field(raw, b"VmRSS:"), _field(raw, b"VmHWM:")
            except (OSError, ValueError):
                self.fd = None
        if self.proc is None:
            import psutil

            self.proc = psutil.Process()
        return self.proc.memory_info().rss / 1024.0, None


def _field(raw: bytes, name: bytes) -> float:
    i = raw.index(name) + len(name)
    return float(raw[i : raw.index(b"kB", i)])


class _Child:
    """One child process: its memory and CPU, read from /proc (or psutil)."""

    __slots__ = ("cpu0", "cpu_last", "peak_kb", "pid", "proc", "stat_fd")

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.stat_fd: int | None = None
        self.proc: Any = None
        if sys.platform.startswith("linux"):
            with contextlib.suppress(OSError):
                self.stat_fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY)
        self.cpu0: float | None = None
        self.cpu_last = 0.0
        self.peak_kb = 0.0

    def read(self) -> tuple[float, float] | None:
        """``(cpu seconds, rss kB)``, or None once the process is gone."""
        try:
            if self.stat_fd is not None:
                stat = pread_keeping_gil(self.stat_fd, 4096)  # utime, stime and rss in one read
                fields = stat[stat.rindex(b")") + 2 :].split()
                cpu = (int(fields[11]) + int(fields[12])) / _TICKS
                return cpu, float(int(fields[21]) * _PAGE_KB)
            if self.proc is None:
                import psutil

                self.proc = psutil.Process(self.pid)
            times = self.proc.cpu_times()
            return times.user + times.system, self.proc.memory_info().rss / 1024.0
        except (OSError, ValueError, IndexError, ProcessLookupError):
            return None
        except Exception:  # psutil.NoSuchProcess / AccessDenied
            return None

    def started(self) -> float | None:
        """When the process started, in seconds since boot (None off Linux)."""
        if self.stat_fd is None:
            return None
        try:
            stat = os.pread(self.stat_fd, 4096, 0)
            return int(stat[stat.rindex(b")") + 2 :].split()[19]) / _TICKS
        except (OSError, ValueError, IndexError):
            return None

    def close(self) -> None:
        if self.stat_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.stat_fd)
        self.stat_fd = None


_TICKS = float(os.sysconf("SC_CLK_TCK")) if hasattr(os, "sysconf") else 100.0
_PAGE_KB = (os.sysconf("SC_PAGE_SIZE") // 1024) if hasattr(os, "sysconf") else 4


def child_pids(pid: int | None = None) -> list[int]:
    """Every descendant of ``pid`` (this process by default)."""
    root = os.getpid() if pid is None else pid
    if sys.platform.startswith("linux"):
        out: list[int] = []
        todo = [root]
        while todo:
            current = todo.pop()
            try:
                tasks = os.listdir(f"/proc/{current}/task")
            except OSError:
                continue
            for tid in tasks:
                try:
                    with open(f"/proc/{current}/task/{tid}/children", "rb") as fh:
                        kids = [int(x) for x in fh.read().split()]
                except OSError:
                    continue
                out.extend(kids)
                todo.extend(kids)
        return out
    try:
        import psutil

        return [p.pid for p in psutil.Process(root).children(recursive=True)]
    except Exception:
        return []


class _Gpu:
    """NVML, once: None fields and no further tries when there is no GPU or no pynvml."""

    def __init__(self) -> None:
        self.handles: list[Any] | None = None
        self.nvml: Any = None

    def available(self) -> bool:
        if self.handles is None:
            self.handles = []
            try:
                import pynvml

                pynvml.nvmlInit()
                self.nvml = pynvml
                self.handles = [
                    pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())
                ]
            except Exception:
                self.handles = []
        return bool(self.handles)

    def sample(self) -> tuple[float, float] | None:
        """``(memory used MB over all GPUs, mean utilisation %)``."""
        if not self.available():
            return None
        try:
            mem = sum(self.nvml.nvmlDeviceGetMemoryInfo(h).used for h in self.handles or [])
            util = [self.nvml.nvmlDeviceGetUtilizationRates(h).gpu for h in self.handles or []]
            return mem / _MB, sum(util) / max(len(util), 1)
        except Exception:
            self.handles = []
            return None


class Monitor:
    """Per-cell usage of the kernel process and its workers (module docstring)."""

    def __init__(self, interval: float = INTERVAL_S) -> None:
        self.interval = interval
        self.me = _Self()
        self.gpu = _Gpu()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._active = False
        self._thread: threading.Thread | None = None
        self.children: dict[int, _Child] = {}
        self._reset()

    def _reset(self) -> None:
        self.t0 = 0.0
        self.boot0: float | None = None
        self.times0: Any = None
        self.rss0 = self.hwm0 = 0.0
        self.peak_self_kb = 0.0
        self.peak_total_kb = 0.0
        self.peak_workers_kb = 0.0
        self.samples = 0
        self.seen_workers: set[int] = set()
        self.gone: list[tuple[float, float]] = []  # (cpu0, cpu_last) of workers that exited
        self.sampler_cpu = 0.0
        self.gpu_peak: float | None = None
        self.gpu_util: list[float] = []

    # -- the cell's thread ---------------------------------------------------------------------

    def begin(self) -> None:
        """Note the cell's start. Nothing here lets go of the GIL (``/proc/self/statm`` is read
        through a GIL-holding ``pread``; workers' files only when workers are alive): a release
        on every cell woke IPython's history thread into a commit per cell (+1.3 ms a trivial
        cell with history on)."""
        with self._lock:
            self._reset()
            self.t0 = time.perf_counter()
            self.times0 = os.times()
            self.boot0 = self.me.uptime()
            rss = self.me.memory_kb()[0]
            self.rss0, self.hwm0 = rss, self.me.hwm_kb() or 0.0
            self.peak_self_kb = self.peak_total_kb = rss
            self._active = True
            for child in self.children.values():  # workers alive already: CPU from now on
                read = child.read()  # two preads each (a few µs); a busy cell starves the sampler
                child.cpu0 = read[0] if read is not None else None
                if read is not None:
                    child.cpu_last = read[0]
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="mlops-resources", daemon=True)
            self._thread.start()
        self._wake.set()

    def end(self) -> Usage | None:
        """The cell's usage (None when no cell was begun)."""
        if not self._active:
            return None
        wall = time.perf_counter() - self.t0
        times = os.times()
        hwm = self.me.hwm_kb()
        rss = self.me.memory_kb()[0]
        with self._lock:
            if wall > LONG_CELL_S:  # workers a short-lived sampler may not have seen yet
                with contextlib.suppress(Exception):
                    self._refresh_children()
            self._sample_children()
            self._active = False
            t0 = self.times0
            cpu_self = (times[0] - t0[0]) + (times[1] - t0[1])
            # Children that exited and were reaped count in os.times() with their whole life;
            # the part of it we sampled (cpu_last) is not counted twice.
            reaped = (times[2] - t0[2]) + (times[3] - t0[3])
            gone_before = sum(c0 for c0, _last in self.gone)
            gone_seen = sum(max(0.0, last - c0) for c0, last in self.gone)
            workers = max(reaped - gone_before, gone_seen) + sum(
                max(0.0, c.cpu_last - (c.cpu0 or 0.0)) for c in self.children.values()
            )
            exact = hwm is not None and hwm > self.hwm0
            peak_self = max(self.peak_self_kb, rss, hwm if exact and hwm else 0.0)
            peak_total = max(self.peak_total_kb, peak_self)
            gpu_util = sum(self.gpu_util) / len(self.gpu_util) if self.gpu_util else None
            usage = Usage(
                wall_s=wall,
                cpu_s=cpu_self + workers,
                cpu_self_s=cpu_self,
                cpu_workers_s=workers,
                peak_rss_mb=peak_total / _KB_MB,
                peak_self_rss_mb=peak_self / _KB_MB,
                peak_workers_rss_mb=self.peak_workers_kb / _KB_MB,
                rss_start_mb=self.rss0 / _KB_MB,
                rss_end_mb=rss / _KB_MB,
                retained_mb=(rss - self.rss0) / _KB_MB,
                n_workers=len(self.seen_workers),
                gpu_mem_peak_mb=self.gpu_peak,
                gpu_util_mean=gpu_util,
                samples=self.samples,
                interval_s=self.interval,
                exact_peak=int(exact),
                sampler_cpu_s=self.sampler_cpu,
            )
            return usage

    # -- the sampling thread -------------------------------------------------------------------

    def _run(self) -> None:
        """Read without the lock (each read releases the GIL, and a busy cell may take a few
        ms to hand it back), then merge under it: ``end()`` never waits on a sample."""
        refresh = 0
        while True:
            self._wake.wait()
            if not self._active:
                self._wake.clear()
                if self._active:  # begun between the check and the clear
                    self._wake.set()
                continue
            # The first sample comes one interval into the cell: a short cell is never sampled
            # (begin and end read what it needs), and the cell's first ms keep the GIL: a
            # sample at begin made a trivial cell wait ~1 ms for it on 2 shared cores.
            time.sleep(self.interval)
            if not self._active:
                continue
            spent = time.thread_time()
            try:
                found = self._discover() if refresh % CHILDREN_EVERY == 0 else None
                refresh += 1
                rss, _hwm = self.me.memory_kb()
                reads = [(pid, c, c.read()) for pid, c in list(self.children.items())]
                gpu = self.gpu.sample() if self.gpu.handles is None or self.gpu.handles else None
                with self._lock:
                    if self._active:
                        self._merge(found, rss, reads, gpu)
                        self.sampler_cpu += time.thread_time() - spent
            except Exception:  # a sample lost is not worth a warning
                pass

    def _discover(self) -> tuple[set[int], dict[int, tuple[_Child, tuple[float, float]]]]:
        """The child processes now, and the new ones opened and read once."""
        pids = set(child_pids())
        new: dict[int, tuple[_Child, tuple[float, float]]] = {}
        for pid in pids - set(self.children):
            child = _Child(pid)
            read = child.read()
            if read is None:
                child.close()
                continue
            # born during this cell: all its CPU is the cell's; else from now on
            child.cpu0 = read[0] if self._older_than_cell(child) else 0.0
            child.cpu_last = read[0]
            new[pid] = (child, read)
        return pids, new

    def _merge(
        self,
        found: tuple[set[int], dict[int, tuple[_Child, tuple[float, float]]]] | None,
        rss: float,
        reads: list[tuple[int, _Child, tuple[float, float] | None]],
        gpu: tuple[float, float] | None,
    ) -> None:
        workers = 0.0
        if found is not None:
            pids, new = found
            for pid in [p for p in self.children if p not in pids]:
                self._forget(pid)
            for pid, (child, read) in new.items():
                if pid in self.children:
                    child.close()
                    continue
                self.children[pid] = child
                workers += read[1]
                self.seen_workers.add(pid)
        for pid, child, read in reads:
            if self.children.get(pid) is not child:
                continue
            if read is None:
                self._forget(pid)
                continue
            workers += self._update(pid, child, read)
        self.samples += 1
        self.peak_self_kb = max(self.peak_self_kb, rss)
        self.peak_workers_kb = max(self.peak_workers_kb, workers)
        self.peak_total_kb = max(self.peak_total_kb, rss + workers)
        if gpu is not None:
            self.gpu_peak = max(self.gpu_peak or 0.0, gpu[0])
            self.gpu_util.append(gpu[1])

    def _update(self, pid: int, child: _Child, read: tuple[float, float]) -> float:
        cpu, rss = read
        if child.cpu0 is None:
            child.cpu0 = cpu
        child.cpu_last = max(child.cpu_last, cpu)
        if cpu > child.cpu0 or rss:
            self.seen_workers.add(pid)
        return rss

    def _refresh_children(self) -> None:
        self._merge(self._discover(), 0.0, [], None)
        self.samples -= 1  # not a sample of its own

    def _older_than_cell(self, child: _Child) -> bool:
        """Whether the process existed before the cell began (its CPU before is not the
        cell's): start times in the kernel's clock since boot (10 ms ticks), else psutil's."""
        started = child.started()
        if started is not None and self.boot0 is not None:
            return started < self.boot0 - 0.02
        try:
            import psutil

            created = psutil.Process(child.pid).create_time()
        except Exception:
            return True
        return bool(created < time.time() - (time.perf_counter() - self.t0))

    def _forget(self, pid: int) -> None:
        child = self.children.pop(pid)
        child.close()
        if self._active and child.cpu0 is not None:
            self.gone.append((child.cpu0, child.cpu_last))

    def _sample_children(self) -> float:
        """Read every known child now (``end()``, under the lock)."""
        total = 0.0
        for pid, child in list(self.children.items()):
            read = child.read()
            if read is None:
                self._forget(pid)
                continue
            total += self._update(pid, child, read)
        return total


_monitor: Monitor | None = None


def monitor() -> Monitor:
    global _monitor
    if _monitor is None:
        _monitor = Monitor()
    return _monitor
