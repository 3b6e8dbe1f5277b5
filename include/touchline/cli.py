"""The ``touchline`` command line (README: Command line)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
from pathlib import Path

from touchline.config import Settings, is_set, ledger_path, outbox, settings

log = logging.getLogger("touchline")


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


def _paths(args: argparse.Namespace) -> Settings:
    return settings().with_overrides(
        source_dir=getattr(args, "source_dir", None),
        output_dir=getattr(args, "output_dir", None),
        warehouse=getattr(args, "warehouse", None),
    )


def _source_origin(args: argparse.Namespace) -> str:
    """Where the drop folder came from, in the words a user set it with."""
    if getattr(args, "source_dir", None):
        return "--source-dir"
    if is_set("TOUCHLINE_SOURCE_DIR"):
        return "TOUCHLINE_SOURCE_DIR"
    return "the default $TOUCHLINE_HOME/drop"


def _require_drops(args: argparse.Namespace, paths: Settings, dates: list[dt.date]) -> None:
    """Refuse before starting Airflow when ``sources.yml`` is not valid, or when a date has no
    drop folder while some entity comes from the file drop."""
    from touchline.sources.config import FILEDROP, load

    if FILEDROP not in load(paths.sources_file).by_entity.values():
        return
    missing = [
        day.isoformat() for day in dates if not (paths.source_dir / day.isoformat()).is_dir()
    ]
    if missing:
        shown = ", ".join(missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        raise SystemExit(
            f"touchline {args.command}: no drop for {shown} in {paths.source_dir} "
            f"(from {_source_origin(args)}); give --source-dir or set TOUCHLINE_SOURCE_DIR"
        )


def _add_path_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source-dir",
        type=Path,
        help="the file drop: <source-dir>/<YYYY-MM-DD>/<entity>.csv "
        "(default $TOUCHLINE_SOURCE_DIR, else $TOUCHLINE_HOME/drop)",
    )
    parser.add_argument("--output-dir", type=Path, help="where work lists go (default ./output)")
    parser.add_argument(
        "--warehouse",
        type=Path,
        help="the DuckDB warehouse file (default $TOUCHLINE_HOME/warehouse.duckdb)",
    )


def _run_dag(paths: Settings, run_date: dt.date, send: bool = True):
    """The nightly DAG through Airflow, its tasks shown as they finish."""
    from touchline.airflow_local import run_dag
    from touchline.progress import step

    with step(f"running the nightly DAG for {run_date}", unit="tasks done") as progress:

        def on_task(event: str, task_id: str) -> None:
            if event == "starting":
                progress.note(task_id)
            else:
                progress.advance()

        return run_dag(paths, run_date, on_task=on_task, send=send)


def cmd_run(args: argparse.Namespace) -> int:
    paths = _paths(args)
    _require_drops(args, paths, [args.date])
    outcome = _run_dag(paths, args.date)
    print(f"{outcome.run_id}: {outcome.state}")
    _print_summary(paths.output_dir / args.date.isoformat())
    return 0


def cmd_backfill(args: argparse.Namespace) -> int:
    if args.end < args.start:
        raise SystemExit("touchline backfill: --end is before --start")
    paths = _paths(args)
    days = [args.start + dt.timedelta(days=n) for n in range((args.end - args.start).days + 1)]
    _require_drops(args, paths, days)
    for day in days:
        # destinations get only the newest day: the dates before the last one do not send
        outcome = _run_dag(paths, day, send=day == days[-1])
        print(f"{day}: {outcome.state}")
        _print_past_date(paths.output_dir / day.isoformat())
    return 0


# what the demo chose for later commands, in $TOUCHLINE_HOME (the demo sets these in its
# own process only); `touchline export` adopts each one that is not set
DEMO_SETTINGS = "demo.json"
DEMO_VARIABLES = ("TOUCHLINE_OUTBOX", "TOUCHLINE_LEDGER", "TOUCHLINE_WAREHOUSE")


def _record_demo_settings(paths: Settings, run_date: dt.date) -> Path:
    """Write the demo's outbox, ledger and warehouse where later commands find them."""
    recorded = {
        "TOUCHLINE_OUTBOX": outbox(),
        "TOUCHLINE_LEDGER": str(ledger_path(paths.home)),
        "TOUCHLINE_WAREHOUSE": str(paths.warehouse),
        "run_date": run_date.isoformat(),
    }
    target = paths.home / DEMO_SETTINGS
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = target.with_name(target.name + ".tmp")
    scratch.write_text(json.dumps(recorded, indent=2) + "\n", encoding="utf-8")
    scratch.replace(target)
    return target


