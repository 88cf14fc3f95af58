"""Pipelines: a folder of notebooks runs as one workflow, ordered by the tables they share.

>>> import sqlweave.pipeline as pipeline
>>> callable(pipeline.plan)
True

``plan(paths)`` reads every notebook's reads and writes statically and orders them
(:mod:`.plan`); :mod:`.draw` prints and draws the plan. ``run(paths, parameters,
RunOptions(jobs=2))`` executes it (:mod:`.execute`), journaling every state change
(:mod:`.journal`, :mod:`.state`); ``resume(project)`` continues a run whose runner died.
"""

from __future__ import annotations

from .dependencies import METADATA_KEY, Dependencies, notebook_dependencies
from .discover import discover
from .draw import plan_svg, plan_text
from .errors import ConflictingWritersError, CycleError, PipelineError
from .execute import PipelineRun, RunOptions, resume, run
from .plan import Edge, Plan, build_plan, plan

__all__ = [
    "METADATA_KEY",
    "ConflictingWritersError",
    "CycleError",
    "Dependencies",
    "Edge",
    "PipelineError",
    "PipelineRun",
    "Plan",
    "RunOptions",
    "build_plan",
    "discover",
    "notebook_dependencies",
    "plan",
    "plan_svg",
    "plan_text",
    "resume",
    "run",
]
