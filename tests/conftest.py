"""Shared test settings: headless plotting, hypothesis profiles (derandomized on CI)."""

import os

import pytest
from hypothesis import HealthCheck, settings

os.environ.setdefault("MPLBACKEND", "Agg")

settings.register_profile(
    "ci",
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(autouse=True)
def _single_thread_torch():
    """Keep torch to one thread in tests (CI has 2 cores); no-op when torch is not imported."""
    import sys

    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)
    yield


# ------------------------------------------------------------------------- device tests
# Tests marked ``cuda`` run on a CUDA device; without one they are skipped with a reason, and
# the session's summary lists which device tests ran and which were skipped, so a run on a
# machine without a GPU never passes them silently.


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cuda: needs a CUDA device (skipped, and reported, "
                                       "without one)")


def _cuda_devices() -> int:
    try:
        import torch
    except ImportError:
        return 0
    return int(torch.cuda.device_count()) if torch.cuda.is_available() else 0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    marked = [item for item in items if item.get_closest_marker("cuda") is not None]
    if marked and _cuda_devices() == 0:
        skip = pytest.mark.skip(reason="device test: no CUDA device on this machine")
        for item in marked:
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    reports = [r for key in ("passed", "failed", "skipped", "error")
               for r in terminalreporter.stats.get(key, [])
               if getattr(r, "when", "call") in ("call", "setup") and "cuda" in r.keywords]
    if not reports:
        return
    ran = sorted({r.nodeid for r in reports if r.when == "call"})
    skipped = sorted({r.nodeid for r in reports if r.skipped} - set(ran))
    write = terminalreporter.write_line
    terminalreporter.section("CUDA device tests")
    write(f"ran on CUDA ({_cuda_devices()} device(s)): {len(ran)}")
    for nodeid in ran:
        write(f"  ran      {nodeid}")
    write(f"skipped, no CUDA device: {len(skipped)}")
    for nodeid in skipped:
        write(f"  skipped  {nodeid}")