def _adopt_demo_settings(args: argparse.Namespace) -> None:
    """Take the demo's outbox, ledger and warehouse for the variables that are not set."""
    source = settings().home / DEMO_SETTINGS
    if not source.exists():
        return
    try:
        recorded = json.loads(source.read_text(encoding="utf-8"))
        if not isinstance(recorded, dict):
            raise ValueError("expected a JSON object")
    except ValueError as exc:
        raise SystemExit(
            f"touchline {args.command}: {source} is not the settings file the demo writes "
            f"({exc}); delete it or run touchline demo again"
        ) from None
    adopted = {
        name: str(recorded[name])
        for name in DEMO_VARIABLES
        if recorded.get(name) and not is_set(name)
    }
    if getattr(args, "warehouse", None):
        adopted.pop("TOUCHLINE_WAREHOUSE", None)
    if adopted:
        os.environ.update(adopted)
        settings_used = ", ".join(f"{name}={value}" for name, value in adopted.items())
        print(
            f"touchline {args.command}: from the demo ({source}): {settings_used}", file=sys.stderr
        )


def cmd_export(args: argparse.Namespace) -> int:
    from touchline.exports.run import NotPublished, export_all

    _adopt_demo_settings(args)
    paths = _paths(args)
    try:
        plans = export_all(paths, args.date, names=args.destination or None, dry_run=args.dry_run)
    except NotPublished as exc:
        if args.dry_run:
            _print_sent(paths, args)
            return 0
        print(f"touchline export: {exc}", file=sys.stderr)
        return 1
    if not plans:
        print("no destination is configured (see README: Exports)")
    for plan in plans:
        print(plan.describe(limit=args.show if args.dry_run else 0))
    return 0


def _print_sent(paths: Settings, args: argparse.Namespace) -> None:
    """Print what the export ledger says was sent on ``args.date``, per destination."""
    from touchline.exports.ledger import CLOSED, CREATED, UPDATED, Ledger
    from touchline.exports.run import ledger_path

    path = ledger_path(paths)
    sends = []
    if path.exists():
        with Ledger(path) as ledger:
            sends = ledger.sends_on(args.date)
    if args.destination:
        sends = [send for send in sends if send.destination in args.destination]
    unpublished = f"{args.date} is not the day the published warehouse holds, so nothing is planned"
    if not sends:
        print(f"{unpublished}; the export ledger ({path}) records no send on {args.date}")
        return
    print(f"{unpublished}; what was sent that day, from the export ledger ({path}):")
    for destination in sorted({send.destination for send in sends}):
        mine = [send for send in sends if send.destination == destination]
        counts = {
            action: [s for s in mine if s.action == action] for action in (CREATED, UPDATED, CLOSED)
        }
        print(
            f"{destination}: {len(counts[CREATED])} created, {len(counts[UPDATED])} updated, "
            f"{len(counts[CLOSED])} closed"
        )
        for action, done in counts.items():
            for send in done[: args.show]:
                why = f" ({send.closed_reason})" if send.closed_reason else ""
                print(f"  {action:<7} {send.item_key}{why}")
            if len(done) > args.show:
                print(f"  ... and {len(done) - args.show} more {action}")


def cmd_bench(args: argparse.Namespace) -> int:
    from touchline.bench import run, run_sources

    work = args.work_dir or settings().home / "bench"
    if args.stage == "sources" and args.reuse_landing:
        raise SystemExit("touchline bench: --reuse-landing does not apply to --stage sources")
    for scale in args.scale:
        if args.stage == "sources":
            run_sources(scale, work, keep=args.keep, drop=args.drop)
        else:
            run(scale, work, keep=args.keep, drop=args.drop, reuse_landing=args.reuse_landing)
    return 0


def cmd_dev_servers(args: argparse.Namespace) -> int:
    from touchline.devservers.__main__ import main as serve

    argv = ["--host", args.host, "--port-base", str(args.port_base)]
    return serve(argv + (["--verbose"] if args.verbose else []))


