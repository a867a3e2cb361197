"""What ``reproduce`` computes: the grids of ``--quick`` and of the full run, as data
(docs/reproduce.md, "What is computed"; chosen before any figure was computed on them).

A :class:`Plan` names Fig. 4's networks, Fig. 7's grid and the workload map's grid;
:func:`plan_tasks` turns it into points (:mod:`flexspim.reproduce.points`), every policy and
every rule set at every grid point.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from flexspim.compile import POLICIES
from flexspim.hw import Hardware
from flexspim.reproduce.points import Point, PointTask, make_task
from flexspim.reproduce.rules import HEADLINE_RULES, RULE_SETS
from flexspim.reproduce.workloads import (
    HEADLINE_NET,
    PAPER_SCALE_NET,
    REFERENCE_SPARSITY,
    NetSpec,
)

#: Macros of Fig. 4 (the paper's Fig. 4 maps its network onto two macros).
FIG4_MACROS = 2
#: Buffer (KiB) of the workload map and of Fig. 7's reference point (the default hardware's).
REFERENCE_BUFFER_KIB = 256.0
#: Macros of Fig. 7's reference point (the paper's saving peaks at 16-18 macros).
REFERENCE_MACROS = 16


@dataclass(frozen=True)
class Fig7Grid:
    """Fig. 7b-d on ``network``: every (sparsity, buffer, macros) of the product, plus the
    ``extra`` (sparsity, buffer KiB, macros) triples."""

    network: NetSpec
    macros: tuple[int, ...]
    sparsities: tuple[float, ...]
    buffers_kib: tuple[float, ...]
    extra: tuple[tuple[float, float, int], ...] = ()

    def points(self) -> list[tuple[float, float, int]]:
        """(input sparsity, buffer KiB, macros), each once, in computing order."""
        out = [(s, b, n) for s in self.sparsities for b in self.buffers_kib for n in self.macros]
        return out + [e for e in self.extra if e not in out]


@dataclass(frozen=True)
class MapGrid:
    """The workload map: the ``scnn`` shape at every input size x base width x macro count, at
    one input sparsity and buffer."""

    inputs: tuple[int, ...]
    bases: tuple[int, ...]
    macros: tuple[int, ...]
    sparsity: float = REFERENCE_SPARSITY
    buffer_kib: float = REFERENCE_BUFFER_KIB

    def networks(self) -> list[NetSpec]:
        return [NetSpec("scnn", h, b) for h in self.inputs for b in self.bases]


@dataclass(frozen=True)
class Plan:
    """Everything one run computes; every point with every policy and every rule set."""

    name: str
    fig4_networks: tuple[NetSpec, ...]
    fig7: Fig7Grid
    workload_map: MapGrid
    policies: tuple[str, ...] = POLICIES
    rules: tuple[str, ...] = field(default_factory=lambda: tuple(r.name for r in RULE_SETS))

    def networks(self) -> list[NetSpec]:
        """Every network the plan runs, each once."""
        nets = [*self.fig4_networks, self.fig7.network, *self.workload_map.networks()]
        return list(dict.fromkeys(nets))


QUICK = Plan(
    "quick", fig4_networks=(HEADLINE_NET,),
    fig7=Fig7Grid(HEADLINE_NET, macros=(1, 2, 16), sparsities=(REFERENCE_SPARSITY,),
                  buffers_kib=(REFERENCE_BUFFER_KIB,),
                  extra=((0.99, REFERENCE_BUFFER_KIB, 16),)),
    workload_map=MapGrid(inputs=(32,), bases=(16, 32), macros=(1, 4, 16, 64)))

PAPER_SCALE = Plan(
    "paper-scale", fig4_networks=(HEADLINE_NET, PAPER_SCALE_NET),
    fig7=Fig7Grid(PAPER_SCALE_NET, macros=(1, 2, 4, 8, 16, 18, 32),
                  sparsities=(REFERENCE_SPARSITY,), buffers_kib=(REFERENCE_BUFFER_KIB,),
                  extra=((0.85, REFERENCE_BUFFER_KIB, 16), (0.99, REFERENCE_BUFFER_KIB, 16),
                         (REFERENCE_SPARSITY, 0.0, 16))),
    workload_map=MapGrid(inputs=(32, 64, 128), bases=(16, 32),
                         macros=(1, 2, 4, 8, 16, 32, 64)))

FULL = Plan(
    "full", fig4_networks=(HEADLINE_NET, PAPER_SCALE_NET),
    fig7=Fig7Grid(PAPER_SCALE_NET, macros=(1, 2, 4, 8, 16, 18, 32),
                  sparsities=(0.85, 0.90, 0.95, 0.99), buffers_kib=(0.0, REFERENCE_BUFFER_KIB)),
    workload_map=MapGrid(inputs=(32, 64, 128), bases=(16, 32, 64),
                         macros=(1, 2, 4, 8, 16, 32, 64)))


#: Every plan by name (``flexspim reproduce --plan``).
PLANS: dict[str, Plan] = {p.name: p for p in (QUICK, PAPER_SCALE, FULL)}


def calibration_tasks(plan: Plan, hw: Hardware) -> dict[NetSpec, PointTask]:
    """One calibration point per network of the plan."""
    return {n: make_task(Point("calibrate", n), hw) for n in plan.networks()}


def fig4_tasks(plan: Plan, hw: Hardware, thresholds: dict[NetSpec, tuple[int, ...]]
               ) -> dict[tuple[str, str, bool], PointTask]:
    """(network name, policy, whole_layers) -> point, on :data:`FIG4_MACROS` macros under the
    headline rule set, for the activity measured at the reference sparsity."""
    return {(n.name, p, whole): make_task(Point(
        "fig4", n, thresholds[n], FIG4_MACROS, REFERENCE_BUFFER_KIB, REFERENCE_SPARSITY, p,
        HEADLINE_RULES, whole), hw)
        for n in plan.fig4_networks for p in plan.policies for whole in (False, True)}


def fig7_tasks(plan: Plan, hw: Hardware, thresholds: dict[NetSpec, tuple[int, ...]]
               ) -> dict[tuple[float, float, int, str, str], PointTask]:
    """(sparsity, buffer, macros, rules, policy) -> point of Fig. 7."""
    g = plan.fig7
    return {(s, b, n, r, p): make_task(Point("run", g.network, thresholds[g.network], n, b, s,
                                             p, r), hw)
            for s, b, n in g.points() for r in plan.rules for p in plan.policies}


def map_tasks(plan: Plan, hw: Hardware, thresholds: dict[NetSpec, tuple[int, ...]],
              rules: Sequence[str]) -> dict[tuple[int, int, int, str, str], PointTask]:
    """(input size, base width, macros, rules, policy) -> point of the workload map, under
    ``rules`` (the headline and the best realistic rule sets)."""
    g = plan.workload_map
    return {(net.input_hw, net.base, n, r, p): make_task(Point(
        "run", net, thresholds[net], n, g.buffer_kib, g.sparsity, p, r), hw)
        for net in g.networks() for n in g.macros for r in rules for p in plan.policies}
