"""Hardware presets: chip variants as data (``src/flexspim/hw/presets/*.yaml``).

A preset is a hardware file shipped in the package and loaded by name (``--hw spidr``,
:func:`flexspim.hw.load_preset`). Beside its values it holds a ``description`` and, for every
field it sets, a ``sources`` entry saying where the value comes from: the chip's paper, a scaling
rule (``scaled: ...``) or our assumption (``assumption: ...``). The fields a preset leaves out
keep the FlexSpIM defaults; :func:`preset_info` marks them so. docs/parameters.md lists every
preset's values and sources (:func:`preset_markdown`; a test keeps it current).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from flexspim.errors import ConfigError
from flexspim.hw.spec import (
    DOC_KEYS,
    Hardware,
    hardware_from_dict,
    parameter_rows,
    preset_names,
    read_hardware_document,
)

#: How a source begins, by kind of value (the "kind" column of docs/parameters.md).
SOURCE_KINDS: tuple[tuple[str, str], ...] = (("scaled", "scaled"), ("assumption", "assumption"),
                                             ("calibrated", "calibrated"),
                                             ("fitted", "calibrated"))

#: What the source of a field a preset leaves out begins with (for a chip other than FlexSpIM).
KEPT = "FlexSpIM default kept (an assumption for this chip); its source: "


@dataclass(frozen=True)
class Preset:
    """A shipped preset: its name, hardware, description and the source of every parameter
    (dotted field name -> text, every leaf of :class:`~flexspim.hw.Hardware`)."""

    name: str
    hardware: Hardware
    description: str
    sources: MappingProxyType[str, str]
    written: frozenset[str]

    def kind(self, field_name: str) -> str:
        """``paper`` (the chip's paper), ``scaled``, ``calibrated``, ``assumption``,
        ``FlexSpIM default`` (a field the preset of another chip leaves out) or ``other``."""
        if field_name not in self.written and self.hardware.name != Hardware().name:
            return "FlexSpIM default"
        text = self.sources[field_name]
        for prefix, kind in SOURCE_KINDS:
            if text.startswith(prefix):
                return kind
        return "paper" if text.startswith(f"{self.hardware.name} paper") else "other"


def _written_fields(doc: dict[str, Any], prefix: str = "") -> set[str]:
    """Dotted names of the values a hardware document sets (format, version, docs left out)."""
    out: set[str] = set()
    for key, value in doc.items():
        if not prefix and key in ("format", "version", *DOC_KEYS) or key.startswith("flexspim_"):
            continue
        name = f"{prefix}{key}"
        out |= _written_fields(value, f"{name}.") if isinstance(value, dict) else {name}
    return out


def preset_info(name: str) -> Preset:
    """The shipped preset ``name`` with the source of every parameter
    (:func:`preset_from_document`)."""
    if name.lower() not in preset_names():
        raise ConfigError(f"hardware preset '{name}': unknown; the presets are "
                          f"{', '.join(preset_names())}")
    doc, where = read_hardware_document(name.lower())
    return preset_from_document(doc, name.lower(), where)


def preset_from_document(doc: Any, name: str, where: str) -> Preset:
    """A preset from its parsed file.

    It must give a source for every field it sets (else :class:`ConfigError` naming the
    fields); the fields it leaves out take the FlexSpIM default's source, marked :data:`KEPT`
    when the preset describes another chip.
    """
    if not isinstance(doc, dict):
        raise ConfigError(f"{where}: a preset must be a mapping of sections, got "
                          f"{type(doc).__name__}")
    hw = hardware_from_dict(doc, source=where)
    given = dict(doc.get("sources") or {})
    written = _written_fields(doc)
    missing = sorted(written - set(given))
    if missing:
        raise ConfigError(f"{where}: no source for {', '.join(missing)}; add each to 'sources' "
                          f"(the paper's section, 'scaled: ...' or 'assumption: ...')")
    other_chip = hw.name != Hardware().name
    sources = {}
    for field_name, _, _, default_source in parameter_rows(hw):
        if field_name in given:
            sources[field_name] = given[field_name]
        else:
            sources[field_name] = (KEPT if other_chip else "") + default_source
    return Preset(name=name, hardware=hw, description=str(doc.get("description", "")),
                  sources=MappingProxyType(sources), written=frozenset(written))


def preset_markdown(preset: Preset) -> str:
    """A Markdown table of the preset: every parameter, its value, unit, kind and source."""
    hw = preset.hardware
    lines = [f"| parameter | {hw.name} value | unit | kind | source |", "|---|---|---|---|---|"]
    for name, value, unit, _ in parameter_rows(hw):
        shown = "none" if value is None else (f"{value:g}" if isinstance(value, float)
                                              else str(value))
        source = preset.sources[name]
        if preset.kind(name) == "FlexSpIM default":
            source = "kept: " + source[len(KEPT):]
        lines.append(f"| `{name}` | {shown} | {unit} | {preset.kind(name)} | "
                     f"{' '.join(source.split()).replace('|', '/')} |")
    return "\n".join(lines) + "\n"


__all__ = ["KEPT", "Preset", "SOURCE_KINDS", "preset_from_document", "preset_info",
           "preset_markdown"]
