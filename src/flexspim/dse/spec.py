"""The sweep file (format ``flexspim-sweep`` version 1): load -> validate -> normalise -> build.

A sweep file is YAML (or JSON, which YAML reads too) with these keys (docs/dse.md)::

    format: flexspim-sweep        # required
    version: 1                    # required
    name: my-sweep                # optional, default: the file name
    network: dvs_gesture          # dvs_gesture (default) | digits | a network file (.npz)
    hardware: hw.yaml             # optional base hardware file or preset (default: flexspim)
    mode: grid                    # grid (default) | random | mixed_precision
    evaluation: analytic          # analytic (default) | simulate
    n_timesteps: 16               # timesteps per inference for analytic activity
    samples: 64                   # test samples simulated per point (evaluation: simulate)
    n_points: 20                  # points drawn in random mode
    seed: 0                       # random mode's sampler, and the sample subset
    space:                        # each a list (grid / random choice) or {low, high} (random)
      n_macros: [2, 4, 16]
      buffer_kib: [64, 256]
      w_bits: [4, 8, [8, 6, 6, 4, 4, 4, 8]]   # one width for all layers, or one per layer
      v_bits: [12, 16]
      policy: [ws, os, hs-min, optimal]
      voltage: [0.9, 1.1]
      input_sparsity: [0.85, 0.99]             # analytic evaluation only
    mixed_precision:              # mode: mixed_precision only
      max_accuracy_loss: 0.02     # fraction (0.02 = 2 points of accuracy)
      w_bits: [2, 3, 4, 6, 8]     # candidate widths per layer
      v_bits: [6, 8, 12, 16]
      search: greedy              # greedy (default) | exhaustive

Every error is one line naming the file, the key and how to fix it; unknown keys suggest the
closest known one. Nothing past :func:`sweep_from_dict` sees the raw document.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from flexspim._io import check_versioned
from flexspim.compile import POLICIES
from flexspim.dse.networks import BUILTIN_NETWORKS, NetworkRef, shipped_model_digest
from flexspim.errors import ConfigError, FlexspimError, FormatError
from flexspim.hw import Hardware, default_hardware, load_hardware, preset_names

SWEEP_FORMAT = "flexspim-sweep"
SWEEP_VERSION = 1

MODES: tuple[str, ...] = ("grid", "random", "mixed_precision")
EVALUATIONS: tuple[str, ...] = ("analytic", "simulate")
SEARCHES: tuple[str, ...] = ("greedy", "exhaustive")

#: Defaults of the top-level keys, each with its reason.
DEFAULT_N_TIMESTEPS = 16  # assumption: 16 bins per inference, as the digits model and Fig. 7
DEFAULT_SAMPLES = 64  # keeps one simulated point under a few seconds on one core
DEFAULT_N_POINTS = 16  # a small random sample unless asked otherwise
#: Largest sweep a file may describe (a guard against a typo turning into days of work).
MAX_POINTS = 100_000


@dataclass(frozen=True)
class Range:
    """A continuous (or, with ``integer``, whole-number) interval sampled in random mode."""

    low: float
    high: float
    integer: bool = False


@dataclass(frozen=True)
class Param:
    """How one swept parameter is read: its type check and normaliser, and its allowed range."""

    name: str
    kind: str  # "int", "float", "bits", "str"
    lo: float | None = None
    hi: float | None = None
    unit: str = ""


#: The swept parameters (the keys of ``space``), in the order points list them.
PARAMS: dict[str, Param] = {
    "n_macros": Param("n_macros", "int", 1, 4096, "macros"),
    "buffer_kib": Param("buffer_kib", "float", 0, 1 << 30, "KiB"),
    "w_bits": Param("w_bits", "bits", 1, 64, "bits"),
    "v_bits": Param("v_bits", "bits", 2, 64, "bits"),
    "policy": Param("policy", "str"),
    "voltage": Param("voltage", "float", 0.0, 10.0, "V"),
    "input_sparsity": Param("input_sparsity", "float", 0.0, 1.0, "fraction"),
}

_TOP_KEYS: tuple[str, ...] = ("format", "version", "name", "network", "hardware", "mode",
                              "evaluation", "n_timesteps", "samples", "n_points", "seed", "space",
                              "mixed_precision")
_MIXED_KEYS: tuple[str, ...] = ("max_accuracy_loss", "w_bits", "v_bits", "search")


@dataclass(frozen=True)
class MixedPrecisionSpec:
    """Search of per-layer weight/membrane widths (docs/dse.md, "Mixed precision")."""

    max_accuracy_loss: float = 0.01  # default: at most one point of accuracy lost
    w_bits: tuple[int, ...] = (2, 3, 4, 5, 6, 8)  # the chip's 1-bit granularity (paper §II)
    v_bits: tuple[int, ...] = (6, 8, 10, 12, 16)
    search: str = "greedy"


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep. ``space`` maps each swept parameter to its values (tuple) or a Range.

    A parameter missing from ``space`` keeps the base value (hardware file or network).
    """

    name: str
    network: NetworkRef
    hardware: Hardware
    mode: str = "grid"
    evaluation: str = "analytic"
    n_timesteps: int = DEFAULT_N_TIMESTEPS
    samples: int = DEFAULT_SAMPLES
    n_points: int = DEFAULT_N_POINTS
    seed: int = 0
    space: dict[str, tuple[Any, ...] | Range] = field(default_factory=dict)
    mixed: MixedPrecisionSpec | None = None
    source: str = "<sweep>"


