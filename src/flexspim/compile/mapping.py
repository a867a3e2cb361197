"""The compiled mapping (hand-off from ``compile`` to the system engine) and its file.

File format ``flexspim-mapping`` version 3 (docs/formats.md): one JSON object
``{"format": "flexspim-mapping", "version": 3, "policy": ..., "network": ..., "n_macros": ...,
"rows": ..., "cols": ..., "scratch_rows": ..., "hardware": {...}, "search": {...},
"layers": [{...}, ...]}`` whose layer entries hold the fields of :class:`LayerMapping` (tiles
as lists of objects). Version 3 records the hardware the mapping was compiled for (so a mapped
run never guesses it) and the exact bits each memory level holds; versions 1 and 2 are refused
with a message to recompile. Written atomically.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Any

from flexspim._io import check_versioned, read_json, versioned, write_json
from flexspim.compile.geometry import Stationary
from flexspim.errors import ConfigError, FormatError
from flexspim.hw import Hardware, hardware_from_dict, hardware_to_dict

MAPPING_FORMAT = "flexspim-mapping"
MAPPING_VERSION = 3


@dataclass(frozen=True)
class Tile:
    """Rows ``[row_start, row_stop)`` x columns ``[col_start, col_stop)`` of macro ``macro``
    holding ``groups`` row groups of one layer's stationary operand, one after the other.

    The resident groups of a layer (in increasing group index) fill its tiles in order."""

    macro: int
    row_start: int
    row_stop: int
    col_start: int
    col_stop: int
    groups: int

    @property
    def rows(self) -> int:
        return self.row_stop - self.row_start


@dataclass(frozen=True)
class LayerMapping:
    """How one spiking layer is mapped (docs/compiler.md; group numbering in
    :mod:`flexspim.compile.geometry`).

    - ``stationary``: ``"weights"`` (WS) or ``"membranes"`` (OS); the other operand streams.
    - ``cols``: columns per SOP lane; ``weight_shape``/``membrane_shape`` = (rows, cols) of one
      operand; ``lanes`` per row; ``pack`` taps (WS) or x positions (OS) side by side in a row
      group of ``group_lanes`` lanes (the other columns are in standby).
    - ``groups`` row groups of ``rows_per_group`` rows hold the whole stationary operand;
      ``resident_groups`` of them sit in the arrays (``tiles``), holding ``resident_bits``; the
      rest is spilled, and ``spilled_buffer_groups`` of the spilled ones (``spilled_buffer_bits``)
      are in the buffer, the others in DRAM.
    - The streamed operand is kept in memory as ``memory_groups`` unpacked groups;
      ``streamed_buffer_groups`` of them (``streamed_buffer_bits``) are in the buffer, the rest
      in DRAM.
    - Which groups: the largest first, evenly spread among equal sizes
      (:func:`~flexspim.compile.groups.select_groups`); the bit counts are exact (groups differ
      in size where a channel group or a packed block is partial).
    - ``home_macro``: the macro whose scratch rows process spilled groups, and whose comparator
      checks membranes kept outside the arrays.
    """

    name: str
    index: int
    stationary: Stationary
    cols: int
    weight_shape: tuple[int, int]
    membrane_shape: tuple[int, int]
    lanes: int
    n_weights: int
    n_neurons: int
    w_bits: int
    v_bits: int
    groups: int
    rows_per_group: int
    resident_groups: int
    resident_bits: int
    tiles: tuple[Tile, ...]
    home_macro: int
    pack: int = 1
    group_lanes: int = 0
    memory_groups: int = 0
    streamed_buffer_groups: int = 0
    spilled_buffer_groups: int = 0
    streamed_buffer_bits: int = 0
    spilled_buffer_bits: int = 0

    @property
    def weight_bits(self) -> int:
        return self.n_weights * self.w_bits

    @property
    def membrane_bits(self) -> int:
        return self.n_neurons * self.v_bits

    @property
    def stationary_bits(self) -> int:
        """Bits of the stationary operand (resident or not)."""
        return self.weight_bits if self.stationary == "weights" else self.membrane_bits

    @property
    def streamed_bits(self) -> int:
        """Bits of the streamed operand."""
        return self.membrane_bits if self.stationary == "weights" else self.weight_bits

    @property
    def stationary_operands(self) -> int:
        """Number of stationary operands (resident or not)."""
        return self.n_weights if self.stationary == "weights" else self.n_neurons

    @property
    def resident_fraction(self) -> float:
        """Fraction of the stationary operand's bits held in the arrays (0..1)."""
        return self.resident_bits / self.stationary_bits if self.stationary_bits else 1.0

    @property
    def resident_operands(self) -> int:
        """Stationary operands held in the arrays."""
        width = self.w_bits if self.stationary == "weights" else self.v_bits
        return self.resident_bits // width

    @property
    def spilled_bits(self) -> int:
        """Stationary-operand bits spilled to the buffer or DRAM."""
        return self.stationary_bits - self.resident_bits

    @property
    def spilled_groups(self) -> int:
        return self.groups - self.resident_groups

    @property
    def streamed_dram_bits(self) -> int:
        return self.streamed_bits - self.streamed_buffer_bits

    @property
    def spilled_dram_bits(self) -> int:
        return self.spilled_bits - self.spilled_buffer_bits

    @property
    def stationary_fraction(self) -> float:
        """Resident stationary bits / all operand bits (weights + membranes) of the layer."""
        total = self.weight_bits + self.membrane_bits
        return self.resident_bits / total if total else 0.0

    @property
    def stationary_rows(self) -> int:
        """Array rows holding the resident part."""
        return self.resident_groups * self.rows_per_group


