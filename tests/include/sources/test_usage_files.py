"""Usage events from export files, through s3fs against a real S3 API (moto) and a folder."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import logging
import uuid

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.server import ThreadedMotoServer
from pydantic import ValidationError
from werkzeug.serving import make_server

from touchline.schema import ENTITIES
from touchline.sources.base import SourceError, Window
from touchline.sources.filedrop import output_schema
from touchline.sources.usage_files import UsageFilesConnector, UsageFilesOptions

USAGE = next(entity for entity in ENTITIES if entity.name == "usage_events")
# files written now belong to a run whose window ends after now
WINDOW = Window(
    run_date=dt.date(2030, 1, 1),
    since=None,
    until=dt.datetime(2030, 1, 2, 6, tzinfo=dt.UTC),
)


class FaultyMotoServer(ThreadedMotoServer):
    """moto's S3 API, whose next object reads fail with the statuses in ``faults``."""

    ERRORS = {500: ("InternalError", "Internal Server Error"), 503: ("SlowDown", "Slow Down")}

    def __init__(self) -> None:
        super().__init__(ip_address="127.0.0.1", port=0, verbose=False)
        self.faults: list[int] = []
        self.faulted = 0

    def _server_entry(self) -> None:
        app = DomainDispatcherApplication(create_backend_app)

        def faulty(environ, start_response):
            reading = environ["REQUEST_METHOD"] == "GET" and environ["PATH_INFO"].count("/") > 1
            if reading and self.faults:
                status = self.faults.pop(0)
                code, reason = self.ERRORS[status]
                self.faulted += 1
                body = f"<Error><Code>{code}</Code><Message>{reason}</Message></Error>".encode()
                start_response(
                    f"{status} {reason}",
                    [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))],
                )
                return [body]
            return app(environ, start_response)

        self._server = make_server(
            self._ip_address, self._port, faulty, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()


@pytest.fixture(scope="module")
def s3_server():
    server = FaultyMotoServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def s3_endpoint(s3_server):
    s3_server.faults.clear()
    host, port = s3_server.get_host_and_port()
    return f"http://{host}:{port}"


@pytest.fixture
def bucket(s3_endpoint, monkeypatch):
    """A fresh bucket, and the Connection touchline_usage_store pointing at it."""
    name = f"usage-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="testing-key",
        aws_secret_access_key="testing-secret",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=name)
    monkeypatch.setenv(
        "AIRFLOW_CONN_TOUCHLINE_USAGE_STORE",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "testing-key",
                "password": "testing-secret",
                "extra": {"endpoint_url": s3_endpoint, "region_name": "us-east-1"},
            }
        ),
    )

    def put(key: str, body: bytes) -> None:
        client.put_object(Bucket=name, Key=key, Body=body)

    put.bucket = name  # type: ignore[attr-defined]
    return put


def jsonl(records: list[dict], compress: bool = True) -> bytes:
    text = "\n".join(json.dumps(record) for record in records).encode()
    return gzip.compress(text) if compress else text


def segment_track(n: int, account: str = "A1", **extra) -> dict:
    return {
        "type": "track",
        "messageId": f"msg-{n}",
        "userId": f"user-{n}",
        "event": "Report Viewed",
        "timestamp": f"2029-12-31T10:00:0{n % 10}.250Z",
        "context": {"groupId": account, "library": {"name": "analytics.js"}},
        "properties": {"report": "weekly"},
        **extra,
    }


def extract(options: dict, state: dict | None = None):
    connector = UsageFilesConnector(UsageFilesOptions(**options))
    return connector.extract([USAGE], WINDOW, state or {})


def rows(result) -> list[dict]:
    return result.tables["usage_events"].to_pylist()