# ----------------------------------------------------------------------------- helpers

def _suggest(key: str, known: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(str(key), list(known), n=1)
    return f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(known)}"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(float(value)))


def _int_field(doc: dict[str, Any], key: str, default: int, lo: int, hi: int, src: str) -> int:
    value = doc.get(key, default)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not _is_int(value) or not lo <= value <= hi:
        raise ConfigError(f"{src}: '{key}' = {value!r} must be a whole number in [{lo}, {hi}]")
    return int(value)


def _choice(doc: dict[str, Any], key: str, default: str, allowed: tuple[str, ...],
            src: str) -> str:
    value = doc.get(key, default)
    if value not in allowed:
        hint = difflib.get_close_matches(str(value), list(allowed), n=1)
        more = f"; did you mean '{hint[0]}'?" if hint else ""
        raise ConfigError(f"{src}: '{key}' = {value!r}; use one of {', '.join(allowed)}{more}")
    return str(value)


def _scalar(param: Param, value: Any, where: str) -> Any:
    """Check and normalise one value of a swept parameter."""
    unit = f" {param.unit}" if param.unit else ""
    if param.kind == "str":
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{where} = {value!r} must be a name (text)")
        return value
    if param.kind == "bits":
        if isinstance(value, (list, tuple)):
            if not value:
                raise ConfigError(f"{where} = []: give one width per spiking layer, or one "
                                  f"width for all")
            return tuple(_scalar(Param(param.name, "int", param.lo, param.hi, param.unit), v,
                                 f"{where}[{i}]") for i, v in enumerate(value))
        return _scalar(Param(param.name, "int", param.lo, param.hi, param.unit), value, where)
    if param.kind == "int":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not _is_int(value):
            raise ConfigError(f"{where} = {value!r} must be a whole number{unit}")
    elif not _is_number(value):
        raise ConfigError(f"{where} = {value!r} must be a finite number{unit}")
    if param.lo is not None and value < param.lo or param.hi is not None and value > param.hi:
        raise ConfigError(f"{where} = {value!r} must be in [{param.lo}, {param.hi}]{unit}")
    return int(value) if param.kind == "int" else float(value)


