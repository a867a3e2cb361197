"""Packaging: pyproject.toml follows current packaging rules, the version lives in one place, every
extra is documented and named in the CLI's missing-library message, and the wheel, built and
installed like a user does it, runs from a fresh venv outside the repository.

The wheel test (marked ``packaging``) takes minutes and needs the package index, so the test
command leaves it out; ``make wheel-test`` (run by ``.ci/run``) runs it.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
import tarfile
import time
import tomllib
import zipfile
from pathlib import Path

import pytest

from flexspim import __version__
from flexspim.cli import main
from flexspim.cli.extras import OPTIONAL_IMPORTS, missing_extra_message

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
README = (ROOT / "README.md").read_text(encoding="utf-8")
#: Extras that gather others or serve the repository (tests, benchmarks), not a command.
GROUP_EXTRAS = ("all", "dev", "bench")
#: What ``flexspim demo`` imports beyond the core (the wheel test installs only these).
DEMO_EXTRAS = "plot,torch,data,opt,fast"


def _extras() -> dict[str, list[str]]:
    return PYPROJECT["project"]["optional-dependencies"]


def _dist_name(requirement: str) -> str:
    """The normalised distribution name of a requirement string (PEP 503)."""
    name = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert name is not None, requirement
    return re.sub(r"[-_.]+", "-", name.group(0)).lower()


# ------------------------------------------------------------------------ pyproject, version

def test_pyproject_follows_current_packaging_rules() -> None:
    project = PYPROJECT["project"]
    assert project["license"] == "Apache-2.0"  # an SPDX expression, not a table
    assert project["license-files"] and all((ROOT / f).is_file() for f in project["license-files"])
    requires = PYPROJECT["build-system"]["requires"]
    assert any(re.fullmatch(r"setuptools>=(7[7-9]|[89]\d|\d{3,})(\.\d+)*", r) for r in requires)
    assert not any(_dist_name(r) == "wheel" for r in requires)  # setuptools builds wheels itself


def test_version_lives_in_one_place() -> None:
    assert "version" not in PYPROJECT["project"]
    assert "version" in PYPROJECT["project"]["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "flexspim.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+([ab]|rc)?\d*", __version__)
    installed = importlib.metadata.version("flexspim")
    assert installed == __version__, (
        f"installed metadata says {installed}, flexspim.__version__ says {__version__}; "
        f"reinstall (make venv)")


def test_changelog_has_an_entry_for_this_version() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.search(rf"^## \[{re.escape(__version__)}\]", text, re.MULTILINE), (
        f"CHANGELOG.md has no '## [{__version__}]' section")


def test_readme_names_this_release() -> None:
    named = set(re.findall(r"flexspim-(\d+\.\d+\.\d+[a-z0-9]*)", README))
    assert named <= {__version__}, f"README names release(s) {named - {__version__}}"


def test_every_extra_is_documented_in_the_readme() -> None:
    section = README.split("## Install into your own environment", 1)[1].split("\n## ", 1)[0]
    for extra in _extras():
        assert f"| `{extra}` |" in section, f"README's extras table lacks `{extra}`"


def test_torch_stays_pinned() -> None:
    """A range would let pip pull a newer CUDA build of several GB into a fresh venv."""
    torch_reqs = [r for reqs in _extras().values() for r in reqs if _dist_name(r) == "torch"]
    assert torch_reqs and all(re.fullmatch(r"torch==\d+\.\d+\.\d+", r) for r in torch_reqs)


# ------------------------------------------------------------- a missing optional library

def test_missing_library_table_matches_the_extras() -> None:
    declared = {(_dist_name(r), extra) for extra, reqs in _extras().items()
                if extra not in GROUP_EXTRAS for r in reqs}
    table = {(_dist_name(dist), extra) for dist, extra in OPTIONAL_IMPORTS.values()}
    assert table == declared, ("src/flexspim/cli/extras.py and pyproject.toml's extras differ: "
                               f"only in the table {table - declared}, "
                               f"only in pyproject {declared - table}")


def test_missing_library_is_one_line_naming_the_extra(monkeypatch, capsys, tmp_path) -> None:
    from flexspim.dse.networks import shipped_model_path

    monkeypatch.setitem(sys.modules, "pulp", None)  # `import pulp` now fails as if not installed
    code = main(["compile", str(shipped_model_path()), "--policy", "optimal",
                 "--out", str(tmp_path / "m.json")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "Traceback" not in err
    assert "pulp" in err and "pip install 'flexspim[opt]'" in err


def test_other_missing_modules_keep_their_traceback() -> None:
    assert missing_extra_message(ModuleNotFoundError("x", name="flexspim.nothing")) is None
    assert missing_extra_message(ModuleNotFoundError("x", name="librosa")) is None
    assert "flexspim[plot]" in str(missing_extra_message(
        ModuleNotFoundError("x", name="matplotlib.pyplot")))


# ------------------------------------------------------------- the wheel, as a user gets it

def _run(cmd: list[str | Path], *, cwd: Path, env: dict[str, str], timeout: float,
         check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``cmd``, output merged; on failure the assertion shows its last lines."""
    t0 = time.perf_counter()
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, timeout=timeout, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    print(f"  {time.perf_counter() - t0:6.1f} s  {' '.join(str(c) for c in cmd)[:110]}")
    if check:
        tail = "\n".join(proc.stdout.splitlines()[-40:])
        assert proc.returncode == 0, f"{cmd} exited {proc.returncode}:\n{tail}"
    return proc


