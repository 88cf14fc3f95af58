"""``sqlweave pipeline ...``: plan, run, resume, status, history and schedule pipelines."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from ..cancel import Cancel
from ..lineage.store import write_atomic

#: signals that stop a run the way Ctrl-C does (SIGTERM: a service manager stopping it)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def cancel_on_signals() -> Iterator[Cancel]:
    """A :class:`Cancel` token that Ctrl-C (or SIGTERM) cancels, and a second one forces.

    The first signal interrupts the running kernels and lets them stop (their executed
    notebooks and the journal are written); the second kills them. Outside the main
    thread signals cannot be caught: the token is then only cancelled by its owner.
    """
    cancel = Cancel()
    if threading.current_thread() is not threading.main_thread():
        yield cancel
        return

    def handle(signum: int, frame: object) -> None:
        if cancel.cancelled:
            _say("sqlweave: stopping now: killing the running kernels\n")
            cancel.force()
        else:
            _say(
                "sqlweave: stopping: running notebooks are interrupted, nothing new starts "
                "(press Ctrl-C again to kill their kernels)\n"
            )
            cancel.cancel(signum)

    previous = {s: signal.signal(s, handle) for s in STOP_SIGNALS}
    try:
        yield cancel
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _say(text: str) -> None:
    """Write from a signal handler: one unbuffered write, no lock a print may hold."""
    with contextlib.suppress(OSError):
        os.write(sys.stderr.fileno(), text.encode())


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add the ``pipeline`` command and its subcommands to the top-level parser."""
    pipeline = sub.add_parser("pipeline", help="run a folder of notebooks ordered by lineage")
    commands = pipeline.add_subparsers(dest="pipeline_command", required=True)

    plan = commands.add_parser("plan", help="print the run order and draw the DAG")
    plan.add_argument("paths", nargs="+", metavar="PATH", help="notebooks or folders")
    plan.add_argument("--svg", metavar="FILE", help="also write the DAG as SVG")
    plan.set_defaults(func=_plan)

    run = commands.add_parser("run", help="run the notebooks in dependency order")
    run.add_argument("paths", nargs="+", metavar="PATH", help="notebooks or folders")
    _run_options(run)
    run.set_defaults(func=_run)

    resume = commands.add_parser("resume", help="continue a run whose runner was killed")
    _project_arguments(resume)
    resume.add_argument("--run", dest="run_id", help="run id (default: the latest unfinished)")
    resume.add_argument("--openlineage-url", help="POST OpenLineage events to this endpoint")
    resume.add_argument(
        "-q", "--quiet", action="store_true", help="no line per notebook while the run goes on"
    )
    resume.set_defaults(func=_resume)

    status = commands.add_parser("status", help="the state of the latest (or a given) run")
    _project_arguments(status)
    status.add_argument("--run", dest="run_id", help="run id (default: the latest)")
    status.set_defaults(func=_status)

    history = commands.add_parser("history", help="past runs, newest last")
    _project_arguments(history)
    history.add_argument("--limit", type=int, default=20, help="runs shown (default 20)")
    history.set_defaults(func=_history)

    add_schedule_command(commands)


def _project_arguments(parser: argparse.ArgumentParser) -> None:
    """The project folder, given as ``run`` takes its paths (``status FOLDER``) or with
    ``--project FOLDER``; read back with :func:`project_of`."""
    parser.add_argument("folder", nargs="?", help="project folder (default: .)")
    parser.add_argument("--project", help="project folder (the same as FOLDER)")


def project_of(args: argparse.Namespace) -> str:
    """The project folder of a ``status``/``history``/``resume`` command line.

    >>> project_of(argparse.Namespace(folder="pipe", project=None))
    'pipe'
    """
    if args.folder and args.project and Path(args.folder).resolve() != Path(args.project).resolve():
        from .errors import PipelineError

        raise PipelineError(
            f"two project folders given: {args.folder} and --project {args.project}; give one"
        )
    return args.folder or args.project or "."


