"""Sweep points: the normalised parameter sets a sweep evaluates, and the hash that keys them.

A point's key is the SHA-256 of the canonical JSON of its normalised fields, the base hardware
description and the network's digest, so the same point always gets the same key (across runs,
processes and machines) and any change to what it means gives a new key.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from flexspim.dse.networks import NetworkRef
from flexspim.dse.spec import PARAMS, Range, SweepSpec
from flexspim.hw import Hardware, hardware_to_dict

Bits = int | tuple[int, ...] | None


@dataclass(frozen=True)
class SweepPoint:
    """One design point. ``None`` keeps the base value (hardware file, or the network's own).

    ``w_bits``/``v_bits``: one width for every spiking layer, or a tuple with one per layer
    (bits). ``buffer_kib`` in KiB, ``voltage`` in V, ``input_sparsity`` the fraction of input
    pixels and timesteps without an event (paper Fig. 7 sweeps 85-99%).
    """

    n_macros: int | None = None
    buffer_kib: float | None = None
    w_bits: Bits = None
    v_bits: Bits = None
    policy: str | None = None
    voltage: float | None = None
    input_sparsity: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields (tuples as lists)."""
        out = asdict(self)
        for k in ("w_bits", "v_bits"):
            if isinstance(out[k], tuple):
                out[k] = list(out[k])
        return out

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> SweepPoint:
        """Inverse of :meth:`to_dict`."""
        kw = {f.name: doc.get(f.name) for f in fields(cls)}
        for k in ("w_bits", "v_bits"):
            if isinstance(kw[k], list):
                kw[k] = tuple(int(x) for x in kw[k])
        return cls(**kw)


@dataclass(frozen=True)
class Task:
    """Everything a worker needs to evaluate one point (plain, picklable data)."""

    key: str
    point: SweepPoint
    hardware: Hardware
    network: NetworkRef
    evaluation: str
    n_timesteps: int
    samples: int
    seed: int


def point_key(point: SweepPoint, hardware: Hardware, network: NetworkRef, evaluation: str,
              n_timesteps: int, samples: int, seed: int) -> str:
    """The point's store key: a hex SHA-256 (first 32 digits) of everything that defines it."""
    doc = {
        "point": point.to_dict(),
        "hardware": hardware_to_dict(hardware),
        "network": {"kind": network.kind, "digest": network.digest},
        "evaluation": evaluation,
        "n_timesteps": n_timesteps,
        # the data sample matters only when simulating
        "samples": samples if evaluation == "simulate" else None,
        "seed": seed if evaluation == "simulate" else None,
    }
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def make_task(spec: SweepSpec, point: SweepPoint) -> Task:
    """The task of ``point`` in ``spec`` (its key computed)."""
    key = point_key(point, spec.hardware, spec.network, spec.evaluation, spec.n_timesteps,
                    spec.samples, spec.seed)
    return Task(key=key, point=point, hardware=spec.hardware, network=spec.network,
                evaluation=spec.evaluation, n_timesteps=spec.n_timesteps, samples=spec.samples,
                seed=spec.seed)


def _draw(rng: np.random.Generator, values: tuple[Any, ...] | Range) -> Any:
    if isinstance(values, Range):
        if values.integer:
            return int(rng.integers(int(values.low), int(values.high) + 1))
        return float(rng.uniform(values.low, values.high))
    return values[int(rng.integers(len(values)))]


def expand_points(spec: SweepSpec) -> list[SweepPoint]:
    """The points of a grid (every combination, in file order) or a seeded random sample.

    Random mode draws ``n_points`` distinct points with ``numpy.random.default_rng(seed)``; a
    space with fewer distinct points gives all of them. Mixed-precision mode starts from the
    single base point (the search adds the rest, see :mod:`flexspim.dse.mixed`).
    """
    names = [n for n in PARAMS if n in spec.space]
    if spec.mode == "grid" or spec.mode == "mixed_precision":
        lists = [spec.space[n] for n in names]
        return [SweepPoint(**dict(zip(names, combo, strict=True)))
                for combo in itertools.product(*lists)]  # type: ignore[arg-type]
    rng = np.random.default_rng(spec.seed)
    out: list[SweepPoint] = []
    seen: set[SweepPoint] = set()
    finite = all(not isinstance(spec.space[n], Range) for n in names)
    limit = 1
    for n in names:
        limit *= len(spec.space[n]) if finite else 1  # type: ignore[arg-type]
    target = min(spec.n_points, limit) if finite else spec.n_points
    attempts = 0
    while len(out) < target and attempts < 100 * spec.n_points + 1000:
        attempts += 1
        p = SweepPoint(**{n: _draw(rng, spec.space[n]) for n in names})
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out