def _space_entry(param: Param, value: Any, mode: str, where: str) -> tuple[Any, ...] | Range:
    if isinstance(value, dict):
        if mode != "random":
            raise ConfigError(f"{where}: a {{low, high}} range is only for mode: random; give a "
                              f"list of values for a grid")
        if param.kind not in ("int", "float"):
            raise ConfigError(f"{where}: '{param.name}' takes a list of values, not a range")
        extra = [k for k in value if k not in ("low", "high")]
        if extra or "low" not in value or "high" not in value:
            raise ConfigError(f"{where}: a range is {{low: ..., high: ...}}, got keys "
                              f"{', '.join(map(str, value)) or 'none'}")
        low = _scalar(param, value["low"], f"{where}.low")
        high = _scalar(param, value["high"], f"{where}.high")
        if low > high:
            raise ConfigError(f"{where}: low = {low} > high = {high}; swap them")
        return Range(float(low), float(high), integer=param.kind == "int")
    values = value if isinstance(value, list) else [value]
    if not values:
        raise ConfigError(f"{where}: empty list; give at least one value or drop the key")
    out: list[Any] = []
    for i, v in enumerate(values):
        norm = _scalar(param, v, f"{where}[{i}]")
        if norm not in out:
            out.append(norm)
    return tuple(out)


def _file_digest(path: Path, src: str) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{src}: cannot read network file {path} ({exc.strerror or exc}); "
                          f"check the 'network' path") from None
    return hashlib.sha256(data).hexdigest()[:16]