def test_segment_export_on_s3_maps_track_calls_and_skips_other_calls(bucket):
    identify = {"type": "identify", "messageId": "msg-id", "userId": "user-1", "traits": {}}
    bucket("segment-logs/src/1767225600000/a.gz", jsonl([segment_track(1), identify]))

    result = extract({"url": f"s3://{bucket.bucket}/segment-logs/", "format": "segment"})

    table = result.tables["usage_events"]
    assert table.schema == output_schema(USAGE, [])
    assert rows(result) == [
        {
            "account_id": "A1",
            "user_id": "user-1",
            "feature": "Report Viewed",
            "occurred_at": dt.datetime(2029, 12, 31, 10, 0, 1, 250000),
            "event_id": "msg-1",
        }
    ]
    url = f"s3://{bucket.bucket}/segment-logs/src/1767225600000/a.gz"
    assert list(result.state["files"]) == [url]
    assert result.state["files"][url]["rows"] == 1
    assert result.state["files"][url]["etag"]
    assert result.origin == f"s3://{bucket.bucket}/segment-logs/"


def test_second_run_reads_only_new_files_and_drift_is_named_once(bucket, caplog):
    url = f"s3://{bucket.bucket}/events/"
    bucket("events/a.json.gz", jsonl([segment_track(1, newfield=1)]))
    options = {"url": url, "format": "segment"}

    with caplog.at_level(logging.WARNING, logger="touchline.sources.usage_files"):
        first = extract(options)
        bucket("events/b.json.gz", jsonl([segment_track(2, newfield=2), segment_track(3)]))
        second = extract(options, first.state)
        third = extract(options, second.state)

    assert [r["event_id"] for r in rows(first)] == ["msg-1"]
    assert [r["event_id"] for r in rows(second)] == ["msg-2", "msg-3"]
    assert rows(third) == []
    assert set(second.state["files"]) == {f"{url}a.json.gz", f"{url}b.json.gz"}
    assert third.state == second.state
    drift = [r.getMessage() for r in caplog.records if "not read by touchline" in r.getMessage()]
    assert len(drift) == 1 and "newfield" in drift[0], drift


def test_a_rerun_with_the_same_state_returns_the_same_rows(bucket):
    bucket("e/a.json.gz", jsonl([segment_track(1)]))
    options = {"url": f"s3://{bucket.bucket}/e/", "format": "segment"}
    assert rows(extract(options)) == rows(extract(options))


def test_s3_slowdown_and_server_errors_are_retried(bucket, s3_server):
    bucket("r/a.json.gz", jsonl([segment_track(1)]))
    s3_server.faults[:] = [503, 500]

    result = extract({"url": f"s3://{bucket.bucket}/r/", "format": "segment"})

    assert [r["event_id"] for r in rows(result)] == ["msg-1"]
    assert s3_server.faulted >= 2 and s3_server.faults == []


def test_an_error_that_outlasts_the_retries_names_the_file(bucket, s3_server):
    bucket("r/a.json.gz", jsonl([segment_track(1)]))
    s3_server.faults[:] = [500] * 3

    with pytest.raises(SourceError, match=r"r/a\.json\.gz cannot be read: .*Internal Server Error"):
        extract({"url": f"s3://{bucket.bucket}/r/", "format": "segment", "retries": 0})


def test_max_files_per_run_pages_through_the_files(bucket):
    for n in range(3):
        bucket(f"p/{n}.json.gz", jsonl([segment_track(n)]))
    options = {"url": f"s3://{bucket.bucket}/p/", "format": "segment", "max_files_per_run": 2}

    first = extract(options)
    second = extract(options, first.state)
    third = extract(options, second.state)

    assert len(rows(first)) == 2 and len(first.state["files"]) == 2
    assert len(rows(second)) == 1 and len(second.state["files"]) == 3
    assert rows(third) == []
    ids = {r["event_id"] for r in rows(first) + rows(second)}
    assert ids == {"msg-0", "msg-1", "msg-2"}


def test_a_crash_mid_extract_loses_nothing(bucket):
    bucket("c/a.json.gz", jsonl([segment_track(1)]))
    bucket("c/b.json.gz", jsonl([segment_track(2, timestamp="yesterday")]))
    options = {"url": f"s3://{bucket.bucket}/c/", "format": "segment"}

    with pytest.raises(SourceError) as raised:
        extract(options)
    message = str(raised.value)
    assert "c/b.json.gz" in message and "record 1" in message and "msg-2" in message
    assert "'yesterday'" in message and "ISO 8601" in message

    bucket("c/b.json.gz", jsonl([segment_track(2)]))  # corrected; no state was returned
    assert [r["event_id"] for r in rows(extract(options))] == ["msg-1", "msg-2"]