def cmd_demo_data(args: argparse.Namespace) -> int:
    from touchline.demo.generator import generate
    from touchline.progress import step

    with step("generating demo data", total=args.days, unit="days") as progress:
        summary = generate(
            args.out,
            accounts=args.accounts,
            days=args.days,
            seed=args.seed,
            end_date=args.end_date,
            usage_format=args.usage_format,
            compress=args.gzip,
            on_day=lambda _: progress.advance(),
        )
    print(summary)
    return 0


def _demo_drop(args: argparse.Namespace, paths: Settings) -> list[dt.date]:
    """Generate the demo book into the drop folder, or take the one ``--drop`` names; its
    dates, in order."""
    from touchline.demo.generator import generate
    from touchline.demo.serve import drop_dates
    from touchline.progress import step

    if args.drop is not None:
        dates = drop_dates(paths.source_dir) if paths.source_dir.is_dir() else []
        if not dates:
            raise SystemExit(
                f"touchline demo: --drop {paths.source_dir} holds no date folder (YYYY-MM-DD)"
            )
        print(f"Using the drop in {paths.source_dir} ({dates[0]} to {dates[-1]})")
        return dates
    print(
        f"Generating demo data ({args.accounts} accounts, {args.days} days) in {paths.source_dir}"
    )
    with step("generating demo data", total=args.days, unit="days") as progress:
        summary = generate(
            paths.source_dir,
            accounts=args.accounts,
            days=args.days,
            seed=args.seed,
            end_date=args.end_date,
            on_day=lambda _: progress.advance(),
        )
    first, last = summary.dates
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


def _print_served_sources(servers, sources_file: Path) -> None:
    """Say where each family comes from when the demo book is served by the local APIs."""
    from touchline.demo.serve import BUCKET, USAGE_PREFIX, sources_config

    origins = {
        "salesforce": f"local Salesforce at {servers.salesforce.url}",
        "zendesk": f"local Zendesk at {servers.zendesk.url}",
        "usage_files": f"Segment files in s3://{BUCKET}/{USAGE_PREFIX}/ "
        f"(local S3 at {servers.s3_endpoint})",
    }
    config = sources_config()
    print(f"Sources ({sources_file}):")
    for family, name in config["families"].items():
        source = config["sources"].get(name, {"type": name})
        origin = origins.get(source["type"], "the file drop")
        print(f"  {family:<10} {origin}")


def cmd_demo(args: argparse.Namespace) -> int:
    import contextlib

    from touchline.extract import land_history
    from touchline.progress import step

    base = settings()
    paths = base.with_overrides(
        source_dir=args.drop or args.source_dir or base.home / "demo-drop",
        output_dir=args.output_dir,
        warehouse=args.warehouse,
    )
    dates = _demo_drop(args, paths)
    history, last = dates[:-1], dates[-1]
    with contextlib.ExitStack() as running:
        book = None
        if args.sources == "api":
            from touchline.airflow_local import airflow_env
            from touchline.demo.serve import DemoServers, ServedBook, write_sources_file

            logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the S3 server's requests
            servers = running.enter_context(DemoServers())
            sources_file = write_sources_file(paths.home / "demo-sources.yml")
            # the connectors look their Connections up through Airflow, here as in the run:
            # the demo's Airflow home, and the Connections and sources.yml it inherits
            os.environ.update(
                {name: value for name, value in airflow_env(paths).items() if "AIRFLOW" in name}
            )
            os.environ.update(servers.environment())
            os.environ["TOUCHLINE_SOURCES"] = str(sources_file)
            paths = paths.with_overrides(sources_file=sources_file)
            book = ServedBook(servers, paths.source_dir)
            _print_served_sources(servers, sources_file)
        shown = f"{history[0]} to {history[-1]}" if history else "none"
        if book is None:
            print(f"Landing the history ({shown})")
            with step("landing the history", total=len(history), unit="days") as progress:
                land_history(paths, history, on_day=lambda day: progress.advance())
        else:
            from touchline.demo.serve import land_served_day

            print(f"Landing the history through the APIs, one date at a time ({shown})")
            with step("landing the history", total=len(history), unit="days") as progress:
                for day in history:
                    land_served_day(book, paths, day)
                    progress.advance()
            book.serve_day(last)
        _run_demo_night(args, paths, last)
    return 0


