"""Packaging: pyproject.toml follows current packaging rules, the version lives in one place, every
extra is documented and named in the CLI's missing-library message, the supported Python versions
are declared alike everywhere, and the wheel, built and installed like a user does it, runs from a
fresh venv outside the repository on every supported Python version.

The wheel test (marked ``packaging``) takes minutes and needs the package index, so the test
command leaves it out; ``make wheel-test`` (run by ``.ci/run``) runs it. It finds each declared
Python version as :func:`find_python` says (a one-line failure names what it looked for when a
version is missing), installs the wheel with every extra on :data:`FULL_VERSION` (the version the
full test suite runs on: the CPU build of torch lies on the project's machines for it) and with
every extra but ``torch`` on the others (PyPI's torch for them is a CUDA build of several GB; the
demo then skips only the torch-based integer reference, and says so).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
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
#: What ``flexspim demo`` imports beyond the core (README: "`flexspim demo` needs ...").
DEMO_EXTRAS = "plot,torch,data,opt,fast"
#: The Python version of the full test suite (``make test``, the Makefile's venv) and of the
#: wheel test's install with torch.
FULL_VERSION = "3.11"


def _extras() -> dict[str, list[str]]:
    return PYPROJECT["project"]["optional-dependencies"]


def supported_versions() -> list[str]:
    """The Python versions pyproject's classifiers name ("3.11", ...), oldest first."""
    found = [m.group(1) for c in PYPROJECT["project"].get("classifiers", [])
             if (m := re.fullmatch(r"Programming Language :: Python :: (3\.\d+)", c))]
    return sorted(found, key=lambda v: int(v.split(".")[1]))


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


def test_python_versions_are_declared_alike() -> None:
    """requires-python admits exactly the classifiers' versions (one continuous range), the full
    suite's version among them, and the README names them."""
    from packaging.specifiers import SpecifierSet

    versions = supported_versions()
    spec = SpecifierSet(PYPROJECT["project"]["requires-python"])
    minors = [int(v.split(".")[1]) for v in versions]
    assert minors == list(range(minors[0], minors[-1] + 1)) and FULL_VERSION in versions
    assert all(f"{v}.0" in spec for v in versions)
    assert f"3.{minors[0] - 1}.0" not in spec and f"3.{minors[-1] + 1}.0" not in spec
    assert f"Python {versions[0]} to {versions[-1]}" in README


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


# ------------------------------------------------- finding the supported Python interpreters

class PythonMissing(Exception):
    """A declared Python version was not found; the message is one line saying where we
    looked and how to provide it."""


def _python_env_var(version: str) -> str:
    return "FLEXSPIM_PYTHON_" + version.replace(".", "_")


def _works(exe: Path | str, version: str) -> str | None:
    """None when ``exe`` runs as Python ``version`` with venv and ensurepip (what a fresh venv
    needs), else why not (a pyenv shim of a version that is not selected exits non-zero)."""
    code = ("import sys, venv, ensurepip; "
            "print('%d.%d' % sys.version_info[:2])")
    try:
        proc = subprocess.run([str(exe), "-c", code], capture_output=True, text=True,
                              timeout=60, check=False)
    except OSError as exc:
        return f"{exe}: {exc.strerror}"
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return f"{exe}: {last}"
    got = proc.stdout.strip()
    return None if got == version else f"{exe} is Python {got}"


def _pyenv_candidates(version: str, env: dict[str, str]) -> list[Path]:
    """``$PYENV_ROOT/versions/<version>.N/bin/python<version>``, newest patch first (release
    builds only: no ``3.13.0t``, no ``3.12-dev``)."""
    root = Path(env.get("PYENV_ROOT") or Path(env.get("HOME", "~")).expanduser() / ".pyenv")
    versions = root / "versions"
    if not versions.is_dir():
        return []
    found = [(int(m.group(1)), d / "bin" / f"python{version}") for d in versions.iterdir()
             if (m := re.fullmatch(re.escape(version) + r"\.(\d+)", d.name))]
    return [exe for _, exe in sorted(found, reverse=True) if exe.exists()]


