"""The system engine (docs/system-model.md): executes a compiled mapping on an event trace over
the mapping's macros and counts every unit of work from the executed events.

:func:`run_system` runs it (``mode="fast"`` or ``"bitlevel"``, same results and counts) and
returns a :class:`SystemRun`: the simulation result and the
:class:`~flexspim.energy.counts.WorkCounts`; :mod:`flexspim.energy.system` prices them.
"""

from flexspim.system.engine import MODES, SystemRun, run_system

__all__ = ["MODES", "SystemRun", "run_system"]
