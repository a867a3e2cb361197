"""Energy and latency per operation, the calibration on the paper, the characterisation."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flexspim.energy import ops
from flexspim.errors import ConfigError
from flexspim.hw import MacroEnergy, default_hardware
from flexspim.macro import MacroCounters, in_memory_add

HW09 = default_hardware(voltage=0.9)
HW11 = default_hardware(voltage=1.1)


def test_defaults_are_the_calibration_output() -> None:
    cal = ops.calibrate_macro_energy()
    default = MacroEnergy()
    for f in dataclasses.fields(MacroEnergy):
        assert getattr(default, f.name) == pytest.approx(getattr(cal, f.name), rel=2e-4), f.name


def test_calibration_follows_its_inputs() -> None:
    cal = ops.calibrate_macro_energy(power_high_mw=20.0, row_share=0.2)
    base = ops.calibrate_macro_energy()
    assert cal.e_row_pj > base.e_row_pj
    hw = default_hardware(voltage=1.1, macro_energy=cal)
    assert ops.full_activity_power_mw(hw) == pytest.approx(20.0, rel=1e-9)


def test_energy_per_sop_within_3_percent_of_the_paper() -> None:
    assert ops.pj_per_sop(HW09, w_bits=8, v_bits=16) == pytest.approx(5.7, rel=0.03)
    assert ops.pj_per_sop(HW11, w_bits=8, v_bits=16) == pytest.approx(7.2, rel=0.03)


def test_full_activity_power_inside_the_published_range() -> None:
    tol = 1e-4  # the defaults are the calibration rounded to 5 significant digits
    p09, p11 = ops.full_activity_power_mw(HW09), ops.full_activity_power_mw(HW11)
    assert p09 == pytest.approx(6.8, rel=tol) and p11 == pytest.approx(17.9, rel=tol)
    for v in (0.95, 1.0, 1.05):
        p = ops.full_activity_power_mw(default_hardware(voltage=v))
        assert 6.8 < p < 17.9


def test_row_op_energy_by_hand() -> None:
    me = HW11.macro_energy
    assert ops.voltage_scale(HW11) == pytest.approx(1.0)
    full = ops.row_op_energy_pj(HW11, 256)
    assert full == pytest.approx(256 * me.e_col_active_pj + me.e_row_pj)
    mixed = ops.row_op_energy_pj(HW11, 100)
    assert mixed == pytest.approx(100 * me.e_col_active_pj + 156 * me.e_col_active_pj * 0.13
                                  + me.e_row_pj)
    assert ops.row_op_energy_pj(HW11, 0, 0) == pytest.approx(me.e_row_pj)
    scale = (0.9 / 1.1) ** me.voltage_exponent
    assert ops.row_op_energy_pj(HW09, 256) == pytest.approx(full * scale)
    assert ops.row_io_energy_pj(HW11, read_bits=256, write_bits=10) == pytest.approx(
        256 * me.e_read_pj_per_bit + 10 * me.e_write_pj_per_bit)
    with pytest.raises(ConfigError, match="exceeds"):
        ops.row_op_energy_pj(HW11, 300)
    with pytest.raises(ConfigError, match="active_cols"):
        ops.row_op_energy_pj(HW11, -1)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 16), voltage=st.floats(0.9, 1.1))
def test_counters_energy_equals_row_op_energy(n: int, voltage: float) -> None:
    hw = default_hardware(voltage=voltage)
    counters = in_memory_add([0] * n, [0] * n, v_bits=16, w_bits=8).counters
    assert ops.counters_energy_pj(hw, counters) == pytest.approx(
        ops.row_op_energy_pj(hw, 16 * n))
    io = MacroCounters(row_reads=2, row_writes=3)
    assert ops.counters_energy_pj(hw, io) == pytest.approx(
        ops.row_io_energy_pj(hw, read_bits=2 * 256, write_bits=3 * 256))


def test_latency() -> None:
    assert ops.row_op_time_ns(HW09) == pytest.approx(1e3 / 75.5)
    assert ops.row_op_time_ns(HW11) == pytest.approx(1e3 / 157.0)
    fast_sys = default_hardware(voltage=1.1, f_sys_mhz=500.0, allow_extrapolation=True)
    assert ops.row_op_time_ns(fast_sys) == pytest.approx(5e3 / 942.0)  # 5 CIM phases


def test_leakage_scales_with_voltage() -> None:
    assert ops.leakage_power_uw(HW11) == pytest.approx(HW11.macro_energy.leakage_uw)
    assert ops.leakage_power_uw(HW09) == pytest.approx(HW11.macro_energy.leakage_uw * 0.9 / 1.1)


def test_pj_per_sop_counts_the_layout() -> None:
    # a half-filled row pays the row overhead and standby columns over fewer SOPs
    full = ops.pj_per_sop(HW09, w_bits=8, v_bits=16)
    half = ops.pj_per_sop(HW09, w_bits=8, v_bits=16, n_lanes=8)
    assert half > full
    # shape 2 x 8 with 32 lanes fills one row group exactly like 1 x 16 with 16 lanes
    assert ops.pj_per_sop(HW09, w_bits=8, v_bits=16, cols=8) == pytest.approx(full)
    with pytest.raises(ConfigError, match="no lanes"):
        ops.pj_per_sop(HW09, w_bits=8, v_bits=16, n_lanes=0)


def test_characterisation_from_the_model() -> None:
    res = ops.macro_characterisation(HW09)
    for key in ("pj_per_sop_8w16v_0v9", "pj_per_sop_8w16v_1v1", "standby_saving",
                "max_gain_vs_rowwise", "shape_spread_16b_32och", "full_power_mw_0v9",
                "full_power_mw_1v1"):
        assert key in res and key in res["paper"]
    assert res["standby_saving"] == pytest.approx(0.87)
    rows = {p["channels"]: p for p in res["channel_sweep"]}
    assert rows[1]["gain"] == pytest.approx(1.0)  # one lane: row-wise is the best shape
    assert res["max_gain_vs_rowwise"] == max(p["gain"] for p in res["channel_sweep"])
    e = [p["pj_per_sop"] for p in res["shape_sweep"]]
    assert res["shape_spread_16b_32och"] == pytest.approx(max(e) / min(e) - 1)
    # the numbers follow the parameters, they are not constants
    other = HW09.with_(macro_energy=dataclasses.replace(HW09.macro_energy, standby_saving=0.5,
                                                        e_row_pj=1.0))
    res2 = ops.macro_characterisation(other)
    assert res2["standby_saving"] == pytest.approx(0.5)
    assert res2["max_gain_vs_rowwise"] != pytest.approx(res["max_gain_vs_rowwise"])


# ----------------------------------------------------------------------------- another node

def test_technology_factor_is_the_published_polynomial() -> None:
    """Stillmaker & Baas's corrigendum evaluates the 65 nm energy polynomial at 1.3 V: 2.604."""
    assert ops.technology_energy_factor("65", 1.3) == pytest.approx(2.604, abs=5e-4)
    assert ops.node_energy_ratio("65", "LP45", 1.1) == pytest.approx(1.68075 / 1.21313)
    assert ops.node_energy_ratio("LP45", "LP45", 0.9) == 1.0
    with pytest.raises(ConfigError, match="technology node '28'.*known: 65, LP45"):
        ops.technology_energy_factor("28", 1.0)
    with pytest.raises(ConfigError, match="fitted over 0.5-1.5 V"):
        ops.node_energy_ratio("65", "LP45", 2.0)


