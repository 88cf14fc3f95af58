"""The ``sqlweave`` command: ``run`` notebooks headless; ``pipeline`` runs a folder of them
ordered by lineage; ``coordinator``, ``worker`` and ``cluster up`` start the distributed engine."""

from __future__ import annotations

import argparse
import sys

from ._version import __version__
from .errors import SqlWeaveError

CLUSTER_COMMANDS = ("coordinator", "worker", "cluster")


def _run(args: argparse.Namespace) -> int:
    import os

    from .pipeline.standalone import WAREHOUSE_ENV, pipeline_hint, project_warehouse
    from .runner import parse_parameter, run_notebook

    parameters = dict(parse_parameter(p) for p in args.parameters)
    env = {}
    if not os.environ.get(WAREHOUSE_ENV) and (found := project_warehouse(args.notebook)):
        # a pipeline notebook reads the tables its upstream notebooks saved there
        env[WAREHOUSE_ENV] = str(found)
        print(f"warehouse: {found} (set {WAREHOUSE_ENV} to use another)", file=sys.stderr)
    report = run_notebook(
        args.notebook,
        parameters=parameters,
        output=args.output,
        timeout=args.timeout,
        kernel_name=args.kernel,
        env=env,
        on_warning=lambda text: print(f"sqlweave: warning: {text}", file=sys.stderr),
    )
    if report.failure is not None:
        print(report.failure.summary(), file=sys.stderr)
        if not env and not os.environ.get(WAREHOUSE_ENV) and (hint := pipeline_hint(args.notebook)):
            print(f"\nhint: {hint}", file=sys.stderr)
        print(f"\nexecuted notebook (up to the failure): {report.output}", file=sys.stderr)
        return 1
    print(f"ran {report.input}: {report.cells} cells in {report.seconds:.1f} s")
    print(f"executed notebook: {report.output}")
    if report.lineage_store is not None:
        print(f"lineage: {report.lineage_store}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sqlweave", description=__doc__)
    parser.add_argument("--version", action="version", version=f"sqlweave {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute a notebook headless")
    run.add_argument("notebook")
    run.add_argument(
        "-p",
        "--parameter",
        dest="parameters",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a parameter (injected after the cell tagged 'parameters')",
    )
    run.add_argument("-o", "--output", help="where to write the executed notebook")
    run.add_argument("--timeout", type=int, default=600, help="seconds per cell (default 600)")
    run.add_argument("--kernel", help="kernel name (default: the notebook's)")
    run.set_defaults(func=_run)
    from .pipeline.cli import add_commands

    add_commands(sub)
    for name in CLUSTER_COMMANDS:
        sub.add_parser(name, help=f"{name} of the distributed engine (see sqlweave {name} --help)")
    return parser


def main(argv: list[str] | None = None) -> int:
    if argv is None:  # the `sqlweave` command itself (tests pass argv and keep their imports)
        _skip_slow_optional_imports()
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in CLUSTER_COMMANDS:
        from .cluster.cli import main as cluster_main

        return cluster_main(argv)
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except SqlWeaveError as exc:
        print(f"sqlweave: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sqlweave: interrupted", file=sys.stderr)
        return 130


def _skip_slow_optional_imports() -> None:
    """Keep optional modules that cost seconds at import out of this process.

    nbformat imports jsonschema, which compiles ``rfc3987_syntax``'s grammar (when that
    optional package is installed) just to check the ``iri`` format, which no notebook
    schema uses: measured 1-4 s of every ``sqlweave`` command's start. A ``None`` in
    ``sys.modules`` makes that import fail, which jsonschema expects and skips.
    """
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


if __name__ == "__main__":
    sys.exit(main())
