"""Hardware description: defaults with sources, validation, YAML/TOML round trips."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flexspim.errors import ConfigError
from flexspim.hw import (
    HW_VERSION,
    Hardware,
    MacroEnergy,
    MacroSpec,
    default_hardware,
    hardware_from_dict,
    hardware_to_dict,
    load_hardware,
    save_hardware,
)
from flexspim.hw.spec import field_sources, parameter_rows


def test_paper_defaults() -> None:
    hw = default_hardware()
    m = hw.macro
    assert (m.rows, m.cols, m.phases_per_add, m.control_bits_per_col) == (512, 256, 5, 2)
    assert (m.f_cim_mhz, m.f_sys_min_mhz, m.f_sys_max_mhz) == (942.0, 75.5, 157.0)
    assert (m.v_min, m.v_max) == (0.9, 1.1)
    assert m.bits == 16 * 1024 * 8  # 16 kB
    assert hw.macro_energy.standby_saving == 0.87
    assert hw.clock_mhz == pytest.approx(75.5)
    assert hw.with_(voltage=1.1).clock_mhz == pytest.approx(157.0)
    assert hw.with_(voltage=1.0).clock_mhz == pytest.approx((75.5 + 157.0) / 2)


@pytest.mark.parametrize("obj", [MacroSpec(), MacroEnergy(), default_hardware().system,
                                 default_hardware().system_energy])
def test_every_default_has_a_source(obj: object) -> None:
    for name, source in field_sources(obj).items():
        assert len(source) > 10, f"{type(obj).__name__}.{name} has no source"


def test_unknown_key_suggests_the_right_one() -> None:
    with pytest.raises(ConfigError, match=r"'macro\.colls'.*did you mean 'cols'") as exc:
        hardware_from_dict({"macro": {"colls": 128}})
    assert "\n" not in str(exc.value)
    with pytest.raises(ConfigError, match="did you mean 'voltage'"):
        hardware_from_dict({"voltag": 1.0})
    with pytest.raises(ConfigError, match="did you mean 'pj_per_bit'"):
        hardware_from_dict({"system": {"dram": {"pj_per_bits": 3}}})


@pytest.mark.parametrize(("section", "key", "value", "pattern"), [
    ("macro", "rows", 0, r"'macro\.rows' = 0: must be >= 1"),
    ("macro", "cols", -4, r"'macro\.cols' = -4"),
    ("macro", "rows", 2.5, "whole number"),
    ("macro", "f_cim_mhz", 0.0, "must be > 0"),
    ("macro_energy", "standby_saving", 1.5, r"must be in \[0, 1\]"),
    ("macro_energy", "e_row_pj", -1.0, "must be >= 0"),
    ("system", "n_macros", 0, "n_macros"),
    ("macro_energy", "e_col_active_pj", "a lot", "expected a number"),
])
def test_bad_values_name_field_value_and_range(section: str, key: str, value: object,
                                               pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        hardware_from_dict({section: {key: value}})


def test_voltage_range_and_extrapolation() -> None:
    with pytest.raises(ConfigError, match=r"outside the characterised range.*allow_extrapolation"):
        default_hardware(voltage=1.3)
    hw = default_hardware(voltage=1.3, allow_extrapolation=True)
    assert hw.clock_mhz > 157.0
    with pytest.raises(ConfigError, match="f_sys_mhz"):
        default_hardware(voltage=0.9, f_sys_mhz=100.0)
    assert default_hardware(voltage=0.9, f_sys_mhz=50.0).clock_mhz == 50.0
    with pytest.raises(ConfigError, match="v_min"):
        hardware_from_dict({"macro": {"v_min": 1.2, "v_max": 1.0}, "voltage": 1.1})


def test_wrong_format_or_version() -> None:
    with pytest.raises(ConfigError, match=f"version 99.*reads version {HW_VERSION}"):
        hardware_from_dict({"format": "flexspim-hardware", "version": 99})
    with pytest.raises(ConfigError, match="not a hardware description"):
        hardware_from_dict({"format": "flexspim-network", "version": 1})


@settings(max_examples=15, deadline=None)
@given(rows=st.integers(1, 4096), cols=st.integers(1, 1024),
       voltage=st.floats(0.9, 1.1), saving=st.floats(0, 1), suffix=st.sampled_from(
           [".yaml", ".toml", ".yml"]))
def test_round_trip(tmp_path_factory: pytest.TempPathFactory, rows: int, cols: int,
                    voltage: float, saving: float, suffix: str) -> None:
    hw = Hardware(macro=MacroSpec(rows=rows, cols=cols),
                  macro_energy=MacroEnergy(standby_saving=saving), voltage=voltage)
    path = tmp_path_factory.mktemp("hw") / f"hw{suffix}"
    save_hardware(hw, path)
    assert load_hardware(path) == hw
    assert hardware_from_dict(hardware_to_dict(hw)) == hw


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such hardware file"):
        load_hardware(tmp_path / "missing.yaml")
    bad = tmp_path / "hw.json"
    bad.write_text("{}")
    with pytest.raises(ConfigError, match="unknown hardware file type"):
        load_hardware(bad)
    broken = tmp_path / "hw.yaml"
    broken.write_text("macro: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_hardware(broken)
    typo = tmp_path / "hw.toml"
    typo.write_text("[macro]\nrowz = 3\n")
    with pytest.raises(ConfigError, match=rf"{typo.name}.*did you mean 'rows'"):
        load_hardware(typo)


def test_hardware_is_frozen() -> None:
    hw = default_hardware()
    with pytest.raises(dataclasses.FrozenInstanceError):
        hw.voltage = 1.0  # type: ignore[misc]


def test_parameter_table_in_docs_is_current() -> None:
    """docs/parameters.md holds the table generated from the hardware dataclasses, and every
    parameter has a source."""
    from pathlib import Path

    from flexspim.hw.spec import parameter_rows, parameters_markdown

    hw = default_hardware()
    assert all(source for _, _, _, source in parameter_rows(hw))
    doc = (Path(__file__).parent.parent / "docs" / "parameters.md").read_text()
    assert parameters_markdown(hw) in doc, "regenerate the table in docs/parameters.md"


# ----------------------------------------------------------------------------- presets

def test_presets_load_by_name_and_flexspim_is_the_default() -> None:
    from flexspim.hw import load_preset, preset_names

    assert preset_names() == ("flexspim", "spidr")
    assert load_preset("flexspim") == default_hardware() == load_hardware("flexspim")
    spidr = load_preset("SpiDR")
    assert spidr == load_hardware("spidr")
    assert (spidr.name, spidr.macro.technology_nm, spidr.voltage) == ("SpiDR", 65, 0.85)
    assert spidr.clock_mhz == 200.0
    assert (default_hardware().name, default_hardware().macro.technology_nm) == ("FlexSpIM", 40)
    with pytest.raises(ConfigError, match="unknown; the presets are flexspim, spidr"):
        load_preset("loihi")


def test_a_preset_round_trips_through_a_file(tmp_path: Path) -> None:
    from flexspim.hw import load_preset

    spidr = load_preset("spidr")
    save_hardware(spidr, tmp_path / "spidr.toml")
    assert load_hardware(tmp_path / "spidr.toml") == spidr


def test_a_file_wins_over_a_preset_of_its_name(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="no such hardware file.*name a preset: flexspim, spidr"):
        load_hardware("spidr2")
    with pytest.raises(ConfigError, match="no such hardware file"):
        load_hardware("spidr.yaml")     # a path, not a preset name
    (tmp_path / "spidr").write_text("voltage: 1.0\n")
    with pytest.raises(ConfigError, match="unknown hardware file type"):
        load_hardware("spidr")


def test_spidr_preset_states_a_source_for_every_value() -> None:
    """Every field the SpiDR file sets has its source: SpiDR's paper (naming arXiv:2411.02854),
    a scaling rule, or an assumption that says why; the rest are marked FlexSpIM defaults."""
    from flexspim.hw import preset_info

    p = preset_info("spidr")
    assert "arXiv:2411.02854" in p.description and "5 TOPS/W" in p.description
    kinds = {name: p.kind(name) for name in p.sources}
    assert {"paper", "scaled", "assumption", "FlexSpIM default"} == set(kinds.values())
    for name in p.written:
        text = p.sources[name]
        assert kinds[name] in ("paper", "scaled", "assumption"), (name, text)
        if kinds[name] == "paper":
            assert text.startswith("SpiDR paper (arXiv:2411.02854)"), name
        elif kinds[name] == "assumption":
            assert "SpiDR" in text or "FlexSpIM" in text, name   # says what it stands in for
        else:
            assert "Stillmaker & Baas" in text or "e_read_pj_per_bit" in text \
                or "65 nm" in text, name
    assert "65 nm TSMC low-power" in p.sources["macro.technology_nm"]
    assert "IMPULSE" in p.sources["voltage"] and "IMPULSE" in p.sources["macro.f_sys_max_mhz"]
    assert kinds["system.n_macros"] == "FlexSpIM default"
    assert p.sources["system.n_macros"].startswith("FlexSpIM default kept")


def test_flexspim_preset_sources_are_the_defaults_sources() -> None:
    from flexspim.hw import preset_info

    p = preset_info("flexspim")
    assert p.written == frozenset()
    assert dict(p.sources) == {n: s for n, _, _, s in parameter_rows(default_hardware())}


def test_a_preset_without_a_source_is_refused() -> None:
    from flexspim.hw.preset import preset_from_document

    doc = {"name": "Chip", "voltage": 1.0, "sources": {"name": "Chip paper: its title"}}
    with pytest.raises(ConfigError, match=r"x\.yaml: no source for voltage; add each"):
        preset_from_document(doc, "x", "x.yaml")
    doc["sources"]["voltage"] = "assumption: a round number"
    p = preset_from_document(doc, "x", "x.yaml")
    assert (p.kind("name"), p.kind("voltage"), p.kind("macro.rows")) == (
        "paper", "assumption", "FlexSpIM default")


@pytest.mark.parametrize(("sources", "pattern"), [
    ({"macro.colls": "x"}, r"unknown hardware field 'macro\.colls'; did you mean 'macro\.cols'"),
    ({"voltage": ""}, r"'sources\.voltage' must be non-empty text"),
    ("paper", "'sources' must be a mapping"),
])
def test_sources_in_a_file_are_checked(sources: object, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        hardware_from_dict({"voltage": 1.0, "sources": sources}, source="hw.yaml")


def test_documented_file_loads_like_the_bare_one() -> None:
    doc = {"voltage": 1.0, "description": "my chip", "sources": {"voltage": "measured"}}
    assert hardware_from_dict(doc) == default_hardware(voltage=1.0)
    with pytest.raises(ConfigError, match="'description' must be text"):
        hardware_from_dict({"description": 3})


@pytest.mark.parametrize("name", ["", "two\nlines", 7])
def test_the_chip_name_is_one_line_of_text(name: object) -> None:
    with pytest.raises(ConfigError, match="'name' .*expected one line of text"):
        hardware_from_dict({"name": name})


def test_parameter_page_lists_every_preset() -> None:
    """docs/parameters.md holds each preset's generated table (values, kinds, sources)."""
    from flexspim.hw import preset_info, preset_markdown

    doc = (Path(__file__).parent.parent / "docs" / "parameters.md").read_text()
    assert preset_markdown(preset_info("spidr")) in doc, "regenerate docs/parameters.md"
