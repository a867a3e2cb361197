"""A mapped run: one home for compile -> execute -> price -> estimate (docs/system-model.md).

The demo, ``reproduce``, the sweeps and ``flexspim simulate --mapping`` all do the same steps:
execute a mapping on the system engine, price the counts, estimate the same mapping
analytically for the activity the run measured, and compare. :func:`run_mapped` does them once
and returns a :class:`MappedRun`; :func:`compile_and_run` compiles first. The program is built
(and the mapping checked) once; a :class:`~flexspim.system.trace.Trace` recorded once replays on
every mapping, so a sweep over mappings simulates each input only once.

The mapping records the hardware it was compiled for, and that is the hardware of the run.
"""

from flexspim.mapped.run import (
    MappedRun,
    compile_and_run,
    estimate_cost,
    measured_activity,
    record,
    run_mapped,
)

__all__ = ["MappedRun", "compile_and_run", "estimate_cost", "measured_activity", "record",
           "run_mapped"]
