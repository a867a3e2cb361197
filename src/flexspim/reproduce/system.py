"""The paper-scale workload of Fig. 7 (docs/reproduce.md, "The paper-scale workload"), for the
benchmarks and scripts that run it outside ``reproduce``: the calibrated network, its random
inputs, and the hardware with N macros.

The figures themselves are computed point by point (:mod:`flexspim.reproduce.points`).
"""

from __future__ import annotations

from flexspim.compile import Activity
from flexspim.mapped import measured_activity, record
from flexspim.net.network import IntNetwork
from flexspim.reproduce.points import with_system
from flexspim.reproduce.workloads import (
    CALIBRATION,
    N_TIMESTEPS,
    PAPER_SCALE_NET,
    REFERENCE_SPARSITY,
    calibrate,
    random_inputs,
)
from flexspim.system.trace import Trace

__all__ = ["CALIBRATION", "N_TIMESTEPS", "REFERENCE_SPARSITY", "paper_workload", "random_inputs",
           "with_system", "workload_trace"]


def paper_workload() -> tuple[IntNetwork, list[float]]:
    """The paper-scale network with thresholds calibrated as :data:`CALIBRATION` says; returns
    the network and the hidden densities reached."""
    thresholds, densities = calibrate(PAPER_SCALE_NET)
    return PAPER_SCALE_NET.build(thresholds), densities


def workload_trace(net: IntNetwork, spikes: object) -> tuple[Trace, Activity]:
    """The activity trace of ``net`` on ``spikes`` (simulated once, replayed on every mapping)
    and the activity it measures."""
    trace = record(net, spikes)
    return trace, measured_activity(net, trace)