@dataclass(frozen=True, eq=False)
class Mapping:
    """A network compiled onto ``n_macros`` macros of ``rows x cols`` by ``policy``.

    Every macro reserves rows ``[0, scratch_rows)`` as scratch rows for streamed operands
    (layers run one at a time, so they share them). ``search`` holds what the policy reports
    (for ``optimal``: solver status, objective and solve time). ``hardware`` is the hardware the
    mapping was compiled for (None only for mappings written by hand).
    """

    policy: str
    n_macros: int
    rows: int
    cols: int
    scratch_rows: int
    layers: tuple[LayerMapping, ...]
    network: str = "network"
    search: dict[str, Any] = field(default_factory=dict)
    hardware: Hardware | None = None

    @property
    def stationary_fraction(self) -> float:
        """Stationary-operand bits held in the arrays / all operand bits of the network."""
        total = sum(lm.weight_bits + lm.membrane_bits for lm in self.layers)
        return sum(lm.resident_bits for lm in self.layers) / total if total else 0.0

    @property
    def resident_bits(self) -> int:
        return sum(lm.resident_bits for lm in self.layers)

    @property
    def resident_operands(self) -> int:
        """Stationary operands held in the arrays, all layers (paper Fig. 4 counts operands)."""
        return sum(lm.resident_operands for lm in self.layers)

    @property
    def whole_layer_operands(self) -> int:
        """Stationary operands of the layers whose whole stationary operand is resident."""
        return sum(lm.stationary_operands for lm in self.layers
                   if lm.resident_groups == lm.groups)

    def layer(self, name: str) -> LayerMapping:
        """The mapping of layer ``name``."""
        for lm in self.layers:
            if lm.name == name:
                return lm
        raise FormatError(f"mapping has no layer '{name}'; layers: "
                          f"{', '.join(lm.name for lm in self.layers)}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready document (format name and version included)."""
        layers = []
        for lm in self.layers:
            d: dict[str, Any] = {}
            for f in fields(lm):
                val = getattr(lm, f.name)
                if f.name == "tiles":
                    val = [{g.name: getattr(t, g.name) for g in fields(Tile)} for t in val]
                elif isinstance(val, tuple):
                    val = list(val)
                d[f.name] = val
            layers.append(d)
        return versioned(MAPPING_FORMAT, MAPPING_VERSION, {
            "policy": self.policy, "network": self.network, "n_macros": self.n_macros,
            "rows": self.rows, "cols": self.cols, "scratch_rows": self.scratch_rows,
            "stationary_fraction": self.stationary_fraction,
            "hardware": None if self.hardware is None else hardware_to_dict(self.hardware),
            "search": dict(self.search), "layers": layers})

    @classmethod
    def from_dict(cls, doc: Any, where: str = "<dict>") -> Mapping:
        """Rebuild a mapping from :meth:`to_dict`'s document; FormatError names what is wrong."""
        doc = check_versioned(doc, MAPPING_FORMAT, MAPPING_VERSION, where)
        try:
            layers = tuple(_layer_from_dict(d, where) for d in doc["layers"])
            hw = doc.get("hardware")
            m = cls(policy=str(doc["policy"]), n_macros=int(doc["n_macros"]),
                    rows=int(doc["rows"]), cols=int(doc["cols"]),
                    scratch_rows=int(doc["scratch_rows"]), layers=layers,
                    network=str(doc.get("network", "network")),
                    search=dict(doc.get("search", {})),
                    hardware=None if hw is None else hardware_from_dict(hw, f"{where}: hardware"))
        except ConfigError as exc:
            raise FormatError(f"{where}: the recorded hardware is not valid ({exc}); recompile "
                              f"with 'flexspim compile'") from None
        except KeyError as exc:
            raise FormatError(f"{where}: mapping field {exc} missing; recompile with "
                              f"'flexspim compile'") from None
        except (TypeError, ValueError, AttributeError) as exc:
            raise FormatError(f"{where}: malformed mapping field ({exc})") from None
        _check_consistent(m, where)
        return m


def _layer_from_dict(d: Any, where: str) -> LayerMapping:
    if not isinstance(d, dict):
        raise FormatError(f"{where}: each entry of 'layers' must be a mapping, got {d!r:.40}")
    names = {f.name for f in fields(LayerMapping)}
    unknown = set(d) - names
    if unknown:
        raise FormatError(f"{where}: unknown layer field(s) {', '.join(sorted(unknown))} in "
                          f"layer '{d.get('name')}'")
    kw = dict(d)
    kw["tiles"] = tuple(Tile(**{k: int(v) for k, v in t.items()}) for t in d["tiles"])
    kw["weight_shape"] = tuple(int(x) for x in d["weight_shape"])
    kw["membrane_shape"] = tuple(int(x) for x in d["membrane_shape"])
    for k in ("index", "cols", "lanes", "n_weights", "n_neurons", "w_bits", "v_bits", "groups",
              "rows_per_group", "resident_groups", "resident_bits", "home_macro", "pack",
              "group_lanes", "memory_groups", "streamed_buffer_groups", "spilled_buffer_groups",
              "streamed_buffer_bits", "spilled_buffer_bits"):
        kw[k] = int(d[k])
    kw["name"], kw["stationary"] = str(d["name"]), str(d["stationary"])
    return LayerMapping(**kw)


def _check_consistent(m: Mapping, where: str) -> None:
    for lm in m.layers:
        if lm.stationary not in ("weights", "membranes"):
            raise FormatError(f"{where}: layer '{lm.name}': stationary = {lm.stationary!r}, "
                              f"expected 'weights' or 'membranes'")
        if not 0 <= lm.resident_groups <= lm.groups:
            raise FormatError(f"{where}: layer '{lm.name}': resident_groups = "
                              f"{lm.resident_groups} outside [0, groups = {lm.groups}]")
        for name, lo, hi in (("streamed_buffer_groups", 0, lm.memory_groups),
                             ("spilled_buffer_groups", 0, lm.spilled_groups),
                             ("group_lanes", 1, lm.lanes), ("pack", 1, lm.group_lanes),
                             ("resident_bits", 0, lm.stationary_bits),
                             ("streamed_buffer_bits", 0, lm.streamed_bits),
                             ("spilled_buffer_bits", 0, lm.spilled_bits)):
            if not lo <= getattr(lm, name) <= hi:
                raise FormatError(f"{where}: layer '{lm.name}': {name} = {getattr(lm, name)} "
                                  f"outside [{lo}, {hi}]; recompile the mapping")
        if sum(t.groups for t in lm.tiles) != lm.resident_groups:
            raise FormatError(f"{where}: layer '{lm.name}': tiles hold "
                              f"{sum(t.groups for t in lm.tiles)} groups, resident_groups = "
                              f"{lm.resident_groups}")
        for t in lm.tiles:
            if not (0 <= t.macro < m.n_macros and 0 <= t.row_start < t.row_stop <= m.rows
                    and 0 <= t.col_start < t.col_stop <= m.cols):
                raise FormatError(f"{where}: layer '{lm.name}': tile {t} lies outside "
                                  f"{m.n_macros} macro(s) of {m.rows} x {m.cols}")
        if not 0 <= lm.home_macro < m.n_macros:
            raise FormatError(f"{where}: layer '{lm.name}': home_macro = {lm.home_macro} "
                              f"outside [0, {m.n_macros})")


def save_mapping(mapping: Mapping, path: str | os.PathLike[str]) -> None:
    """Write ``mapping`` as a ``flexspim-mapping`` JSON file (atomically)."""
    write_json(path, mapping.to_dict())


def load_mapping(path: str | os.PathLike[str]) -> Mapping:
    """Read a ``flexspim-mapping`` JSON file written by :func:`save_mapping`."""
    return Mapping.from_dict(read_json(path), str(path))