def _run_demo_night(args: argparse.Namespace, paths: Settings, last: dt.date) -> None:
    """The nightly DAG for the demo's last date, sending to the demo's destinations."""
    os.environ.setdefault("TOUCHLINE_OUTBOX", str(paths.output_dir / "outbox"))
    if "TOUCHLINE_LEDGER" not in os.environ:
        # the demo regenerates its book (and its servers start empty): a ledger of its own,
        # started afresh, so every destination gets the demo day
        ledger = paths.home / "demo-export-ledger.sqlite"
        for leftover in (ledger, *ledger.parent.glob(ledger.name + "-*")):
            leftover.unlink(missing_ok=True)
        os.environ["TOUCHLINE_LEDGER"] = str(ledger)
    recorded = _record_demo_settings(paths, last)
    servers = []
    if args.with_dev_servers:
        from touchline.devservers.__main__ import build, server_env

        servers = [server.start() for server in build("127.0.0.1", 0)]
        os.environ.update(server_env(servers))
    try:
        print(f"Running the nightly DAG for {last} through Airflow")
        outcome = _run_dag(paths, last)
        print(f"{outcome.run_id}: {outcome.state} (Airflow log: {outcome.log_path})")
        _print_summary(paths.output_dir / last.isoformat(), warehouse=paths.warehouse)
        _print_exports(paths, servers)
        print(f"Demo settings:   {recorded} (touchline export reads them)")
    finally:
        for server in servers:
            server.stop()


def _print_exports(paths: Settings, servers) -> None:
    from touchline.exports.destinations import enabled
    from touchline.exports.ledger import Ledger
    from touchline.exports.run import ledger_path

    with Ledger(ledger_path(paths)) as ledger:
        summary = ledger.summary()
    print("Exports (ledger: items per status):")
    for name in enabled():
        counts = ", ".join(f"{n} {status}" for status, n in summary.get(name, {}).items())
        print(f"  {name:<8} {counts or 'nothing to send'}")
    print(f"Outbox:          {outbox()}")
    for server in servers:
        print(f"  local {server.summary()}")


def _print_summary(run_dir: Path, warehouse: Path | None = None) -> None:
    summary_file = run_dir / "run_summary.json"
    if not summary_file.exists():
        return
    summary = json.loads(summary_file.read_text())
    print()
    print(f"Run date {summary['run_date']}")
    print("Accounts per tier:")
    for tier, count in summary["accounts_per_tier"].items():
        print(f"  {tier:<8} {count:>7}")
    print(f"Human tasks: {summary['human_tasks']}; automation items: {summary['automation_items']}")
    print("Tasks per work list:")
    for name, count in summary["tasks_per_worklist"].items():
        print(f"  {name:<48} {count:>5}")
    print(f"Work lists:      {run_dir}")
    quality = summary.get("quality")
    if quality:
        report = (run_dir / quality["report"]).resolve()
        print(f"Data quality:    {quality['status']} ({report})")
        _print_warnings(run_dir / quality.get("report_json", ""))
    if warehouse is not None:
        print(f"Warehouse:       {warehouse}")
    _print_past_date(run_dir)


def _print_warnings(report_json: Path) -> None:
    """Each warning of the run's report (a missing file, quarantined rows), one line each."""
    from touchline.quality.report import warnings

    if not report_json.is_file():
        return
    for line in warnings(json.loads(report_json.read_text(encoding="utf-8"))):
        print(f"  warn  {line}")