def find_python(version: str, env: dict[str, str] | None = None) -> Path:
    """The interpreter of Python ``version`` ("3.12"), looked for in this order:

    1. ``$FLEXSPIM_PYTHON_3_12`` (a path), when set: it must work, or this fails;
    2. pyenv's builds, ``$PYENV_ROOT/versions/3.12.N`` (default ``~/.pyenv``), newest first,
       whether or not pyenv selects them (the project's machines and CI's have 3.11, 3.12 and
       3.13 there);
    3. ``python3.12`` on ``PATH`` (a Debian or distribution build, a pyenv shim that is active).

    Each candidate must run and have venv and ensurepip. :class:`PythonMissing` otherwise, in
    one line.
    """
    env = dict(os.environ if env is None else env)
    var = _python_env_var(version)
    if env.get(var):
        why = _works(env[var], version)
        if why is not None:
            raise PythonMissing(f"Python {version}: {var}={env[var]} does not work ({why})")
        return Path(env[var])
    tried: list[str] = []
    on_path = shutil.which(f"python{version}", path=env.get("PATH"))
    for exe in [*_pyenv_candidates(version, env), *([Path(on_path)] if on_path else [])]:
        why = _works(exe, version)
        if why is None:
            return exe
        tried.append(why)
    pyenv_root = env.get("PYENV_ROOT") or "~/.pyenv"
    looked = "; ".join(tried) if tried else "nothing found"
    raise PythonMissing(
        f"Python {version} (declared in pyproject.toml) not found: looked at {pyenv_root}"
        f"/versions/{version}.*, python{version} on PATH ({looked}); install it (pyenv "
        f"install {version}) or set {var} to its python")


def _fake_python(path: Path, version: str, *, works: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = f"echo {version}" if works else "echo 'pyenv: not selected' >&2; exit 127"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def test_find_python_looks_in_pyenv_then_path(tmp_path: Path) -> None:
    root, bin_dir = tmp_path / "pyenv", tmp_path / "bin"
    _fake_python(root / "versions" / "3.12.1" / "bin" / "python3.12", "3.12")
    newest = _fake_python(root / "versions" / "3.12.10" / "bin" / "python3.12", "3.12")
    _fake_python(root / "versions" / "3.12.11t" / "bin" / "python3.12", "3.12")
    shim = _fake_python(bin_dir / "python3.13", "3.13", works=False)
    env = {"PYENV_ROOT": str(root), "PATH": str(bin_dir), "HOME": str(tmp_path)}
    assert find_python("3.12", env) == newest  # 3.12.10 > 3.12.1; not the free-threaded build
    with pytest.raises(PythonMissing) as missing:  # the shim of an unselected version fails
        find_python("3.13", env)
    msg = str(missing.value)
    assert "\n" not in msg and "Python 3.13" in msg and "pyenv: not selected" in msg
    assert "FLEXSPIM_PYTHON_3_13" in msg and "pyenv install 3.13" in msg
    _fake_python(shim, "3.13")  # the same name, now a working interpreter on PATH
    assert find_python("3.13", env) == shim
    assert find_python("3.13", {**env, "FLEXSPIM_PYTHON_3_13": str(shim)}) == shim
    with pytest.raises(PythonMissing, match="FLEXSPIM_PYTHON_3_13=.* does not work"):
        find_python("3.13", {**env, "FLEXSPIM_PYTHON_3_13": str(tmp_path / "nothing")})
    with pytest.raises(PythonMissing, match=r"is Python 3\.12"):
        find_python("3.13", {**env, "FLEXSPIM_PYTHON_3_13": str(newest)})


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
                 "flexspim/assets/digits_net.json", "flexspim/hw/presets/flexspim.yaml",
                 "flexspim/hw/presets/spidr.yaml", f"{info}/licenses/LICENSE"):
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


def _extras_for(version: str) -> list[str]:
    """Every extra on :data:`FULL_VERSION`; every extra but ``torch`` on the others."""
    plain = [e for e in _extras() if e not in GROUP_EXTRAS]
    return plain if version == FULL_VERSION else [e for e in plain if e != "torch"]


def _check_torch(py: Path, run_dir: Path, env: dict[str, str], with_torch: bool) -> None:
    """With torch: the CPU build of the pinned release. Without: no dependency pulled it in."""
    if not with_torch:
        probe = _run([py, "-c", "import importlib.util as u; print(u.find_spec('torch'))"],
                     cwd=run_dir, env=env, timeout=120).stdout.strip()
        assert probe == "None", "an extra other than `torch` installed torch"
        return
    torch = _run([py, "-c", "import torch; print(torch.__version__, torch.version.cuda)"],
                 cwd=run_dir, env=env, timeout=300).stdout.split()
    pin = next(r for r in _extras()["torch"] if _dist_name(r) == "torch").split("==")[1]
    assert torch[0].split("+")[0] == pin and torch[1] == "None", (
        f"the fresh venv got torch {' '.join(torch)}; expected the CPU build of {pin}")


