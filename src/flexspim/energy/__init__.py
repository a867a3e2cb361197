"""Cost model (docs/design.md §4 ``energy``): energy and latency from counts and the hardware.

- :mod:`flexspim.energy.ops` - the macro half: energy and time of one row operation, row read
  or write, energy per SOP of a lane layout, power at full activity, leakage, the calibration on
  the paper's figures and the ``macro-sweep`` characterisation (docs/energy.md).
- :mod:`flexspim.energy.system` - the system half: energy and latency breakdown of a simulated
  network on a mapping (buffer, DRAM, routing, leakage).

This package module imports neither, so each part is loaded only by those that need it.
"""