def test_plain_csv_gz_and_parquet_on_s3(bucket):
    csv = "account_id,user_id,feature,occurred_at,event_id\nA1,u1,export,2029-12-30T08:00:00Z,e1\n"
    bucket("plain/a.csv.gz", gzip.compress(csv.encode()))
    table = pa.table(
        {
            "account_id": ["A2"],
            "user_id": ["u2"],
            "feature": ["search"],
            "occurred_at": pa.array([dt.datetime(2029, 12, 30, 9)], pa.timestamp("us")),
            "event_id": ["e2"],
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    bucket("plain/b.parquet", sink.getvalue())

    result = extract({"url": f"s3://{bucket.bucket}/plain/"})

    assert rows(result) == [
        {
            "account_id": "A1",
            "user_id": "u1",
            "feature": "export",
            "occurred_at": dt.datetime(2029, 12, 30, 8),
            "event_id": "e1",
        },
        {
            "account_id": "A2",
            "user_id": "u2",
            "feature": "search",
            "occurred_at": dt.datetime(2029, 12, 30, 9),
            "event_id": "e2",
        },
    ]


def test_an_event_without_an_id_gets_one_fixed_by_file_and_record(tmp_path):
    csv = "account_id,user_id,feature,occurred_at\nA1,u1,export,2029-12-30T08:00:00Z\n"
    (tmp_path / "a.csv").write_text(csv + "A1,u2,export,2029-12-30T08:01:00Z\n")

    first = rows(extract({"url": str(tmp_path)}))
    again = rows(extract({"url": str(tmp_path)}))

    event_ids = [r["event_id"] for r in first]
    assert all(event_ids) and len(set(event_ids)) == 2
    assert event_ids[0].endswith("-1") and event_ids[1].endswith("-2")
    assert [r["event_id"] for r in again] == event_ids


def test_amplitude_export_in_a_folder(tmp_path):
    events = [
        {
            "$insert_id": "ins-1",
            "uuid": "uuid-1",
            "user_id": "user-1",
            "event_type": "Dashboard Opened",
            "event_time": "2029-12-31 09:15:00.123000",
            "groups": {"company": ["A7"]},
            "user_properties": {},
        },
        {
            "uuid": "uuid-2",
            "user_id": "user-2",
            "event_type": "Export",
            "event_time": "2029-12-31 09:16:00.000000",
            "groups": {},
            "user_properties": {"account_id": "A8"},
        },
    ]
    (tmp_path / "123_2029-12-31_9#0.json.gz").write_bytes(jsonl(events))

    result = extract({"url": str(tmp_path), "format": "amplitude"})

    assert [(r["account_id"], r["user_id"], r["feature"], r["event_id"]) for r in rows(result)] == [
        ("A7", "user-1", "Dashboard Opened", "ins-1"),
        ("A8", "user-2", "Export", "uuid-2"),
    ]
    assert rows(result)[0]["occurred_at"] == dt.datetime(2029, 12, 31, 9, 15, 0, 123000)


def test_mixpanel_export_with_a_configured_account_field(tmp_path):
    events = [
        {
            "event": "Report Viewed",
            "properties": {
                "time": 1893402000,
                "distinct_id": "user-1",
                "$insert_id": "mp-1",
                "company_id": "A3",
            },
        }
    ]
    (tmp_path / "export.jsonl").write_bytes(jsonl(events, compress=False))

    result = extract(
        {
            "url": f"file://{tmp_path}/",
            "format": "mixpanel",
            "fields": {"account_id": "properties.company_id"},
        }
    )

    assert rows(result) == [
        {
            "account_id": "A3",
            "user_id": "user-1",
            "feature": "Report Viewed",
            "occurred_at": dt.datetime(2029, 12, 31, 9),
            "event_id": "mp-1",
        }
    ]


def test_a_record_without_a_required_field_names_file_record_and_field(tmp_path):
    broken = segment_track(2)
    del broken["event"]
    (tmp_path / "a.jsonl").write_bytes(jsonl([segment_track(1), broken], compress=False))

    with pytest.raises(SourceError) as raised:
        extract({"url": str(tmp_path), "format": "segment"})

    message = str(raised.value)
    assert "a.jsonl" in message and "record 2" in message and "msg-2" in message
    assert "'event'" in message or "field event" in message
    assert "usage_events.feature" in message


def test_a_field_no_record_has_means_the_mapping_is_wrong(tmp_path):
    (tmp_path / "a.jsonl").write_bytes(jsonl([segment_track(1)], compress=False))

    with pytest.raises(SourceError, match=r"no record has the field context\.org"):
        extract(
            {"url": str(tmp_path), "format": "segment", "fields": {"account_id": "context.org"}}
        )


def test_events_without_account_are_counted_and_not_loaded(tmp_path, caplog):
    anonymous = segment_track(2)
    del anonymous["context"]["groupId"]
    (tmp_path / "a.jsonl").write_bytes(jsonl([segment_track(1), anonymous], compress=False))

    with caplog.at_level(logging.WARNING, logger="touchline.sources.usage_files"):
        result = extract({"url": str(tmp_path), "format": "segment"})

    assert [r["event_id"] for r in rows(result)] == ["msg-1"]
    assert result.state["files"][str(tmp_path / "a.jsonl")]["without_account"] == 1
    assert "1 of 2 events have no account or no user" in caplog.text and "records 2" in caplog.text

    with pytest.raises(SourceError, match="1 events have no account or no user"):
        extract({"url": str(tmp_path), "format": "segment", "missing_account": "fail"})


def test_a_loaded_file_that_changed_is_reported_not_reread(tmp_path, caplog):
    path = tmp_path / "a.jsonl"
    path.write_bytes(jsonl([segment_track(1)], compress=False))
    options = {"url": str(tmp_path), "format": "segment"}
    first = extract(options)
    path.write_bytes(jsonl([segment_track(1), segment_track(2)], compress=False))

    with pytest.raises(SourceError, match=r"a\.jsonl changed after it was loaded"):
        extract(options, first.state)
    with caplog.at_level(logging.WARNING, logger="touchline.sources.usage_files"):
        skipped = extract({**options, "changed_files": "skip"}, first.state)
    assert rows(skipped) == []
    assert "changed after it was loaded" in caplog.text
    assert skipped.state["files"] == first.state["files"]


def test_a_file_written_after_the_window_is_left_for_a_later_run(tmp_path):
    (tmp_path / "a.jsonl").write_bytes(jsonl([segment_track(1)], compress=False))
    past = Window(
        run_date=dt.date(2020, 1, 1), since=None, until=dt.datetime(2020, 1, 2, 6, tzinfo=dt.UTC)
    )
    connector = UsageFilesConnector(UsageFilesOptions(url=str(tmp_path), format="segment"))

    result = connector.extract([USAGE], past, {})

    assert rows(result) == [] and result.state["files"] == {}
    options = UsageFilesOptions(url=str(tmp_path), format="segment", read_files_after_window=True)
    assert len(rows(UsageFilesConnector(options).extract([USAGE], past, {}))) == 1


def test_a_missing_folder_or_bucket_is_an_error_not_an_empty_source(tmp_path, bucket):
    with pytest.raises(SourceError, match="the folder of .*nowhere does not exist"):
        extract({"url": str(tmp_path / "nowhere")})
    with pytest.raises(SourceError, match="the bucket of s3://no-such-bucket-x/p/ does not exist"):
        extract({"url": "s3://no-such-bucket-x/p/"})
    assert rows(extract({"url": f"s3://{bucket.bucket}/not-yet-written/"})) == []


def test_a_misspelt_option_is_refused_by_name():
    with pytest.raises(ValidationError, match="formt"):
        UsageFilesOptions(url="s3://bucket/", formt="segment")
