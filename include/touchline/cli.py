"""The ``touchline`` command line (README: Command line)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
from pathlib import Path

from touchline.config import Settings, is_set, settings
from touchline.run_summary import print_past_date, print_summary, run_nightly

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


def cmd_run(args: argparse.Namespace) -> int:
    paths = _paths(args)
    _require_drops(args, paths, [args.date])
    outcome = run_nightly(paths, args.date)
    print(f"{outcome.run_id}: {outcome.state}")
    print_summary(paths.output_dir / args.date.isoformat())
    return 0


def cmd_backfill(args: argparse.Namespace) -> int:
    if args.end < args.start:
        raise SystemExit("touchline backfill: --end is before --start")
    paths = _paths(args)
    days = [args.start + dt.timedelta(days=n) for n in range((args.end - args.start).days + 1)]
    _require_drops(args, paths, days)
    for day in days:
        # destinations get only the newest day: the dates before the last one do not send
        outcome = run_nightly(paths, day, send=day == days[-1])
        print(f"{day}: {outcome.state}")
        print_past_date(paths.output_dir / day.isoformat())
    return 0


def _adopt_demo_settings(args: argparse.Namespace) -> None:
    """Take the demo's outbox, ledger and warehouse for the variables that are not set."""
    from touchline.demo.run import DEMO_SETTINGS, DEMO_VARIABLES

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


def _print_comparison(args: argparse.Namespace, comparison, heading: list[str], as_json) -> None:
    """Two runs compared (``touchline diff``, ``touchline preview``), as text or JSON."""
    from touchline.changes import render

    if args.format == "json":
        print(json.dumps(as_json(args.csm), indent=2))
    else:
        print(render(comparison, heading, csm=args.csm, limit=args.limit))


def cmd_diff(args: argparse.Namespace) -> int:
    from touchline.changes import ReviewError, as_dict, diff_runs

    paths = _paths(args)
    try:
        comparison, heading = diff_runs(paths.output_dir, args.date, against=args.against)
    except ReviewError as exc:
        print(f"touchline diff: {exc}", file=sys.stderr)
        return 1
    _print_comparison(args, comparison, heading, lambda csm: as_dict(comparison, csm=csm))
    return 0


def cmd_preview(args: argparse.Namespace) -> int:
    from touchline.changes import ReviewError
    from touchline.preview import preview

    _adopt_demo_settings(args)
    paths = _paths(args)
    if not args.verbose:  # the build's steps log at INFO, Great Expectations very much so
        logging.disable(logging.INFO)
    try:
        result = preview(
            paths,
            args.seeds,
            args.date,
            keep=args.keep,
            work_dir=args.work_dir,
            rebuild_history=args.rebuild_history,
        )
    except ReviewError as exc:
        print(f"touchline preview: {exc}", file=sys.stderr)
        return 1
    _print_comparison(args, result.comparison, result.heading, result.as_dict)
    return 0


def _add_comparison_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--csm",
        action="append",
        metavar="EMAIL",
        help="only this work list: a CSM's address, queue-pod-<pod>, queue-support or "
        "automation (repeatable)",
    )
    parser.add_argument(
        "--format", choices=["text", "json"], default="text", help="text (default) or json"
    )
    parser.add_argument(
        "--limit",
        type=int,
        default=50,
        help="task lines shown per work list (text; default 50, 0: all)",
    )


def cmd_bench(args: argparse.Namespace) -> int:
    from touchline.bench import run, run_sources

    work = args.work_dir or settings().home / "bench"
    if args.stage == "sources" and args.reuse_landing:
        raise SystemExit("touchline bench: --reuse-landing does not apply to --stage sources")
    for scale in args.scale:
        if args.stage == "sources":
            run_sources(scale, work, keep=args.keep, drop=args.drop)
        else:
            run(
                scale,
                work,
                keep=args.keep,
                drop=args.drop,
                reuse_landing=args.reuse_landing,
                sql_floor=not args.no_sql_floor,
            )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from touchline.demo.run import run_demo

    run_demo(
        accounts=args.accounts,
        days=args.days,
        seed=args.seed,
        end_date=args.end_date,
        source_dir=args.source_dir,
        output_dir=args.output_dir,
        warehouse=args.warehouse,
        drop=args.drop,
        sources=args.sources,
        with_dev_servers=args.with_dev_servers,
    )
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


def cmd_doctor(args: argparse.Namespace) -> int:
    from touchline import doctor

    return doctor.main(_paths(args))


