"""Hardware description (docs/design.md §4 ``hw``): macro geometry, clocks, supply, energy parameters,
macro count, buffer and DRAM. Every default carries its source beside it.

Load and save with :func:`load_hardware` / :func:`save_hardware` (YAML or TOML). The loader
validates (field, value and allowed range in every error), fills defaults, and builds frozen
dataclasses; no raw dict travels past it. Chip variants are presets, hardware files shipped in
the package and loaded by name (:func:`load_preset`: ``flexspim``, ``spidr``; docs/parameters.md).
"""

from flexspim.hw.preset import Preset, preset_info, preset_markdown
from flexspim.hw.spec import (
    HW_FORMAT,
    HW_VERSION,
    ControllerSpec,
    DramSpec,
    Hardware,
    MacroEnergy,
    MacroSpec,
    SystemEnergy,
    SystemSpec,
    default_hardware,
    hardware_from_dict,
    hardware_to_dict,
    load_hardware,
    load_preset,
    preset_names,
    save_hardware,
)

__all__ = [
    "HW_FORMAT",
    "HW_VERSION",
    "ControllerSpec",
    "DramSpec",
    "Hardware",
    "MacroEnergy",
    "MacroSpec",
    "Preset",
    "SystemEnergy",
    "SystemSpec",
    "default_hardware",
    "hardware_from_dict",
    "hardware_to_dict",
    "load_hardware",
    "load_preset",
    "preset_info",
    "preset_markdown",
    "preset_names",
    "save_hardware",
]
