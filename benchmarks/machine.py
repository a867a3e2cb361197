"""The machine a benchmark ran on, written into every benchmark's JSON (``machine`` key)."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def machine_info() -> dict[str, Any]:
    """CPU model, usable cores, 1/5/15-minute load average at the start, Python and library
    versions (a load above ~0.5 means other work shared the cores during the run)."""
    import numpy as np

    info: dict[str, Any] = {
        "cpu": _cpu_model(), "cores": len(os.sched_getaffinity(0)),
        "load_avg": _load(), "python": platform.python_version(), "numpy": np.__version__,
        "os": f"{platform.system()} {platform.release()}",
    }
    for mod in ("torch", "numba", "snntorch", "tonic", "pulp"):
        try:
            info[mod] = __import__(mod).__version__
        except (ImportError, AttributeError):
            info[mod] = None
    return info