def cmd_publish_marts(args: argparse.Namespace) -> int:
    from touchline.bi_publish import PublishError, publish
    from touchline.config import bi_dir

    paths = _paths(args)
    try:
        result = publish(paths.warehouse, args.bi_dir or bi_dir(paths.home))
    except PublishError as exc:
        print(f"touchline publish-marts: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result.as_dict(), indent=2))
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    from touchline.backtest import read, render

    _adopt_demo_settings(args)
    paths = _paths(args)
    if not paths.warehouse.exists():
        print(
            f"touchline backtest: no warehouse at {paths.warehouse}; run the nightly pipeline "
            "first (touchline run, or make demo)",
            file=sys.stderr,
        )
        return 1
    backtest = read(paths.warehouse)
    if backtest is None:
        print(
            f"touchline backtest: {paths.warehouse} has no backtest marts yet; the next "
            "nightly build adds them",
            file=sys.stderr,
        )
        return 1
    print(render(backtest), end="")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from touchline.report import ReportError, write

    _adopt_demo_settings(args)
    paths = _paths(args)
    try:
        written = write(paths.warehouse, paths.output_dir, args.date)
    except ReportError as exc:
        print(f"touchline report: {exc}", file=sys.stderr)
        return 1
    print(f"Run report:      {written.html}")
    return 0


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

    diff = commands.add_parser(
        "diff",
        help="what is new, moved, changed and closed in a run's work lists since the previous run",
    )
    diff.add_argument("--date", type=_date, required=True, help="the run date YYYY-MM-DD")
    diff.add_argument("--output-dir", type=Path, help="where work lists go (default ./output)")
    diff.add_argument(
        "--against",
        type=_date,
        help="compare with this run date (default: the newest earlier run in the output dir)",
    )
    _add_comparison_options(diff)
    diff.set_defaults(handler=cmd_diff)

    preview = commands.add_parser(
        "preview",
        help="build a run on a copy with edited touch-model seeds and show what would change",
    )
    preview.add_argument(
        "--seeds",
        type=Path,
        required=True,
        help="a folder of edited seed CSVs (copies of files in dbt_project/seeds/)",
    )
    preview.add_argument(
        "--date",
        type=_date,
        help="the run date to rebuild (default: the date the published warehouse holds)",
    )
    preview.add_argument(
        "--output-dir", type=Path, help="where the published work lists are (default ./output)"
    )
    preview.add_argument("--warehouse", type=Path, help="the published DuckDB warehouse file")
    preview.add_argument(
        "--rebuild-history",
        action="store_true",
        help="recompute the whole daily history with the edited seeds (as a --full-refresh "
        "would), instead of only the run date (as the next nightly run does)",
    )
    preview.add_argument(
        "--keep", action="store_true", help="keep the temporary work folder and print where it is"
    )
    preview.add_argument(
        "--work-dir",
        type=Path,
        help="where to create the temporary work folder (default: the system's temp folder)",
    )
    _add_comparison_options(preview)
    preview.set_defaults(handler=cmd_preview)

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
        "--no-sql-floor",
        action="store_true",
        help="leave out the SQL floor stage (at the large scale it takes as long as the first "
        "build; the targets do not need it)",
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

    publish_marts = commands.add_parser(
        "publish-marts",
        help="publish the warehouse's marts for BI tools as a new version (docs/bi.md)",
    )
    publish_marts.add_argument(
        "--warehouse", type=Path, help="the DuckDB warehouse file to read (default as run)"
    )
    publish_marts.add_argument(
        "--bi-dir",
        type=Path,
        help="the publication folder (default $TOUCHLINE_BI_DIR, else $TOUCHLINE_HOME/bi)",
    )
    publish_marts.set_defaults(handler=cmd_publish_marts)

    backtest = commands.add_parser(
        "backtest",
        help="print whether the health score predicts churn: the backtest (docs/backtest.md)",
    )
    backtest.add_argument(
        "--warehouse", type=Path, help="the DuckDB warehouse file to read (default as run)"
    )
    backtest.set_defaults(handler=cmd_backtest)

    report = commands.add_parser(
        "report", help="write a run date's run report from the published warehouse"
    )
    report.add_argument("--date", type=_date, required=True, help="the run date YYYY-MM-DD")
    report.add_argument("--output-dir", type=Path, help="the output folder (default ./output)")
    report.add_argument("--warehouse", type=Path, help="the published DuckDB warehouse file")
    report.set_defaults(handler=cmd_report)

    doctor = commands.add_parser(
        "doctor",
        help="check the settings, folders, disk, warehouse, metadata DB, pool and Connections",
    )
    _add_path_options(doctor)
    doctor.set_defaults(handler=cmd_doctor)
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
