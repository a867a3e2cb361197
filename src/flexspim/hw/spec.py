"""Typed, validated hardware description.

Units are in the field names: ``_pj`` picojoules, ``_uw`` microwatts, ``_mhz`` megahertz,
``_v`` volts, ``_kib`` kibibytes, ``_bits`` bits. Each field's metadata holds its ``source``
(the paper where it is the paper, otherwise a named reference or a stated assumption) and its
allowed range, which the loader checks.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import tomllib
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

import tomli_w
import yaml

from flexspim._io import WRITER_KEY, check_versioned, stamped, write_text_atomic
from flexspim.errors import ConfigError

HW_FORMAT = "flexspim-hardware"
HW_VERSION = 1

PAPER = "FlexSpIM paper (arXiv 2410.23082, ISCAS 2025)"


def _f(default: Any, source: str, *, lo: float | None = None, hi: float | None = None,
       lo_open: bool = False, unit: str = "", choices: tuple[str, ...] = (),
       words: tuple[str, ...] = ()) -> Any:
    """A dataclass field with its source and allowed range [lo, hi] (lo excluded if lo_open),
    or, for a text field, its allowed ``choices``; ``words`` are text values a number field
    also takes (``"auto"``)."""
    return field(default=default,
                 metadata={"source": source, "lo": lo, "hi": hi, "lo_open": lo_open,
                           "unit": unit, "choices": choices, "words": words})


@dataclass(frozen=True)
class MacroSpec:
    """Geometry, clocks and supply of one FlexSpIM macro (paper §II, Fig. 2–3, Table I).

    One in-memory addition (a *row operation*) takes ``phases_per_add`` phases of the internal
    CIM clock ``f_cim_mhz``; the system clock issues at most one row operation per cycle.
    """

    technology_nm: int = _f(40, f"{PAPER}: fabricated in 40 nm CMOS", lo=1, unit="nm")
    rows: int = _f(512, f"{PAPER}: 16 kB array = 512 rows x 256 columns", lo=1, unit="rows")
    cols: int = _f(256, f"{PAPER}: 16 kB array = 512 rows x 256 columns", lo=1, unit="columns")
    phases_per_add: int = _f(5, f"{PAPER}: five phases per in-memory addition", lo=1)
    control_bits_per_col: int = _f(2, f"{PAPER}: 2-bit control cells per column", lo=1)
    f_cim_mhz: float = _f(942.0, f"{PAPER}: 942 MHz internal CIM clock", lo=0, lo_open=True,
                          unit="MHz")
    f_sys_min_mhz: float = _f(75.5, f"{PAPER}: 75.5 MHz system clock at 0.9 V", lo=0,
                              lo_open=True, unit="MHz")
    f_sys_max_mhz: float = _f(157.0, f"{PAPER}: 157 MHz system clock at 1.1 V", lo=0,
                              lo_open=True, unit="MHz")
    v_min: float = _f(0.9, f"{PAPER}: characterised supply 0.9-1.1 V", lo=0, lo_open=True,
                      unit="V")
    v_max: float = _f(1.1, f"{PAPER}: characterised supply 0.9-1.1 V", lo=0, lo_open=True,
                      unit="V")

    @property
    def bits(self) -> int:
        """Storage capacity in bits (rows x cols)."""
        return self.rows * self.cols


@dataclass(frozen=True)
class MacroEnergy:
    """Energy parameters of one macro at the reference supply ``v_ref`` (see docs/energy.md).

    Energy of one row operation at supply V::

        E_row_op(V) = (n_active * e_col_active_pj
                       + n_standby * e_col_active_pj * (1 - standby_saving)
                       + e_row_pj) * (V / v_ref) ** voltage_exponent

    Reads and writes of whole rows from outside the array (streamed operands) cost
    ``e_read_pj_per_bit`` / ``e_write_pj_per_bit`` per bit, scaled the same way.
    """

    v_ref: float = _f(1.1, f"{PAPER}: 7.2 pJ/SOP and 17.9 mW are given at 1.1 V", lo=0,
                      lo_open=True, unit="V")
    e_col_active_pj: float = _f(
        0.39845,
        "calibrated (docs/energy.md, flexspim.energy.ops.calibrate_macro_energy): 17.9 mW at "
        "1.1 V / 157 MHz minus leakage, with 16 lanes of 8-bit weights / 16-bit membranes per "
        "full 256-column row operation, minus e_row_pj, over 256 active columns",
        lo=0, unit="pJ")
    e_row_pj: float = _f(
        11.967,
        "assumption: wordline drivers, row decoders and control take 10.5% of a full-row "
        "operation (113.97 pJ at 1.1 V), as CACTI 7 reports for the decoder+wordline share of "
        "a 16 kB 40 nm SRAM read",
        lo=0, unit="pJ")
    standby_saving: float = _f(0.87, f"{PAPER}: a column in precharge standby uses 87% less "
                               "energy than an active one", lo=0, hi=1, unit="fraction")
    voltage_exponent: float = _f(
        1.177,
        f"fitted to {PAPER}: 6.8 mW at 0.9 V / 75.5 MHz and 17.9 mW at 1.1 V / 157 MHz, leakage "
        "subtracted (sub-quadratic: part of the measured energy does not scale as CV^2)",
        lo=0, unit="")
    e_read_pj_per_bit: float = _f(
        0.05,
        "assumption: one 6T bit-line read with sense amplifier in 40 nm, ~50 fJ/bit "
        "(Horowitz, ISSCC 2014, 8 kB SRAM 10 pJ per 64-bit read at 45 nm = 0.16 pJ/bit "
        "including decode, minus the decode share)", lo=0, unit="pJ/bit")
    e_write_pj_per_bit: float = _f(
        0.06,
        "assumption: 6T write with full-swing bit lines, ~1.2x a read (Horowitz, ISSCC 2014)",
        lo=0, unit="pJ/bit")
    leakage_uw: float = _f(
        6.6,
        "assumption: 131072 6T cells x 50 pW (40 nm low-power SRAM cell leakage at 1.1 V); "
        "leakage current taken constant over 0.9-1.1 V, so the power scales as V / v_ref",
        lo=0, unit="uW")


@dataclass(frozen=True)
class DramSpec:
    """Off-chip DRAM used when the on-chip buffer is full."""

    enabled: bool = _f(True, "assumption: large systems of the paper's Fig. 7 use DRAM")
    pj_per_bit: float = _f(
        20.0,
        "Horowitz, ISSCC 2014: DRAM access 1.3-2.6 nJ per 64 bits = 20-40 pJ/bit (low end)",
        lo=0, unit="pJ/bit")


@dataclass(frozen=True)
class ControllerSpec:
    """What the controller of each macro does when it executes a mapping (docs/system-model.md).

    The rules change counts, never results: additions commute, so every order gives the same
    spikes and membranes. Each one can be switched to see what it is worth.
    """

    scratch_reuse: bool = _f(
        True, "assumption: a slice already in the scratch rows is not loaded again (the rows "
        "still hold it); false loads and stores every unit's slices (no reuse at all)")
    scratch_slices: int | str = _f(
        "auto", "assumption: 'auto' keeps as many streamed slices as the macro's free rows hold "
        "(rows not holding resident operands) and one spilled group; k keeps k of each per "
        "macro in reserved rows (1: the paper's flow, one weight and one membrane slice)",
        lo=1, unit="slices", words=("auto",))
    event_order: str = _f(
        "arrival", f"{PAPER}: Fig. 1(c) processes a layer's input events one after the other as "
        "they arrive ('arrival'); 'target' lets the controller sort a timestep's work by the "
        "streamed slice it needs (an assumption beyond the paper)", choices=("arrival", "target"))
    compare: str = _f(
        "all", f"{PAPER}: Fig. 1(c) compares the layer's membranes with the threshold after each "
        "timestep ('all'); 'active' compares every membrane at the first timestep (an initial "
        "membrane may start above threshold), then only membranes changed by this timestep's "
        "events or by a reset at the previous one (an assumption beyond the paper)",
        choices=("all", "active"))


@dataclass(frozen=True)
class SystemSpec:
    """The system around the macros: macro count and the memory levels operands spill to."""

    n_macros: int = _f(2, f"{PAPER}: Fig. 4 maps the 6-conv SCNN onto two macros", lo=1,
                       unit="macros")
    buffer_kib: float = _f(
        256.0, "assumption: a 256 KiB on-chip SRAM buffer shared by the macros, the order of "
        "the SRAM next to one core of an edge neuromorphic chip (SpiNNaker2: 128 KiB per "
        "processing element)", lo=0, unit="KiB")
    dram: DramSpec = field(default_factory=DramSpec, metadata={"source": "see DramSpec"})
    buffer_bits_per_cycle: int = _f(
        256, "assumption: the buffer port is as wide as one macro row (256 columns) and moves "
        "one row per system cycle", lo=1, unit="bits/cycle")
    dram_gbit_per_s: float = _f(
        51.2, "JEDEC JESD209-4 LPDDR4: one x16 channel at 3200 MT/s = 6.4 GB/s = 51.2 Gbit/s",
        lo=0, lo_open=True, unit="Gbit/s")
    controller: ControllerSpec = field(default_factory=ControllerSpec,
                                       metadata={"source": "see ControllerSpec"})


@dataclass(frozen=True)
class SystemEnergy:
    """Energy of everything outside the macros' arrays."""

    buffer_pj_per_bit: float = _f(
        0.8,
        "Horowitz, ISSCC 2014 (45 nm): 32 kB SRAM 20 pJ and 1 MB 100 pJ per 64-bit access; "
        "256 KiB interpolated to ~50 pJ / 64 bits", lo=0, unit="pJ/bit")
    routing_pj_per_event: float = _f(
        3.5,
        "Davies et al., Loihi, IEEE Micro 2018, Table 1: 3.5 pJ per spike sent across tiles",
        lo=0, unit="pJ/event")
    transfer_pj_per_bit: float = _f(
        0.1,
        "Keckler et al., IEEE Micro 31(5) 2011, Fig. 1: a 256-bit on-chip bus costs 26 pJ over "
        "1 mm (0.1 pJ per bit and mm); assumption: neighbouring macros 1 mm apart",
        lo=0, unit="pJ/bit")
    compare_pj_per_bit: float = _f(
        0.05,
        "assumption: a threshold compare reads the membrane row once (same as "
        "MacroEnergy.e_read_pj_per_bit) and the comparator is negligible", lo=0, unit="pJ/bit")
    buffer_leakage_uw_per_kib: float = _f(
        0.41, "assumption: 8192 cells per KiB x 50 pW (40 nm low-power SRAM)", lo=0,
        unit="uW/KiB")


