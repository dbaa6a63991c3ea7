from __future__ import annotations

import json
from pathlib import Path

import pytest

from alertsieve.records import RecordError, atomic_writer, iter_jsonl, read_jsonl, write_jsonl
from alertsieve.schema import Alert, LabelledAlert
from tests.factories import T0, alert, labelled


def _line(**overrides) -> str:
    payload = {"labels": {"alertname": "A", "service": "s"}, "startsAt": T0.isoformat(), **overrides}
    return json.dumps(payload)


def _write(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_roundtrip(tmp_path):
    records = [labelled(True, at=1), labelled(False, at=2, ends_after=3)]
    assert write_jsonl(tmp_path / "h.jsonl", records) == 2
    back = read_jsonl(tmp_path / "h.jsonl", LabelledAlert)
    assert back == records


def test_blank_lines_skipped_and_line_numbers_count_them(tmp_path):
    path = _write(tmp_path / "a.jsonl", _line(), "", "   ", _line(status="resolved"), "")
    alerts = read_jsonl(path, Alert)
    assert [a.status for a in alerts] == ["firing", "resolved"]

    path = _write(tmp_path / "b.jsonl", _line(), "", "{not json")
    with pytest.raises(RecordError) as info:
        read_jsonl(path, Alert)
    assert info.value.line == 3


def test_bad_json_names_line(tmp_path):
    path = _write(tmp_path / "a.jsonl", _line(), '{"labels": ')
    with pytest.raises(RecordError) as info:
        read_jsonl(path, Alert)
    err = info.value
    assert (err.path, err.line, err.field) == (str(path), 2, "(json)")
    assert f"{path}:2:" in str(err)
    assert isinstance(err, ValueError)


@pytest.mark.parametrize("raw", ["[1, 2]", '"text"', "42", "null"])
def test_non_object_rejected(tmp_path, raw):
    path = _write(tmp_path / "a.jsonl", raw)
    with pytest.raises(RecordError) as info:
        read_jsonl(path, Alert)
    assert (info.value.line, info.value.field) == (1, "(record)")


def test_missing_field_named(tmp_path):
    path = _write(tmp_path / "a.jsonl", _line(), _line(), json.dumps({"labels": {"alertname": "A"}}))
    with pytest.raises(RecordError) as info:
        read_jsonl(path, Alert)
    assert (info.value.line, info.value.field) == (3, "startsAt")
    assert "field 'startsAt'" in str(info.value)


def test_missing_actionable_named_for_labelled(tmp_path):
    path = _write(tmp_path / "a.jsonl", _line())
    with pytest.raises(RecordError) as info:
        read_jsonl(path, LabelledAlert)
    assert info.value.field == "actionable"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"labels": "alertname=A"}, "labels"),
        ({"labels": {"alertname": 3}}, "labels.alertname"),
        ({"startsAt": "yesterday"}, "startsAt"),
        ({"status": "pending"}, "status"),
    ],
)
def test_wrong_type_named(tmp_path, overrides, field):
    path = _write(tmp_path / "a.jsonl", _line(**overrides))
    with pytest.raises(RecordError) as info:
        read_jsonl(path, Alert)
    assert (info.value.line, info.value.field) == (1, field)


def test_iter_is_lazy_and_yields_good_lines_before_the_bad_one(tmp_path):
    path = _write(tmp_path / "a.jsonl", _line(), "oops")
    records = iter_jsonl(path, Alert)
    assert next(records).alertname == "A"
    with pytest.raises(RecordError):
        next(records)


def _failing(n: int):
    for i in range(n):
        yield alert(at=i)
    raise RuntimeError("source broke")


def test_failed_write_leaves_no_file_and_no_temp(tmp_path):
    target = tmp_path / "out" / "decisions.jsonl"
    with pytest.raises(RuntimeError, match="source broke"):
        write_jsonl(target, _failing(3))
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_failed_write_keeps_existing_file(tmp_path):
    target = tmp_path / "decisions.jsonl"
    write_jsonl(target, [alert(at=1)])
    before = target.read_bytes()
    with pytest.raises(RuntimeError):
        write_jsonl(target, _failing(5))
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["decisions.jsonl"]


def test_successful_write_replaces_existing_file(tmp_path):
    target = tmp_path / "decisions.jsonl"
    write_jsonl(target, [alert(at=i) for i in range(4)])
    assert write_jsonl(target, [alert(at=9)]) == 1
    assert [a.startsAt for a in read_jsonl(target, Alert)] == [alert(at=9).startsAt]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["decisions.jsonl"]


def test_atomic_writer_content_appears_only_on_exit(tmp_path):
    target = tmp_path / "x.txt"
    with atomic_writer(target) as handle:
        handle.write("hello")
        handle.flush()
        assert not target.exists()
    assert target.read_text() == "hello"


def test_write_excludes_none(tmp_path):
    target = tmp_path / "a.jsonl"
    write_jsonl(target, [alert()])
    assert "endsAt" not in json.loads(target.read_text())


@pytest.mark.parametrize("junk", [b"\xff\xfe\x00binary\x00", b'{"labels": {"alertname": "caf\xe9"}}'])
def test_invalid_utf8_names_file_and_line(tmp_path, junk):
    path = tmp_path / "alerts.jsonl"
    path.write_bytes(b'{"labels": {"alertname": "A"}, "startsAt": "2026-01-05T00:00:00Z"}\n' + junk + b"\n")
    with pytest.raises(RecordError) as info:
        read_jsonl(path, Alert)
    assert info.value.line == 2 and info.value.field == "(encoding)" and str(path) in str(info.value)