def _network_ref(value: Any, base_dir: Path, src: str) -> NetworkRef:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{src}: 'network' = {value!r}; use dvs_gesture, digits or a network "
                          f"file path")
    if value in BUILTIN_NETWORKS:
        digest = ""
        if value == "digits":
            digest = shipped_model_digest()
        return NetworkRef(kind=value, digest=digest)
    p = Path(value)
    if not p.is_absolute():
        p = base_dir / p
    if not p.is_file():
        close = difflib.get_close_matches(value, list(BUILTIN_NETWORKS), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ConfigError(f"{src}: 'network' = {value!r} is neither a built-in network "
                          f"({', '.join(BUILTIN_NETWORKS)}) nor an existing file{hint}")
    return NetworkRef(kind="file", path=str(p.resolve()), digest=_file_digest(p, src))


def _policies() -> tuple[str, ...]:
    return tuple(POLICIES)


#: Swept parameters that change the hardware, and how each is applied to the base hardware.
_HW_PARAMS: dict[str, Any] = {
    "n_macros": lambda hw, v: hw.with_(system=dataclasses.replace(hw.system, n_macros=int(v))),
    "buffer_kib": lambda hw, v: hw.with_(system=dataclasses.replace(hw.system,
                                                                    buffer_kib=float(v))),
    "voltage": lambda hw, v: hw.with_(voltage=float(v)),
}


def _check_hardware_space(space: dict[str, tuple[Any, ...] | Range], hardware: Hardware,
                          src: str) -> None:
    """Every swept hardware value must give valid hardware (a voltage inside the characterised
    range, ...), checked now so that no point runs on an impossible design."""
    for key, apply in _HW_PARAMS.items():
        vals = space.get(key)
        if vals is None:
            continue
        named = ([("low", vals.low), ("high", vals.high)] if isinstance(vals, Range)
                 else [(str(i), v) for i, v in enumerate(vals)])
        for where, v in named:
            try:
                apply(hardware, v)
            except ConfigError as exc:
                ref = f"space.{key}.{where}" if isinstance(vals, Range) else \
                    f"space.{key}[{where}]"
                raise ConfigError(f"{src}: {ref} = {v!r}: {exc}") from None


# ----------------------------------------------------------------------------- the loader

def sweep_from_dict(doc: Any, source: str = "<sweep>",
                    base_dir: str | os.PathLike[str] | None = None) -> SweepSpec:
    """Validate a parsed sweep document and build a :class:`SweepSpec` (defaults filled).

    Relative paths (``network``, ``hardware``) are taken from ``base_dir`` (the sweep file's
    folder). Raises :class:`~flexspim.errors.ConfigError` / ``FormatError`` with one line.
    """
    src = source
    bdir = Path(base_dir) if base_dir is not None else Path.cwd()
    if not isinstance(doc, dict):
        raise FormatError(f"{src}: a sweep file is a mapping with 'format: {SWEEP_FORMAT}', got "
                          f"{type(doc).__name__}")
    for key in doc:
        if key not in _TOP_KEYS:
            raise ConfigError(f"{src}: unknown key '{key}'; {_suggest(str(key), _TOP_KEYS)}")
    check_versioned(doc, SWEEP_FORMAT, SWEEP_VERSION, src,
                    fix_format=f"add 'format: {SWEEP_FORMAT}' and 'version: {SWEEP_VERSION}'",
                    fix=f"set 'version: {SWEEP_VERSION}'")
    name = doc.get("name", Path(src).stem)
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{src}: 'name' = {name!r} must be non-empty text")
    mode = _choice(doc, "mode", "grid", MODES, src)
    evaluation = _choice(doc, "evaluation", "simulate" if mode == "mixed_precision"
                         else "analytic", EVALUATIONS, src)
    n_timesteps = _int_field(doc, "n_timesteps", DEFAULT_N_TIMESTEPS, 1, 100_000, src)
    samples = _int_field(doc, "samples", DEFAULT_SAMPLES, 1, 10_000_000, src)
    n_points = _int_field(doc, "n_points", DEFAULT_N_POINTS, 1, MAX_POINTS, src)
    seed = _int_field(doc, "seed", 0, 0, 2**63 - 1, src)
    network = _network_ref(doc.get("network", "dvs_gesture"), bdir, src)

    hardware = default_hardware()
    if doc.get("hardware") is not None:
        hw_path = doc["hardware"]
        if not isinstance(hw_path, str):
            raise ConfigError(f"{src}: 'hardware' = {hw_path!r} must be a hardware file path "
                              f"or a preset name ({', '.join(preset_names())})")
        p = Path(hw_path) if Path(hw_path).is_absolute() else bdir / hw_path
        hardware = load_hardware(hw_path if not p.exists() and hw_path in preset_names()
                                 else p)

    raw_space = doc.get("space", {}) or {}
    if not isinstance(raw_space, dict):
        raise ConfigError(f"{src}: 'space' must be a mapping of parameter: values, got "
                          f"{type(raw_space).__name__}")
    space: dict[str, tuple[Any, ...] | Range] = {}
    for key, value in raw_space.items():
        if key not in PARAMS:
            raise ConfigError(f"{src}: unknown swept parameter 'space.{key}'; "
                              f"{_suggest(str(key), tuple(PARAMS))}")
        space[key] = _space_entry(PARAMS[key], value, mode, f"{src}: space.{key}")
    if "policy" in space:
        known = _policies()
        for pol in space["policy"]:  # type: ignore[union-attr]
            if pol not in known:
                close = difflib.get_close_matches(pol, list(known), n=1)
                more = f"; did you mean '{close[0]}'?" if close else ""
                raise ConfigError(f"{src}: space.policy value '{pol}' is unknown; use one of "
                                  f"{', '.join(known)}{more}")

    if network.kind == "dvs_gesture" and evaluation == "simulate":
        raise ConfigError(f"{src}: network dvs_gesture has random weights and no offline data, "
                          f"so it takes 'evaluation: analytic'; use 'network: digits' to "
                          f"simulate")
    if evaluation == "simulate" and "input_sparsity" in space:
        raise ConfigError(f"{src}: space.input_sparsity applies to 'evaluation: analytic' only "
                          f"(a simulation measures the sparsity of the data); drop it")

    mixed = None
    if mode == "mixed_precision":
        mixed = _mixed(doc.get("mixed_precision", {}) or {}, src)
        if evaluation != "simulate":
            raise ConfigError(f"{src}: mode mixed_precision measures accuracy, so it needs "
                              f"'evaluation: simulate'")
        if network.kind == "dvs_gesture":
            raise ConfigError(f"{src}: mode mixed_precision needs a trained network; use "
                              f"'network: digits' or a trained network file")
        for key in ("w_bits", "v_bits"):
            if key in space:
                raise ConfigError(f"{src}: space.{key} is searched by mode mixed_precision; set "
                                  f"the candidates in mixed_precision.{key} instead")
        for key, vals in space.items():
            if isinstance(vals, Range) or len(vals) != 1:
                raise ConfigError(f"{src}: space.{key} must hold one value in mode "
                                  f"mixed_precision (the search varies only bit widths)")
    elif "mixed_precision" in doc:
        raise ConfigError(f"{src}: 'mixed_precision' is only read with 'mode: mixed_precision'; "
                          f"set the mode or drop the section")
    if mode == "grid":
        total = 1
        for vals in space.values():
            total *= len(vals)  # type: ignore[arg-type]
        if total > MAX_POINTS:
            raise ConfigError(f"{src}: the grid has {total} points, more than {MAX_POINTS}; "
                              f"use mode: random with n_points")
    _check_hardware_space(space, hardware, src)
    return SweepSpec(name=name, network=network, hardware=hardware, mode=mode,
                     evaluation=evaluation, n_timesteps=n_timesteps, samples=samples,
                     n_points=n_points, seed=seed, space=space, mixed=mixed, source=src)


def _mixed(doc: Any, src: str) -> MixedPrecisionSpec:
    if not isinstance(doc, dict):
        raise ConfigError(f"{src}: 'mixed_precision' must be a mapping")
    for key in doc:
        if key not in _MIXED_KEYS:
            raise ConfigError(f"{src}: unknown key 'mixed_precision.{key}'; "
                              f"{_suggest(str(key), _MIXED_KEYS)}")
    base = MixedPrecisionSpec()
    loss = doc.get("max_accuracy_loss", base.max_accuracy_loss)
    if not _is_number(loss) or not 0 <= float(loss) <= 1:
        raise ConfigError(f"{src}: mixed_precision.max_accuracy_loss = {loss!r} must be a "
                          f"fraction in [0, 1] (0.02 = two points of accuracy)")
    widths: dict[str, tuple[int, ...]] = {}
    for key in ("w_bits", "v_bits"):
        vals = doc.get(key, getattr(base, key))
        entry = _space_entry(Param(key, "int", PARAMS[key].lo, PARAMS[key].hi, "bits"),
                             list(vals) if isinstance(vals, (list, tuple)) else vals, "grid",
                             f"{src}: mixed_precision.{key}")
        widths[key] = tuple(sorted(entry))  # type: ignore[arg-type]
    search = _choice(doc, "search", base.search, SEARCHES, f"{src}: mixed_precision")
    return MixedPrecisionSpec(max_accuracy_loss=float(loss), w_bits=widths["w_bits"],
                              v_bits=widths["v_bits"], search=search)


def parse_sweep_text(text: str, source: str = "<sweep>") -> Any:
    """Parse YAML text into a document; a syntax error is one ConfigError line with its place."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None)
        raise FormatError(f"{source}: not valid YAML{where}"
                          f"{': ' + problem if problem else ''}") from None
    except (ValueError, TypeError, RecursionError) as exc:
        raise FormatError(f"{source}: not a readable sweep file ({type(exc).__name__}); "
                          f"check the YAML") from None


def load_sweep(path: str | os.PathLike[str]) -> SweepSpec:
    """Load a sweep file (YAML or JSON) into a :class:`SweepSpec`."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such sweep file; check the path") from None
    except IsADirectoryError:
        raise ConfigError(f"{p}: is a folder, expected a sweep file (.yaml)") from None
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read the sweep file ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError(f"{p}: not a text file (byte {exc.start} is not UTF-8); a sweep file "
                          f"is YAML") from None
    doc = parse_sweep_text(text, str(p))
    try:
        return sweep_from_dict(doc, str(p), base_dir=p.parent)
    except FlexspimError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as exc:
        raise FormatError(f"{p}: malformed sweep file ({type(exc).__name__}: {exc})") from None