@dataclass(frozen=True)
class Hardware:
    """A whole hardware description: macro, its energy, the system, and the operating point.

    ``voltage`` must lie in [macro.v_min, macro.v_max] unless ``allow_extrapolation``.
    ``f_sys_mhz`` defaults to the highest system clock at that voltage, interpolated linearly
    between (v_min, f_sys_min_mhz) and (v_max, f_sys_max_mhz) (paper: 75.5 MHz at 0.9 V,
    157 MHz at 1.1 V).
    ``name`` says which chip the description models (the FlexSpIM paper's by default; a preset
    such as ``spidr`` names its own, docs/parameters.md).
    """

    name: str = _f("FlexSpIM", f"{PAPER}: the chip these defaults describe")
    macro: MacroSpec = field(default_factory=MacroSpec, metadata={"source": "see MacroSpec"})
    macro_energy: MacroEnergy = field(default_factory=MacroEnergy,
                                      metadata={"source": "see MacroEnergy"})
    system: SystemSpec = field(default_factory=SystemSpec, metadata={"source": "see SystemSpec"})
    system_energy: SystemEnergy = field(default_factory=SystemEnergy,
                                        metadata={"source": "see SystemEnergy"})
    voltage: float = _f(0.9, f"{PAPER}: 0.9 V is the minimum-energy point (5.7 pJ/SOP)", lo=0,
                        lo_open=True, unit="V")
    f_sys_mhz: float | None = _f(None, "default: the highest clock at the chosen voltage",
                                 lo=0, lo_open=True, unit="MHz")
    allow_extrapolation: bool = _f(False, "safety: stay inside the characterised range")

    def __post_init__(self) -> None:
        validate_hardware(self)

    def max_f_sys_mhz(self, voltage: float | None = None) -> float:
        """Highest system clock (MHz) at ``voltage`` (linear in V between the paper's points)."""
        m = self.macro
        v = self.voltage if voltage is None else voltage
        if m.v_max == m.v_min:
            return m.f_sys_max_mhz
        frac = (v - m.v_min) / (m.v_max - m.v_min)
        return m.f_sys_min_mhz + frac * (m.f_sys_max_mhz - m.f_sys_min_mhz)

    @property
    def clock_mhz(self) -> float:
        """The system clock in use (MHz)."""
        return self.max_f_sys_mhz() if self.f_sys_mhz is None else self.f_sys_mhz

    def with_(self, **changes: Any) -> Hardware:
        """A copy with top-level fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


# ----------------------------------------------------------------------------- validation

def _check_range(obj: Any, where: str) -> None:
    for f in fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            continue
        meta = f.metadata
        name = f"{where}.{f.name}" if where else f.name
        if value is None:
            continue
        if isinstance(value, str) and value in (meta.get("words") or ()):
            continue
        choices = meta.get("choices") or ()
        if choices:
            if value not in choices:
                raise ConfigError(f"hardware field '{name}' = {value!r}: must be one of "
                                  f"{', '.join(repr(c) for c in choices)}")
            continue
        if f.type == "str":
            if not isinstance(value, str) or not value.strip() or "\n" in value:
                raise ConfigError(f"hardware field '{name}' = {value!r}: expected one line of "
                                  f"text")
            continue
        if isinstance(value, bool) or f.type in ("bool",):
            if not isinstance(value, bool):
                raise ConfigError(f"hardware field '{name}' = {value!r}: expected true or false")
            continue
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            words = "".join(f" or '{w}'" for w in meta.get("words") or ())
            raise ConfigError(f"hardware field '{name}' = {value!r}: expected a number{words}")
        if str(f.type).split(" |")[0] == "int" and (not float(value).is_integer()):
            raise ConfigError(f"hardware field '{name}' = {value!r}: expected a whole number")
        if not math.isfinite(float(value)):
            raise ConfigError(f"hardware field '{name}' = {value!r}: expected a finite number")
        lo, hi, lo_open = meta.get("lo"), meta.get("hi"), meta.get("lo_open")
        unit = f" {meta.get('unit')}" if meta.get("unit") else ""
        allowed = (f"{'>' if lo_open else '>='} {lo}" if hi is None
                   else f"in [{lo}, {hi}]")
        if lo is not None and (value <= lo if lo_open else value < lo):
            raise ConfigError(f"hardware field '{name}' = {value!r}: must be {allowed}{unit}")
        if hi is not None and value > hi:
            raise ConfigError(f"hardware field '{name}' = {value!r}: must be {allowed}{unit}")


def validate_hardware(hw: Hardware) -> None:
    """Check every field's type and range and the cross-field rules; raise ConfigError."""
    _check_range(hw.macro, "macro")
    _check_range(hw.macro_energy, "macro_energy")
    _check_range(hw.system, "system")
    _check_range(hw.system.dram, "system.dram")
    _check_range(hw.system.controller, "system.controller")
    _check_range(hw.system_energy, "system_energy")
    _check_range(hw, "")
    m = hw.macro
    if m.v_min > m.v_max:
        raise ConfigError(f"hardware fields 'macro.v_min' = {m.v_min} > 'macro.v_max' = "
                          f"{m.v_max}: the characterised range must be increasing")
    if m.f_sys_min_mhz > m.f_sys_max_mhz:
        raise ConfigError(f"hardware fields 'macro.f_sys_min_mhz' = {m.f_sys_min_mhz} > "
                          f"'macro.f_sys_max_mhz' = {m.f_sys_max_mhz}")
    if not hw.allow_extrapolation and not (m.v_min - 1e-12 <= hw.voltage <= m.v_max + 1e-12):
        raise ConfigError(
            f"hardware field 'voltage' = {hw.voltage} V is outside the characterised range "
            f"[{m.v_min}, {m.v_max}] V; choose a voltage inside it or set "
            f"allow_extrapolation: true")
    if hw.f_sys_mhz is not None and not hw.allow_extrapolation:
        fmax = hw.max_f_sys_mhz()
        if hw.f_sys_mhz > fmax + 1e-9:
            raise ConfigError(
                f"hardware field 'f_sys_mhz' = {hw.f_sys_mhz} MHz exceeds the highest system "
                f"clock at {hw.voltage} V ({fmax:.1f} MHz); lower it, raise the voltage, or set "
                f"allow_extrapolation: true")


