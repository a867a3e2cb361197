"""The GPU check (benchmarks/gpu_check.sh): its CPU dry run goes through every step and writes
the JSON the docs describe, so that the script cannot rot on machines without a GPU; the
wheelhouse helpers install only what a machine lacks. Nothing here is timed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import gpu_check  # noqa: E402


def _script(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHON": sys.executable, "TMPDIR": str(tmp_path)}
    return subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=900)


def test_dry_run_goes_through_every_step(tmp_path: Path) -> None:
    out = tmp_path / "check"
    proc = _script(["--dry-run", "--out", str(out)], tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    doc = json.loads((out / gpu_check.JSON_NAME).read_text())
    assert doc["dry_run"] is True and doc["status"] == "complete" and not doc["errors"]
    assert doc["steps_done"] == ["environment", "cuda_tests", "sim", "train"]
    assert doc["environment"]["device"] == "cpu"
    tests = doc["cuda_tests"]
    assert tests["returncode"] == 0 and "tests/test_train_device.py" in tests["files"]
    assert len(tests["collected"]) >= 8 and all("cuda" in t for t in tests["collected"])
    for name in ("paper_scale", "dvs_gesture_32"):
        sim = doc["sim"][name]
        assert sim["bit_exact"] is True and sim["differences"] == []
        assert sim["device"]["sops_per_s"] > 0 and sim["cpu"]["2"]["sops_per_s"] > 0
        assert sim["device"]["ratio_vs_silicon"] == pytest.approx(
            sim["device"]["sops_per_s"] / 2.512e9)
    assert doc["sim"]["paper_scale"]["input_shape"] == [2, 128, 128]
    assert doc["sim"]["dvs_gesture_32"]["input_shape"] == [2, 32, 32]
    train = doc["train"]
    assert train["preset"] == "dvs_gesture" and train["cpu_samples_per_s"] > 0
    assert train["speedup_vs_cpu"] == pytest.approx(
        train["device_samples_per_s"] / train["cpu_samples_per_s"])
    assert set(doc["goals"]) == set(gpu_check.GOALS)
    assert all(g["measured"] is not None and g["met"] is None for g in doc["goals"].values())
    assert doc["bit_exact"] is True


def test_missing_device_is_one_line_and_recorded(tmp_path: Path) -> None:
    out = tmp_path / "check"
    proc = _script(["--device", "cuda:99", "--out", str(out)], tmp_path)
    err = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(err) == 1 and "cuda:99" in err[0], proc.stderr
    doc = json.loads((out / gpu_check.JSON_NAME).read_text())
    assert doc["status"] == "failed" and "cuda:99" in doc["errors"]["device"]


def test_wheelhouse_installs_only_what_is_missing() -> None:
    assert gpu_check.wheel_dist("tomli_w-1.2.0-py3-none-any.whl") == ("tomli-w", "1.2.0")
    assert gpu_check.wheel_dist("PyYAML-6.0.4-cp312-cp312-manylinux_2_28_x86_64.whl") == (
        "pyyaml", "6.0.4")
    with pytest.raises(ValueError, match="not a wheel file name"):
        gpu_check.wheel_dist("numpy-2.0.tar.gz")
    wheels = [Path(f"{n}-1.0-py3-none-any.whl") for n in ("numpy", "tomli_w", "Numba")]
    have = {"numpy", "numba"}
    assert gpu_check.missing_wheels(wheels, lambda d: d in have) == [wheels[1]]
    reqs = gpu_check.check_requirements()
    names = {r.split(">")[0].split("=")[0] for r in reqs}
    assert {"numpy", "tomli-w", "numba", "pytest", "hypothesis"} <= names
    assert not any(r.startswith("torch") for r in reqs)  # the target brings its own