def _run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-p",
        "--parameter",
        dest="parameters",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a parameter for every notebook (injected after the cell tagged 'parameters')",
    )
    parser.add_argument("--jobs", "-j", type=int, default=1, help="kernels at once (default 1)")
    parser.add_argument(
        "--only-stale", action="store_true", help="run only what changed and its downstream"
    )
    parser.add_argument(
        "--select",
        nargs="+",
        default=[],
        metavar="NB",
        help="only these notebooks (+NB: with upstream, NB+: with downstream)",
    )
    parser.add_argument(
        "--retries", type=int, default=0, help="extra attempts for a failing notebook"
    )
    parser.add_argument(
        "--backoff", type=float, default=1.0, help="seconds before the first retry (doubles)"
    )
    parser.add_argument("--timeout", type=float, help="seconds per notebook (wall clock)")
    parser.add_argument(
        "--cell-timeout", type=int, default=600, help="seconds per cell (default 600)"
    )
    parser.add_argument("-o", "--output", help="folder for executed notebooks")
    parser.add_argument("--warehouse", help="table folder (default PROJECT/.sqlweave/warehouse)")
    parser.add_argument("--project", help="project folder (default: the paths' common folder)")
    parser.add_argument("--kernel", help="kernel name (default: each notebook's)")
    parser.add_argument("--openlineage-url", help="POST OpenLineage events to this endpoint")
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no line per notebook while the run goes on"
    )


def options_from(args: argparse.Namespace):  # -> RunOptions
    from .execute import RunOptions

    return RunOptions(
        jobs=args.jobs,
        retries=args.retries,
        backoff=args.backoff,
        timeout=args.timeout,
        cell_timeout=args.cell_timeout,
        only_stale=args.only_stale,
        select=tuple(args.select),
        output=args.output,
        warehouse=args.warehouse,
        kernel=args.kernel,
        openlineage_url=args.openlineage_url,
    )