# ----------------------------------------------------------------------------- (de)serialise

_SECTIONS: dict[str, type] = {
    "macro": MacroSpec,
    "macro_energy": MacroEnergy,
    "system": SystemSpec,
    "system_energy": SystemEnergy,
}


#: Sections nested in a section (``system.dram``, ``system.controller``).
_SUBSECTIONS: dict[str, type] = {"dram": DramSpec, "controller": ControllerSpec}


def _build(cls: type, data: Any, where: str, source: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: section '{where}' must be a mapping of field: value, "
                          f"got {type(data).__name__}")
    known = {f.name: f for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            close = difflib.get_close_matches(str(key), list(known), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else \
                f"; known fields: {', '.join(known)}"
            raise ConfigError(f"{source}: unknown hardware field '{where}.{key}'{hint}")
        f = known[key]
        if key in _SUBSECTIONS:
            kwargs[key] = _build(_SUBSECTIONS[key], value, f"{where}.{key}", source)
        else:
            if str(f.type).split(" |")[0] == "int" and isinstance(value, float) \
                    and value.is_integer():
                value = int(value)
            kwargs[key] = value
    return cls(**kwargs)


#: Optional keys of a hardware file that document it without changing the hardware: a
#: ``description`` (text) and ``sources`` (dotted field name -> where its value comes from).
DOC_KEYS: tuple[str, ...] = ("description", "sources")


def check_documentation(doc: dict[str, Any], source: str) -> None:
    """Check a hardware document's optional ``description`` and ``sources`` (every key a dotted
    hardware field such as ``macro_energy.e_row_pj``, every value non-empty text)."""
    desc = doc.get("description")
    if desc is not None and (not isinstance(desc, str) or not desc.strip()):
        raise ConfigError(f"{source}: 'description' must be text, got {desc!r}")
    sources = doc.get("sources")
    if sources is None:
        return
    if not isinstance(sources, dict):
        raise ConfigError(f"{source}: 'sources' must be a mapping of field: source text "
                          f"(e.g. macro.rows: 'paper, Fig. 2'), got {type(sources).__name__}")
    known = [name for name, *_ in parameter_rows(Hardware())]
    for key, text in sources.items():
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else \
                " (fields are written with dots, as in docs/parameters.md)"
            raise ConfigError(f"{source}: 'sources' names unknown hardware field '{key}'{hint}")
        if not isinstance(text, str) or not text.strip():
            raise ConfigError(f"{source}: 'sources.{key}' must be non-empty text saying where "
                              f"the value comes from")


def hardware_from_dict(doc: dict[str, Any], source: str = "hardware") -> Hardware:
    """Validate a parsed YAML/TOML document and build a :class:`Hardware` (defaults filled).

    ``format`` and ``version`` are optional; when given they must match this version. The
    documentation keys :data:`DOC_KEYS` are checked and left out of the hardware.
    """
    if not isinstance(doc, dict):
        raise ConfigError(f"{source}: a hardware file must be a mapping of sections, got "
                          f"{type(doc).__name__}")
    doc = dict(doc)
    check_documentation(doc, source)
    for key in DOC_KEYS:
        doc.pop(key, None)
    stamp = {"format": doc.pop("format", HW_FORMAT), "version": doc.pop("version", HW_VERSION)}
    doc.pop(WRITER_KEY, None)  # the release that wrote the file: provenance only
    check_versioned(stamp, HW_FORMAT, HW_VERSION, source, what="hardware description",
                    fix="update the file's fields and version", error=ConfigError)
    kwargs: dict[str, Any] = {}
    top = {f.name for f in fields(Hardware)}
    for key, value in doc.items():
        if key in _SECTIONS:
            kwargs[key] = _build(_SECTIONS[key], value, key, source)
        elif key in top:
            kwargs[key] = value
        else:
            close = difflib.get_close_matches(str(key), list(top), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else \
                f"; known keys: {', '.join(sorted(top))}"
            raise ConfigError(f"{source}: unknown hardware key '{key}'{hint}")
    try:
        return Hardware(**kwargs)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    except TypeError as exc:  # pragma: no cover - dataclass signature errors
        raise ConfigError(f"{source}: {exc}") from None


def hardware_to_dict(hw: Hardware) -> dict[str, Any]:
    """A plain document (format, version, every field) that :func:`hardware_from_dict` reads."""
    body = dataclasses.asdict(hw)
    if body.get("f_sys_mhz") is None:
        body.pop("f_sys_mhz", None)
    return {"format": HW_FORMAT, "version": HW_VERSION, **body}


def default_hardware(**changes: Any) -> Hardware:
    """The default FlexSpIM system (paper values and documented assumptions)."""
    return Hardware(**changes)


#: The package whose ``presets/`` folder holds the shipped hardware presets (docs/parameters.md).
PRESETS_PACKAGE = "flexspim.hw"


def _preset_files() -> dict[str, Any]:
    folder = resources.files(PRESETS_PACKAGE).joinpath("presets")
    return {f.name[:-5]: f for f in folder.iterdir() if f.name.endswith(".yaml")}


def preset_names() -> tuple[str, ...]:
    """The names of the shipped hardware presets (``flexspim``, ``spidr``), sorted."""
    return tuple(sorted(_preset_files()))


def _is_preset_name(text: str) -> bool:
    return ("/" not in text and "\\" not in text and not Path(text).suffix
            and text.lower() in _preset_files())


def _parse_hardware_text(text: str, suffix: str, where: str) -> Any:
    try:
        if suffix == ".toml":
            return tomllib.loads(text)
        if suffix in (".yaml", ".yml"):
            return yaml.safe_load(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{where}: not valid YAML{at}") from None
    raise ConfigError(f"{where}: unknown hardware file type '{suffix}'; use .yaml, .yml or .toml")


def read_hardware_document(path_or_preset: str | os.PathLike[str]) -> tuple[Any, str]:
    """The parsed document of a hardware file, or of a shipped preset named by a bare name
    (``spidr``), and the label errors name it by. A file of that name wins over a preset."""
    p = Path(path_or_preset)
    if not p.exists() and _is_preset_name(str(path_or_preset)):
        name = str(path_or_preset).lower()
        text = _preset_files()[name].read_text(encoding="utf-8")
        return _parse_hardware_text(text, ".yaml", f"preset '{name}'"), f"preset '{name}'"
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such hardware file; check the path, or name a preset: "
                          f"{', '.join(preset_names())}") from None
    except (IsADirectoryError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read a hardware description ({exc})") from None
    return _parse_hardware_text(text, p.suffix.lower(), str(p)), str(p)


def load_hardware(path: str | os.PathLike[str]) -> Hardware:
    """Load a hardware description from YAML (``.yaml``/``.yml``) or TOML (``.toml``), or a
    shipped preset by name (``flexspim``, ``spidr``; :func:`preset_names`)."""
    doc, where = read_hardware_document(path)
    if doc is None or doc == {}:
        raise ConfigError(f"{where}: the hardware file is empty; write the fields that differ "
                          f"from the paper's system (docs/parameters.md), or give no hardware "
                          f"file to use that system as it is")
    return hardware_from_dict(doc, source=where)


def load_preset(name: str) -> Hardware:
    """A shipped hardware preset by name (``flexspim``: the default; ``spidr``: SpiDR's node,
    supply and widths with our model, docs/parameters.md)."""
    if not _is_preset_name(name):
        raise ConfigError(f"hardware preset '{name}': unknown; the presets are "
                          f"{', '.join(preset_names())}")
    return load_hardware(name.lower())


def save_hardware(hw: Hardware, path: str | os.PathLike[str]) -> None:
    """Save as YAML or TOML by the file's suffix (atomically)."""
    p = Path(path)
    doc = stamped(hardware_to_dict(hw))
    suffix = p.suffix.lower()
    if suffix == ".toml":
        text = tomli_w.dumps(doc)
    elif suffix in (".yaml", ".yml"):
        text = yaml.safe_dump(doc, sort_keys=False)
    else:
        raise ConfigError(f"{p}: unknown hardware file type '{suffix}'; use .yaml, .yml or .toml")
    write_text_atomic(p, text)


def field_sources(obj: Any) -> dict[str, str]:
    """Map ``field -> source`` for a hardware dataclass (for docs and reports)."""
    return {f.name: f.metadata.get("source", "") for f in fields(obj)}


def parameter_rows(obj: Any, prefix: str = "") -> list[tuple[str, Any, str, str]]:
    """Every leaf parameter of a hardware dataclass as ``(dotted name, default value, unit,
    source)``, nested dataclasses expanded (docs/parameters.md is generated from this)."""
    rows: list[tuple[str, Any, str, str]] = []
    for f in fields(obj):
        value = getattr(obj, f.name)
        name = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            rows.extend(parameter_rows(value, prefix=f"{name}."))
        else:
            rows.append((name, value, str(f.metadata.get("unit", "")),
                         str(f.metadata.get("source", ""))))
    return rows


def parameters_markdown(hw: Any) -> str:
    """A Markdown table of :func:`parameter_rows`: each parameter, its default, unit and source,
    the paper's facts marked as such."""
    lines = ["| parameter | default | unit | from the paper? | source |",
             "|---|---|---|---|---|"]
    for name, value, unit, source in parameter_rows(hw):
        shown = "none" if value is None else (f"{value:g}" if isinstance(value, float)
                                              else str(value))
        paper = "yes" if source.startswith("FlexSpIM paper") else (
            "fitted to it" if "FlexSpIM paper" in source or source.startswith("calibrated")
            else "no")
        lines.append(f"| `{name}` | {shown} | {unit} | {paper} | "
                     f"{source.replace('|', '/')} |")
    return "\n".join(lines) + "\n"
