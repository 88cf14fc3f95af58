"""``sqlweave pipeline ...``: plan, run, resume, status, history and schedule pipelines."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..lineage.store import write_atomic


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add the ``pipeline`` command and its subcommands to the top-level parser."""
    pipeline = sub.add_parser("pipeline", help="run a folder of notebooks ordered by lineage")
    commands = pipeline.add_subparsers(dest="pipeline_command", required=True)
    plan = commands.add_parser("plan", help="print the run order and draw the DAG")
    plan.add_argument("paths", nargs="+", metavar="PATH", help="notebooks or folders")
    plan.add_argument("--svg", metavar="FILE", help="also write the DAG as SVG")
    plan.set_defaults(func=_plan)


def _plan(args: argparse.Namespace) -> int:
    from . import plan_svg, plan_text
    from .plan import plan

    p = plan(args.paths)
    print(plan_text(p))
    if args.svg:
        write_atomic(Path(args.svg), plan_svg(p))
        print(f"svg: {args.svg}")
    return 0