def _user_env(venv: Path | None = None) -> dict[str, str]:
    """The environment of a user's shell: no venv of ours, no source tree on the path, and
    (for the build) no PYTHONDONTWRITEBYTECODE, whose 'byte-compiling is disabled' notes would
    read as build warnings."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONDONTWRITEBYTECODE")}
    if venv is not None:
        env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(venv)
    env["MPLBACKEND"] = "Agg"
    return env


def _readme_api_snippet() -> str:
    section = README.split("## The Python API in a few lines", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "README's 'The Python API in a few lines' has no python block"
    return match.group(1)


def _build(work: Path) -> tuple[Path, Path]:
    """sdist and wheel by ``python -m build`` (the wheel built from the sdist); the build log
    must hold no deprecation and no warning."""
    dist = work / "dist"
    log = _run([sys.executable, "-m", "build", "--outdir", dist, ROOT], cwd=work,
               env=_user_env(), timeout=900).stdout
    (work / "build.log").write_text(log)
    noisy = [line for line in log.splitlines() if re.search(r"deprecat|warning", line, re.I)]
    assert not noisy, "the build log warns:\n" + "\n".join(noisy[:20])
    (sdist,) = dist.glob(f"flexspim-{__version__}.tar.gz")
    (wheel,) = dist.glob(f"flexspim-{__version__}-py3-none-any.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    info = f"flexspim-{__version__}.dist-info"
    for name in ("flexspim/py.typed", "flexspim/assets/digits_net.npz",
                 "flexspim/assets/digits_net.json", f"{info}/licenses/LICENSE"):
        assert name in names, f"the wheel lacks {name}"
    with tarfile.open(sdist) as tf:
        members = {m.split("/", 1)[-1] for m in tf.getnames()}
    assert {"LICENSE", "README.md", "CHANGELOG.md", "pyproject.toml"} <= members
    return sdist, wheel


def _check_core_install(venv: Path, wheel: Path, run_dir: Path) -> None:
    """The wheel without extras: the version, the NumPy-only core, and a one-line message that
    names the extra a command needs."""
    py, env = venv / "bin" / "python", _user_env(venv)
    _run([py, "-m", "pip", "install", "--no-compile", wheel], cwd=run_dir, env=env, timeout=900)
    out = _run([venv / "bin" / "flexspim", "--version"], cwd=run_dir, env=env, timeout=120)
    assert out.stdout.strip() == f"flexspim {__version__}"
    where = _run([py, "-c", "import flexspim.macro, flexspim.net, flexspim.compile, "
                  "flexspim.sim, flexspim.energy.system as m; print(m.__file__)"],
                 cwd=run_dir, env=env, timeout=120).stdout.strip()
    assert Path(where).is_relative_to(venv), f"flexspim imported from {where}, not the venv"
    demo = _run([venv / "bin" / "flexspim", "demo", "--quick", "--out", run_dir / "no-extras"],
                cwd=run_dir, env=env, timeout=300, check=False)
    assert demo.returncode == 2 and "Traceback" not in demo.stdout, demo.stdout[-2000:]
    assert "pip install 'flexspim[" in demo.stdout, demo.stdout[-2000:]


def _check_demo_install(venv: Path, wheel: Path, run_dir: Path) -> None:
    """The wheel with the demo's extras: the CPU torch pin, the quick demo (its documents carry
    this release), and the README's API snippet on the network the demo wrote."""
    py, env = venv / "bin" / "python", _user_env(venv)
    _run([py, "-m", "pip", "install", "--no-compile", f"{wheel}[{DEMO_EXTRAS}]"],
         cwd=run_dir, env=env, timeout=1800)
    torch = _run([py, "-c", "import torch; print(torch.__version__, torch.version.cuda)"],
                 cwd=run_dir, env=env, timeout=300).stdout.split()
    pin = next(r for r in _extras()["torch"] if _dist_name(r) == "torch").split("==")[1]
    assert torch[0].split("+")[0] == pin and torch[1] == "None", (
        f"the fresh venv got torch {' '.join(torch)}; expected the CPU build of {pin}")
    _run([venv / "bin" / "flexspim", "demo", "--quick", "--no-progress"], cwd=run_dir, env=env,
         timeout=1200)
    results = json.loads((run_dir / "out" / "demo" / "results.json").read_text())
    assert results["bit_exact"] is True
    for doc in ("results.json", "run_hs-min.json", "mapping_optimal.json", "simulation.json"):
        written = json.loads((run_dir / "out" / "demo" / doc).read_text())
        assert written["flexspim_version"] == __version__, doc
    (run_dir / "readme_api.py").write_text(_readme_api_snippet())
    _run([py, "readme_api.py"], cwd=run_dir, env=env, timeout=600)


@pytest.mark.packaging
def test_wheel_installs_and_runs_from_a_fresh_venv(tmp_path_factory) -> None:
    work = tmp_path_factory.mktemp("wheel")
    assert not work.resolve().is_relative_to(ROOT), "the venv must lie outside the repository"
    t0 = time.perf_counter()
    print(f"\nwheel test in {work}")
    _sdist, wheel = _build(work)
    venv, run_dir = work / "venv", work / "run"
    run_dir.mkdir()
    _run([sys.executable, "-m", "venv", venv], cwd=work, env=_user_env(), timeout=300)
    _check_core_install(venv, wheel, run_dir)
    _check_demo_install(venv, wheel, run_dir)
    print(f"  {time.perf_counter() - t0:6.1f} s  in all")


def test_no_stray_patch_files() -> None:
    """Leftovers of a patch or merge (``*.orig``, ``*.rej``) are neither in the tree nor able to
    come back: .gitignore leaves them out."""
    stray = sorted(p.relative_to(ROOT).as_posix() for pattern in ("*.orig", "*.rej")
                   for top in ("src", "tests", "docs", "benchmarks", "examples")
                   for p in (ROOT / top).rglob(pattern))
    assert stray == []
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert "*.orig" in ignored and "*.rej" in ignored