def test_spidr_preset_is_flexspim_moved_to_65_nm() -> None:
    """The preset's energies are FlexSpIM's times the Stillmaker-Baas ratio (to rounding); the
    compare reads a row like e_read; everything else in MacroEnergy is FlexSpIM's."""
    from flexspim.hw import load_preset

    spidr = load_preset("spidr")
    ratio = ops.node_energy_ratio("65", "LP45", 1.1)
    want = ops.scale_macro_energy(MacroEnergy(), ratio)
    for f in dataclasses.fields(MacroEnergy):
        assert getattr(spidr.macro_energy, f.name) == pytest.approx(getattr(want, f.name),
                                                                    rel=1e-4), f.name
    assert spidr.system_energy.compare_pj_per_bit == spidr.macro_energy.e_read_pj_per_bit
    assert spidr.macro_energy.e_col_active_pj > MacroEnergy().e_col_active_pj


def test_spidr_energy_per_sop_at_its_reported_widths() -> None:
    """4-bit weights, 7-bit membranes: 36 lanes of 7 columns fill 252 of 256 columns; by hand
    from the preset's parameters, at 0.85 V."""
    from flexspim.hw import load_preset

    hw = load_preset("spidr")
    me = hw.macro_energy
    hand = (252 * me.e_col_active_pj + 4 * me.e_col_active_pj * (1 - me.standby_saving)
            + me.e_row_pj) / 36 * (0.85 / 1.1) ** me.voltage_exponent
    model = ops.pj_per_sop(hw, w_bits=4, v_bits=7)
    assert model == pytest.approx(hand, rel=1e-12)
    assert 3.1 < model < 3.3            # 0.31 TOPS/W at one operation per SOP
    flex = ops.pj_per_sop(default_hardware(voltage=0.9), w_bits=4, v_bits=7)
    assert model / flex == pytest.approx(ops.node_energy_ratio("65", "LP45", 1.1)
                                         * (0.85 / 0.9) ** me.voltage_exponent, rel=1e-5)


@pytest.mark.parametrize("v, tag", [(0.9, "0v9"), (1.1, "1v1"), (0.85, "0v85"), (1.0, "1v0")])
def test_voltage_tags(v: float, tag: str) -> None:
    assert ops.voltage_tag(v) == tag


def test_characterisation_of_another_chip_has_no_paper_column() -> None:
    """FlexSpIM's measured figures are not set beside SpiDR's model; the calibration rows are at
    the chip's own characterised supply."""
    from flexspim.hw import load_preset

    res = ops.macro_characterisation(load_preset("spidr"))
    assert res["chip"] == "SpiDR" and res["paper"] == {}
    assert res["supply_points_v"] == [0.85]
    assert "pj_per_sop_8w16v_0v85" in res and "pj_per_sop_8w16v_0v9" not in res
    rows = ops.characterisation_rows(res)
    assert all(paper == "-" for _, paper, _ in rows)
    assert rows[0][0] == "energy/SOP 8b W / 16b V at 0.85 V (pJ)"
    assert rows[1][0] == "power, full activity, 0.85 V / 200 MHz (mW)"
    flex_rows = ops.characterisation_rows(ops.macro_characterisation(HW09))
    assert [r[:2] for r in flex_rows[:4]] == [
        ("energy/SOP 8b W / 16b V at 0.9 V (pJ)", "5.7"),
        ("energy/SOP 8b W / 16b V at 1.1 V (pJ)", "7.2"),
        ("power, full activity, 0.9 V / 75.5 MHz (mW)", "6.8"),
        ("power, full activity, 1.1 V / 157 MHz (mW)", "17.9")]
