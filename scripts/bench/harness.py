"""Timing, statistics and the machine description, shared by the Python workloads.

Measures what `npm run bench` measures (benchmarks/README.md): warm-up runs, then timed runs;
the median, the interquartile range and the minimum in milliseconds; the throughput at the
median. Memory differs by nature: tfjs counts the bytes its tensors hold, while here the figure is
the process's peak resident memory (Linux VmHWM) over the workload's runs, Python and the
framework included. Each row says so in its note.
"""

import os
import platform
import time
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

PEAK_MEMORY_NOTE = 'peak memory = process peak RSS over the runs (not tensor bytes as in tfjs rows)'


@dataclass
class Context:
    """What a workload's setup is told: the same fields as the TypeScript WorkloadContext."""
    backend: str
    quick: bool
    seed: int


@dataclass
class Prepared:
    """A workload built and ready to time (the TypeScript PreparedWorkload)."""
    params: dict
    items: int
    unit: str
    run: Callable[[], object]
    note: Optional[str] = None
    dispose: Callable[[], None] = lambda: None


@dataclass
class Workload:
    name: str
    description: str
    setup: Callable[[Context], Prepared]
    # The article's Monte Carlo loop (100 VGG16 passes a run) defaults to 1 run; --runs overrides.
    runs: Optional[int] = None
    warmup: Optional[int] = None


def reset_peak_rss():
    """Resets the kernel's peak-RSS counter (VmHWM) of this process; False where not allowed."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def peak_rss_mb():
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def time_runs(prepared, runs, warmup):
    """Runs `warmup` untimed, then `runs` timed; returns the row's numbers."""
    can_reset = reset_peak_rss()
    for _ in range(warmup):
        prepared.run()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        prepared.run()
        times.append((time.perf_counter() - start) * 1000)
    q1, median, q3 = np.percentile(times, [25, 50, 75])
    return {
        'runs': runs,
        'medianMs': round(float(median), 3),
        'iqrMs': round(float(q3 - q1), 3),
        'minMs': round(float(min(times)), 3),
        'throughput': {'value': round(prepared.items / (median / 1000), 4), 'unit': prepared.unit},
        'peakMemoryMB': round(peak_rss_mb(), 1) if can_reset and peak_rss_mb() is not None else None,
    }


def machine(versions):
    """The machine and software, in the shape of the tfjs harness's `machine` field."""
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            cpu = next(line.split(':', 1)[1].strip() for line in f if line.startswith('model name'))
    except (OSError, StopIteration):
        pass
    ram_gb = None
    try:
        with open('/proc/meminfo') as f:
            ram_gb = round(int(f.readline().split()[1]) / 1024 ** 2, 1)
    except (OSError, ValueError, IndexError):
        pass
    return {
        'cpu': cpu,
        'cores': os.cpu_count(),
        'ramGB': ram_gb,
        'os': f'{platform.system()} {platform.release()} {platform.machine()}',
        'python': platform.python_version(),
        'versions': versions,
    }