def _print_past_date(run_dir: Path) -> None:
    """Say so when the run's date was older than the published one (nothing was sent)."""
    summary_file = run_dir / "run_summary.json"
    if not summary_file.exists():
        return
    past = json.loads(summary_file.read_text()).get("past_date")
    if past:
        print(f"Past date:       {past['note']}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="touchline",
        description="Customer-success touch planning: land the drop, build the warehouse, "
        "write the work lists.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the nightly DAG for one logical date")
    _add_path_options(run)
    run.add_argument("--date", type=_date, required=True, help="the logical date YYYY-MM-DD")
    run.set_defaults(handler=cmd_run)

    backfill = commands.add_parser("backfill", help="run the nightly DAG for each date of a range")
    _add_path_options(backfill)
    backfill.add_argument("--start", type=_date, required=True)
    backfill.add_argument("--end", type=_date, required=True)
    backfill.set_defaults(handler=cmd_backfill)

    from touchline.exports.destinations import NAMES as DESTINATIONS

    export = commands.add_parser(
        "export", help="send a run date's work lists to the configured destinations"
    )
    export.add_argument("--date", type=_date, required=True, help="the run date YYYY-MM-DD")
    export.add_argument(
        "--destination",
        action="append",
        choices=DESTINATIONS,
        help="only this destination (repeatable; default: every configured one)",
    )
    export.add_argument(
        "--dry-run", action="store_true", help="print what would be created, updated, closed"
    )
    export.add_argument("--show", type=int, default=10, help="items listed per action (dry run)")
    export.add_argument("--warehouse", type=Path, help="the DuckDB warehouse file")
    export.set_defaults(handler=cmd_export)

    from touchline.demo.generator import DEFAULT_END_DATE

    def add_demo_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--accounts", type=int, default=2000, help="number of accounts")
        sub.add_argument("--days", type=int, default=120, help="number of daily drops")
        sub.add_argument("--seed", type=int, default=42, help="random seed (same seed, same data)")
        sub.add_argument(
            "--end-date", type=_date, default=DEFAULT_END_DATE, help="the last drop date"
        )

    demo_data = commands.add_parser("demo-data", help="write a demo file drop")
    demo_data.add_argument("--out", type=Path, required=True, help="the drop folder to write")
    add_demo_options(demo_data)
    demo_data.add_argument("--usage-format", choices=["csv", "csv.gz", "parquet"], default="csv.gz")
    demo_data.add_argument(
        "--gzip", action="store_true", help="write every CSV file gzipped (<entity>.csv.gz)"
    )
    demo_data.set_defaults(handler=cmd_demo_data)

    demo = commands.add_parser("demo", help="generate demo data and run the nightly pipeline")
    _add_path_options(demo)
    add_demo_options(demo)
    demo.add_argument(
        "--with-dev-servers",
        action="store_true",
        help="start the local API servers and push the work lists to every destination",
    )
    demo.add_argument(
        "--sources",
        choices=["drop", "api"],
        default="drop",
        help="where crm, support and usage come from: the file drop, or the book served by "
        "local Salesforce, Zendesk and S3 servers (engagement stays on the drop)",
    )
    demo.add_argument(
        "--drop",
        type=Path,
        help="run on this drop (<drop>/<YYYY-MM-DD>/<entity>.csv) instead of generating one",
    )

    bench = commands.add_parser(
        "bench", help="measure each stage at a named scale against the scan and SQL floors"
    )
    bench.add_argument(
        "--scale",
        action="append",
        choices=["tiny", "small", "medium", "large"],
        required=True,
        help="small: 2,000 accounts/90 days; medium: 20,000/180; large: 200,000/365 "
        "(tiny: 300/10, a smoke run)",
    )
    bench.add_argument(
        "--work-dir", type=Path, help="scratch space (default $TOUCHLINE_HOME/bench)"
    )
    bench.add_argument("--keep", action="store_true", help="keep the generated data afterwards")
    bench.add_argument(
        "--drop",
        type=Path,
        help="use this drop, generated before for the scale, instead of generating one",
    )
    bench.add_argument(
        "--reuse-landing",
        action="store_true",
        help="keep the history a previous --keep run landed and start at the full pipeline",
    )
    bench.add_argument(
        "--stage",
        choices=["sources"],
        help="run only this opt-in stage instead of the pipeline's; sources: the drop's last "
        "date served from the local Salesforce, Zendesk and S3 servers, each source's "
        "extraction measured",
    )
    bench.set_defaults(handler=cmd_bench)

    servers = commands.add_parser(
        "dev-servers", help="run local HubSpot, Slack, Customer.io and webhook test servers"
    )
    servers.add_argument("--host", default="127.0.0.1")
    servers.add_argument("--port-base", type=int, default=8970)
    servers.set_defaults(handler=cmd_dev_servers)
    demo.set_defaults(handler=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    from touchline.airflow_local import PipelineError
    from touchline.exports.http import ExportError
    from touchline.exports.run import NotConfigured
    from touchline.sources.config import ConfigError
    from touchline.sources.filedrop import InputError

    try:
        return args.handler(args)
    except (PipelineError, InputError, ExportError, NotConfigured, ConfigError) as exc:
        print(f"touchline {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
