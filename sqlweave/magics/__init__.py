"""The IPython face of sqlweave: ``%load_ext sqlweave`` registers the magics."""

from __future__ import annotations

from typing import Any

from traitlets import TraitError

from .sql import SqlWeave


def load_ipython_extension(ipython: Any) -> None:
    try:
        magics = SqlWeave(shell=ipython)
    except TraitError as exc:  # a bad %config value must not keep the extension from loading
        print(f"sqlweave: ignoring the SqlWeave configuration: {exc}")
        ipython.config.pop("SqlWeave", None)
        magics = SqlWeave(shell=ipython)
    ipython.register_magics(magics)
    if magics not in ipython.configurables:
        ipython.configurables.append(magics)
    from .lineage import setup_lineage

    magics.lineage_magics = setup_lineage(ipython, magics.session)
    from .complete import install

    install(ipython, magics.session)
    from .lab import setup_lab

    # the JupyterLab panel's comm target (None outside a kernel)
    magics.lab_bridge = setup_lab(ipython, magics.session, magics.lineage_magics)


def unload_ipython_extension(ipython: Any) -> None:
    from .complete import uninstall

    uninstall(ipython)
    for magics in [c for c in ipython.configurables if isinstance(c, SqlWeave)]:
        ipython.configurables.remove(magics)
        if magics.session is None:  # an instance whose configuration was refused
            continue
        bridge = getattr(magics, "lab_bridge", None)
        if bridge is not None:
            bridge.close()
        if magics.lineage_magics is not None:
            magics.lineage_magics.close(magics.session)
        if magics.cluster is not None:
            magics.cluster.close()
        magics.session.close()


__all__ = ["SqlWeave", "load_ipython_extension", "unload_ipython_extension"]
