"""Pipelines: a folder of notebooks runs as one workflow, ordered by the tables they share.

>>> import sqlweave.pipeline as pipeline
>>> callable(pipeline.plan)
True

``plan(paths)`` reads every notebook's reads and writes statically and orders them
(:mod:`.plan`); :mod:`.draw` prints and draws the plan.
"""

from __future__ import annotations

from .dependencies import METADATA_KEY, Dependencies, notebook_dependencies
from .discover import discover
from .draw import plan_svg, plan_text
from .errors import ConflictingWritersError, CycleError, PipelineError
from .plan import Edge, Plan, build_plan, plan

__all__ = [
    "METADATA_KEY",
    "ConflictingWritersError",
    "CycleError",
    "Dependencies",
    "Edge",
    "PipelineError",
    "Plan",
    "build_plan",
    "discover",
    "notebook_dependencies",
    "plan",
    "plan_svg",
    "plan_text",
]
