"""flexspim: design and evaluate event-based SNN accelerators built from FlexSpIM
digital SRAM compute-in-memory macros (arXiv 2410.23082, ISCAS 2025).

The package is laid out in the order data flows (see ``docs/architecture.md``)::

    hw -> macro -> energy.ops -> data -> net -> train -> compile -> sim
       -> energy.system -> report -> dse -> demo / cli

A module imports only from the parts before it (and ``hw``, ``errors``, ``_io``).
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
