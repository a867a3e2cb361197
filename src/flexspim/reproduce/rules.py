"""The controller rule sets the figures run under, as data (docs/reproduce.md, "Rule sets").

A rule set fixes the four controller rules of ``hw.system.controller`` (docs/system-model.md,
"Controller rules"). ``paper`` is the flow the paper describes (Fig. 1c: a layer's input events
processed as they arrive, one streamed weight slice and one membrane slice in each macro's
scratch rows); the others are realistic controllers the paper does not describe, each stated
with what it assumes. The headline figures use :data:`HEADLINE_RULES`; which realistic rule set
is the best is measured (:func:`best_realistic`), never assumed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flexspim.errors import ConfigError
from flexspim.hw import Hardware


@dataclass(frozen=True)
class RuleSet:
    """One setting of the controller rules.

    ``event_order``: ``arrival`` (paper Fig. 1c) or ``target`` (units sorted by the streamed
    slice they need); ``scratch_slices``: streamed slices kept per macro, ``1`` (the paper's
    flow) or ``"auto"`` (every free row holds a slot: one chip-wide LRU pool, slices moving
    between macros over the on-chip bus); ``compare``: ``all`` (paper) or ``active``;
    ``scratch_reuse``: a slice still in its slot is not loaded again. ``realistic``: a
    controller a chip could build beyond the paper's description (``paper`` is not one: it is
    the reference); ``assumes``: what it takes for granted, in words.
    """

    name: str
    event_order: str
    scratch_slices: int | str
    compare: str
    scratch_reuse: bool
    realistic: bool
    assumes: str

    def controller(self) -> dict[str, Any]:
        """The ``hw.system.controller`` fields this rule set sets."""
        return {"event_order": self.event_order, "scratch_slices": self.scratch_slices,
                "compare": self.compare, "scratch_reuse": self.scratch_reuse}

    def apply(self, hw: Hardware) -> Hardware:
        """``hw`` with this rule set's controller."""
        ctrl = dataclasses.replace(hw.system.controller, **self.controller())
        return hw.with_(system=dataclasses.replace(hw.system, controller=ctrl))


#: Every rule set the figures run under, in the order they are shown.
RULE_SETS: tuple[RuleSet, ...] = (
    RuleSet("paper", "arrival", 1, "all", True, False,
            "the paper's flow (Fig. 1c): a layer's input events processed one after the other as "
            "they arrive, one streamed weight slice and one membrane slice held in each macro's "
            "reserved scratch rows, every membrane compared after each timestep"),
    RuleSet("arrival-auto", "arrival", "auto", "all", True, True,
            "the paper's order, and a controller that keeps streamed slices in every array row "
            "no resident operand uses: one least-recently-used pool over all macros, a slice "
            "moving between macros over the on-chip bus (system_energy.transfer_pj_per_bit)"),
    RuleSet("target-auto", "target", "auto", "all", True, True,
            "as arrival-auto, and the controller sorts a timestep's units by the streamed slice "
            "they need (and tiles spilled groups one group at a time), so a slice is loaded once "
            "per timestep while its units run; needs a buffer of the timestep's events"),
)

#: The rule set of the headline figures and keys: the paper's flow, because the figures set
#: the model beside the paper's claims, which the paper makes for its own flow.
HEADLINE_RULES = "paper"


def rule_set(name: str) -> RuleSet:
    """The rule set called ``name``; ConfigError listing the names otherwise."""
    for r in RULE_SETS:
        if r.name == name:
            return r
    raise ConfigError(f"unknown rule set '{name}'; use one of "
                      f"{', '.join(r.name for r in RULE_SETS)}")


def realistic_names() -> tuple[str, ...]:
    """Names of the realistic rule sets."""
    return tuple(r.name for r in RULE_SETS if r.realistic)


def best_realistic(energy: Mapping[str, Mapping[str, float]]) -> str:
    """The realistic rule set whose best policy spends the least energy: ``energy[rules]
    [policy]`` (uJ) at one point (docs/reproduce.md, "Rule sets"); ties go to the first in
    :data:`RULE_SETS`. ConfigError if no realistic rule set has a result."""
    best: tuple[float, str] | None = None
    for name in realistic_names():
        values = [e for e in energy.get(name, {}).values() if e is not None]
        if values and (best is None or min(values) < best[0]):
            best = (min(values), name)
    if best is None:
        raise ConfigError("no realistic rule set has a result at the reference point; run the "
                          "figures again")
    return best[1]