def _plan(args: argparse.Namespace) -> int:
    from . import plan_svg, plan_text
    from .plan import plan

    p = plan(args.paths)
    print(plan_text(p))
    if args.svg:
        write_atomic(Path(args.svg), plan_svg(p))
        print(f"svg: {args.svg}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from ..runner import parse_parameter
    from .execute import run

    parameters = dict(parse_parameter(p) for p in args.parameters)
    listeners = [] if args.quiet else [_progress]
    with cancel_on_signals() as cancel:
        result = run(
            args.paths,
            parameters,
            options_from(args),
            root=args.project,
            listeners=listeners,
            cancel=cancel,
        )
    return _finish(result, cancel)


def _resume(args: argparse.Namespace) -> int:
    from .execute import resume

    listeners = [] if args.quiet else [_progress]
    with cancel_on_signals() as cancel:
        result = resume(
            project_of(args),
            args.run_id,
            listeners=listeners,
            openlineage_url=args.openlineage_url,
            cancel=cancel,
        )
    return _finish(result, cancel)


def _progress(event) -> None:  # event: journal Event
    """A run listener printing a line per notebook start and end (stderr: stdout keeps the
    summary)."""
    from .summary import progress_line

    if (line := progress_line(event)) is not None:
        print(f"{event.at[11:19]}  {line}", file=sys.stderr, flush=True)


def _finish(result, cancel: Cancel) -> int:  # result: PipelineRun
    from .summary import run_summary

    text = run_summary(result.state, str(result.output)) + f"\nreport: {result.report}"
    print(text, file=sys.stdout if result.ok else sys.stderr)
    if result.interrupted:
        print(
            f"resume it with: sqlweave pipeline resume --project {_shown(result.root)}",
            file=sys.stderr,
        )
        return cancel.exit_code
    return 0 if result.ok else 1


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when under it (shorter to copy)."""
    try:
        return path.relative_to(Path.cwd().resolve()).as_posix() or "."
    except ValueError:
        return str(path)


def _status(args: argparse.Namespace) -> int:
    from .journal import Journal
    from .state import read_runs
    from .summary import status_text

    project = project_of(args)
    runs = read_runs(Journal.of_project(project))
    if not runs:
        print(f"no pipeline runs in {Path(project).resolve()}")
        return 0
    if args.run_id and args.run_id not in runs:
        from .errors import PipelineError

        raise PipelineError(f"no run {args.run_id} (see 'sqlweave pipeline history')")
    from .liveness import runner_alive

    state = runs[args.run_id] if args.run_id else list(runs.values())[-1]
    print(status_text(state, state.finished or runner_alive(state)))
    return 0


def _history(args: argparse.Namespace) -> int:
    from .journal import Journal
    from .state import read_runs
    from .summary import history_text

    runs = list(read_runs(Journal.of_project(project_of(args))).values())
    print(history_text(runs[-args.limit :]) if runs else "no pipeline runs")
    return 0


def add_schedule_command(commands: argparse._SubParsersAction) -> None:
    from .schedule import MissedPolicy, OverlapPolicy

    schedule = commands.add_parser("schedule", help="run the pipeline on a cron schedule")
    schedule.add_argument("cron", help="cron expression in UTC, e.g. '0 6 * * *'")
    schedule.add_argument("paths", nargs="+", metavar="PATH", help="notebooks or folders")
    _run_options(schedule)
    schedule.add_argument(
        "--missed",
        choices=[p.value for p in MissedPolicy],
        default=MissedPolicy.ONCE.value,
        help="fire times missed while down: skip, one catch-up run (once, the default), or all",
    )
    schedule.add_argument(
        "--overlap",
        choices=[p.value for p in OverlapPolicy],
        default=OverlapPolicy.SKIP.value,
        help="a fire time while a run is going: skip it (the default) or queue it",
    )
    schedule.set_defaults(func=_schedule)


def _schedule(args: argparse.Namespace) -> int:
    import dataclasses
    import threading
    from datetime import datetime

    from ..runner import parse_parameter
    from .execute import run
    from .plan import plan
    from .schedule import MissedPolicy, OverlapPolicy, Schedule, Scheduler, serve, utcnow
    from .summary import run_summary

    schedule = Schedule(args.cron, MissedPolicy(args.missed), OverlapPolicy(args.overlap))
    parameters = dict(parse_parameter(p) for p in args.parameters)
    options = options_from(args)
    root = plan(args.paths, args.project).root  # plan now: a broken pipeline fails at once
    assert root is not None
    last = last_scheduled(root, args.cron) or utcnow()
    scheduler = Scheduler(schedule, last)
    current: list[threading.Thread] = []
    stop = Cancel()

    def start_run(fire: datetime) -> None:
        def target() -> None:
            opts = dataclasses.replace(options, schedule=args.cron, scheduled_for=fire.isoformat())
            try:
                listeners = [] if args.quiet else [_progress]
                result = run(
                    args.paths, parameters, opts, root=root, listeners=listeners, cancel=stop
                )
                print(run_summary(result.state, str(result.output)), flush=True)
            except Exception as exc:  # one bad run (a notebook deleted) must not end the loop
                print(f"sqlweave: scheduled run for {fire.isoformat()} failed: {exc}", flush=True)

        thread = threading.Thread(target=target, name="sqlweave-scheduled-run")
        current[:] = [thread]
        thread.start()

    print(
        f"scheduling {' '.join(args.paths)} at '{args.cron}' (UTC); next {schedule.after(utcnow())}"
    )
    with cancel_on_signals() as stop_signal:
        # Ctrl-C ends the loop and interrupts the run in progress (resumable as any other)
        stop_signal.on_cancel(lambda force: stop.force() if force else stop.cancel())
        serve(
            scheduler,
            start_run,
            running=lambda: bool(current) and current[0].is_alive(),
            sleep=stop.wait,
            stop=lambda: stop.cancelled,
        )
        for thread in current:
            thread.join()
    return stop_signal.exit_code if stop_signal.cancelled else 0


def last_scheduled(root: Path, cron: str):  # -> datetime | None
    """The fire time of the latest run this cron expression started in the project."""
    from datetime import datetime

    from .journal import Journal, RunStarted

    times = [
        e.options.get("scheduled_for")
        for e in Journal.of_project(root).read()
        if isinstance(e, RunStarted) and e.options.get("schedule") == cron
    ]
    times = [t for t in times if t]
    return datetime.fromisoformat(max(times)) if times else None