def _check_extras_install(venv: Path, wheel: Path, run_dir: Path, version: str) -> None:
    """The wheel with its extras (:func:`_extras_for`): every optional library imports, the
    quick demo runs (its documents carry this release; without torch it says that the integer
    reference was skipped), and the README's API snippet runs on the network the demo wrote."""
    py, env = venv / "bin" / "python", _user_env(venv)
    extras = _extras_for(version)
    with_torch = "torch" in extras
    _run([py, "-m", "pip", "install", "--no-compile", f"{wheel}[{','.join(extras)}]"],
         cwd=run_dir, env=env, timeout=1800)
    _check_torch(py, run_dir, env, with_torch)
    modules = sorted(m for m, (_, extra) in OPTIONAL_IMPORTS.items() if extra in extras)
    _run([py, "-c", f"import {', '.join(modules)}"], cwd=run_dir, env=env, timeout=600)
    demo = _run([venv / "bin" / "flexspim", "demo", "--quick", "--no-progress"], cwd=run_dir,
                env=env, timeout=1200)
    results = json.loads((run_dir / "out" / "demo" / "results.json").read_text())
    assert results["bit_exact"] is True
    skipped = results["integer_reference"] != "compared"
    assert skipped is not with_torch, results["integer_reference"]
    assert ("integer reference skipped" in demo.stdout) is skipped, demo.stdout[-2000:]
    for doc in ("results.json", "run_hs-min.json", "mapping_optimal.json", "simulation.json"):
        written = json.loads((run_dir / "out" / "demo" / doc).read_text())
        assert written["flexspim_version"] == __version__, doc
    (run_dir / "readme_api.py").write_text(_readme_api_snippet())
    _run([py, "readme_api.py"], cwd=run_dir, env=env, timeout=600)


@pytest.fixture(scope="module")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built once for every Python version's test."""
    work = tmp_path_factory.mktemp("build")
    assert not work.resolve().is_relative_to(ROOT), "the build must lie outside the repository"
    print(f"\nbuilding the sdist and the wheel in {work}")
    return _build(work)[1]


@pytest.mark.packaging
def test_every_declared_python_is_found() -> None:
    """First, before minutes of building and installing: every declared version is there."""
    missing = []
    for version in supported_versions():
        try:
            print(f"\nPython {version}: {find_python(version)}")
        except PythonMissing as exc:
            missing.append(str(exc))
    if missing:
        pytest.fail(" | ".join(missing), pytrace=False)


@pytest.mark.packaging
@pytest.mark.parametrize("version", supported_versions())
def test_wheel_installs_and_runs_from_a_fresh_venv(version: str, built_wheel: Path,
                                                   tmp_path_factory: pytest.TempPathFactory
                                                   ) -> None:
    try:
        python = find_python(version)
    except PythonMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    work = tmp_path_factory.mktemp(f"wheel-py{version}-")
    assert not work.resolve().is_relative_to(ROOT), "the venv must lie outside the repository"
    t0 = time.perf_counter()
    print(f"\nwheel test on Python {version} ({python}) in {work}")
    venv, run_dir = work / "venv", work / "run"
    run_dir.mkdir()
    _run([python, "-m", "venv", venv], cwd=work, env=_user_env(), timeout=300)
    _check_core_install(venv, built_wheel, run_dir)
    _check_extras_install(venv, built_wheel, run_dir, version)
    print(f"  {time.perf_counter() - t0:6.1f} s  in all on Python {version} "
          f"(extras: {','.join(_extras_for(version))})")


def test_no_stray_patch_files() -> None:
    """Leftovers of a patch or merge (``*.orig``, ``*.rej``) are neither in the tree nor able to
    come back: .gitignore leaves them out."""
    stray = sorted(p.relative_to(ROOT).as_posix() for pattern in ("*.orig", "*.rej")
                   for top in ("src", "tests", "docs", "benchmarks", "examples")
                   for p in (ROOT / top).rglob(pattern))
    assert stray == []
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert "*.orig" in ignored and "*.rej" in ignored
