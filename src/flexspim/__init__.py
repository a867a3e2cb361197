"""flexspim: design and evaluate event-based SNN accelerators built from FlexSpIM
digital SRAM compute-in-memory macros (arXiv 2410.23082, ISCAS 2025).

The package is laid out in the order data flows (see ``docs/architecture.md``)::

    hw -> macro -> energy.ops -> data -> net -> train -> compile -> sim -> system
       -> energy.system -> mapped -> report -> dse -> results / demo / reproduce -> cli

A module imports only from the parts before it (and ``hw``, ``errors``, ``_io``), with no import
circle, as ``tests/test_architecture.py`` checks.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
