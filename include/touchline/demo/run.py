"""``touchline demo``: the demo book's history landed, then its last date through the DAG.

The book is generated into the drop folder (or ``--drop`` names one written before). With
``--sources api`` the local Salesforce, Zendesk and S3 servers serve it and the history is
landed through them one date at a time; otherwise the history is landed from the drop. The
last date then runs through the nightly DAG, sending to the demo's outbox (and, with
``--with-dev-servers``, to local HubSpot, Slack, Customer.io and webhook servers).

The demo sets the variables it chooses in its own process only, and records its outbox,
ledger and warehouse in ``$TOUCHLINE_HOME/demo.json``, where ``touchline export`` finds them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
from pathlib import Path

from touchline.config import Settings, ledger_path, outbox, settings
from touchline.run_summary import print_summary, run_nightly

# what the demo chose for later commands, in $TOUCHLINE_HOME (the demo sets these in its
# own process only); `touchline export` adopts each one that is not set
DEMO_SETTINGS = "demo.json"
DEMO_VARIABLES = ("TOUCHLINE_OUTBOX", "TOUCHLINE_LEDGER", "TOUCHLINE_WAREHOUSE")


def run_demo(
    *,
    accounts: int,
    days: int,
    seed: int,
    end_date: dt.date,
    source_dir: Path | None = None,
    output_dir: Path | None = None,
    warehouse: Path | None = None,
    drop: Path | None = None,
    sources: str = "drop",
    with_dev_servers: bool = False,
) -> None:
    """Land the demo book's history and run the nightly DAG for its last date."""
    from touchline.extract import land_history
    from touchline.progress import step

    base = settings()
    paths = base.with_overrides(
        source_dir=drop or source_dir or base.home / "demo-drop",
        output_dir=output_dir,
        warehouse=warehouse,
    )
    dates = _demo_drop(paths, drop, accounts=accounts, days=days, seed=seed, end_date=end_date)
    history, last = dates[:-1], dates[-1]
    with contextlib.ExitStack() as running:
        book = None
        if sources == "api":
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
        _run_demo_night(paths, last, with_dev_servers=with_dev_servers)


def _demo_drop(
    paths: Settings, drop: Path | None, *, accounts: int, days: int, seed: int, end_date: dt.date
) -> list[dt.date]:
    """Generate the demo book into the drop folder, or take the one ``drop`` names; its
    dates, in order."""
    from touchline.demo.generator import generate
    from touchline.demo.serve import drop_dates
    from touchline.progress import step

    if drop is not None:
        dates = drop_dates(paths.source_dir) if paths.source_dir.is_dir() else []
        if not dates:
            raise SystemExit(
                f"touchline demo: --drop {paths.source_dir} holds no date folder (YYYY-MM-DD)"
            )
        print(f"Using the drop in {paths.source_dir} ({dates[0]} to {dates[-1]})")
        return dates
    print(f"Generating demo data ({accounts} accounts, {days} days) in {paths.source_dir}")
    with step("generating demo data", total=days, unit="days") as progress:
        summary = generate(
            paths.source_dir,
            accounts=accounts,
            days=days,
            seed=seed,
            end_date=end_date,
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


def _run_demo_night(paths: Settings, last: dt.date, *, with_dev_servers: bool) -> None:
    """The nightly DAG for the demo's last date, sending to the demo's destinations."""
    os.environ.setdefault("TOUCHLINE_OUTBOX", str(paths.output_dir / "outbox"))
    if "TOUCHLINE_LEDGER" not in os.environ:
        # the demo regenerates its book (and its servers start empty): a ledger of its own,
        # started afresh, so every destination gets the demo day
        ledger = paths.home / "demo-export-ledger.sqlite"
        for leftover in (ledger, *ledger.parent.glob(ledger.name + "-*")):
            leftover.unlink(missing_ok=True)
        os.environ["TOUCHLINE_LEDGER"] = str(ledger)
    recorded = record_demo_settings(paths, last)
    servers = []
    if with_dev_servers:
        from touchline.devservers.__main__ import build, server_env

        servers = [server.start() for server in build("127.0.0.1", 0)]
        os.environ.update(server_env(servers))
    try:
        print(f"Running the nightly DAG for {last} through Airflow")
        outcome = run_nightly(paths, last)
        print(f"{outcome.run_id}: {outcome.state} (Airflow log: {outcome.log_path})")
        print_summary(paths.output_dir / last.isoformat(), warehouse=paths.warehouse)
        _print_exports(paths, servers)
        print(f"Demo settings:   {recorded} (touchline export reads them)")
    finally:
        for server in servers:
            server.stop()


def record_demo_settings(paths: Settings, run_date: dt.date) -> Path:
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


def _print_exports(paths: Settings, servers) -> None:
    from touchline.exports.destinations import enabled
    from touchline.exports.ledger import Ledger

    with Ledger(ledger_path(paths.home)) as ledger:
        summary = ledger.summary()
    print("Exports (ledger: items per status):")
    for name in enabled():
        counts = ", ".join(f"{n} {status}" for status, n in summary.get(name, {}).items())
        print(f"  {name:<8} {counts or 'nothing to send'}")
    print(f"Outbox:          {outbox()}")
    for server in servers:
        print(f"  local {server.summary()}")
