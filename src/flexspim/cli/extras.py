"""Which extra of flexspim brings each optional library, so that a command whose library is not
installed says what to install (one line, exit code 2) instead of showing a traceback.

The table mirrors ``[project.optional-dependencies]`` in ``pyproject.toml``;
``tests/test_packaging.py`` keeps the two equal.
"""

from __future__ import annotations

#: Import name -> (distribution name on PyPI, the extra of flexspim that installs it).
OPTIONAL_IMPORTS: dict[str, tuple[str, str]] = {
    "matplotlib": ("matplotlib", "plot"),
    "torch": ("torch", "torch"),
    "tonic": ("tonic", "data"),
    "sklearn": ("scikit-learn", "data"),
    "aedat": ("aedat", "data"),
    "evt3": ("evt3", "data"),
    "expelliarmus": ("expelliarmus", "data"),
    "nir": ("nir", "nir"),
    "dask": ("dask", "dask"),
    "distributed": ("distributed", "dask"),
    "pulp": ("pulp", "opt"),
    "numba": ("numba", "fast"),
    "pandas": ("pandas", "tables"),
    "pyarrow": ("pyarrow", "tables"),
}


def missing_extra_message(exc: ModuleNotFoundError) -> str | None:
    """The one-line fix for a missing optional library, or None when ``exc`` is about another
    module (a broken install, a bug: those keep their traceback)."""
    top = (exc.name or "").split(".")[0]
    if top not in OPTIONAL_IMPORTS:
        return None
    dist, extra = OPTIONAL_IMPORTS[top]
    return (f"this command needs {dist}, which is not installed; install it with "
            f"pip install 'flexspim[{extra}]' (or 'flexspim[all]' for every command)")
