"""Journal lines encoded once: JSONText values go in as they are, the usual record is not
copied first, and what JSON cannot hold still goes through to_jsonable."""

from __future__ import annotations

import json

from aw_tui.rundir.journal import JSONText, decode_line, encode_line, read_events
from aw_tui.rundir.store import PROVENANCE_INLINE, RunStore, to_jsonable

RECORD = {"seq": 7, "time": 1.5, "event": "step_finished", "step_id": 3,
          "summary": {"fwhm": 2.5, "name": "é\u2028"}, "warnings": [], "ok": None,
          "provenance": {"kwargs": {"files": ["/a.fits", "/b.fits"]}, "reads": {}}}


def as_text(value: object) -> JSONText:
    return JSONText(json.dumps(value, ensure_ascii=False))


def test_jsontext_values_give_the_bytes_of_the_values_themselves() -> None:
    plain = encode_line(RECORD)
    assert plain.startswith(json.dumps(RECORD, ensure_ascii=False).encode()[:-1])
    last = {**RECORD, "provenance": as_text(RECORD["provenance"])}
    middle = {**RECORD, "summary": as_text(RECORD["summary"])}
    every = {key: as_text(value) for key, value in RECORD.items()}
    for record in (last, middle, every):
        assert encode_line(record) == plain
    event, problem = decode_line(plain)
    assert problem is None and event == RECORD


def test_append_event_writes_what_json_cannot_hold_as_to_jsonable_does(tmp_path) -> None:
    store = RunStore(str(tmp_path))
    odd = {"keys": {(1, 2): "tuple key"}, "value": object(), "items": (1, 2)}
    store.append_event("warning", step_id=None, **odd)
    store.append_event("step_finished", step_id=1, provenance=as_text({"a": [1, 2]}))
    store.close()
    first, second = read_events(str(tmp_path))
    assert first["keys"] == {"(1, 2)": "tuple key"}
    assert first["value"].startswith("<object object at")
    assert first["items"] == [1, 2]
    assert second["provenance"] == {"a": [1, 2]}
    assert to_jsonable({"p": as_text(1)})["p"].text == "1"


def test_provenance_field_inline_or_in_a_file(tmp_path) -> None:
    store = RunStore(str(tmp_path))
    small = {"kwargs": {"x": 1}, "reads": {}}
    field = store.provenance_field(1, small)
    assert isinstance(field, JSONText) and field.value() == small
    big = {"kwargs": {"x": "y" * PROVENANCE_INLINE}}
    assert store.provenance_field(2, big) == "file"
    with open(store.layout.step_provenance(2), encoding="utf-8") as handle:
        assert json.load(handle) == big
    store.close()


def test_a_light_decoding_leaves_out_provenance_and_results_and_still_checks_the_line(
        tmp_path) -> None:
    """A viewer's reader (``light``) does not decode a step_finished line's provenance and
    results (most of its bytes), yet refuses a damaged line as the full decoding does, and
    a nested ``provenance`` key earlier in the line is not taken for the cut."""
    record = {**RECORD, "results": {"status": "success", "summary": {"n": 1}}}
    line = encode_line(record)
    event, problem = decode_line(line, light=True)
    assert problem is None
    assert event == {k: v for k, v in RECORD.items() if k != "provenance"}
    assert decode_line(line)[0] == record  # the full decoding has every field
    damaged = line.replace(b'"fwhm": 2.5', b'"fwhm": 3.5')
    assert decode_line(damaged, light=True) == (
        None, "its checksum does not match (the line was changed or damaged)")
    nested = encode_line({**record, "summary": {"a": 1, "provenance": {"b": 2}}})
    event, problem = decode_line(nested, light=True)
    assert problem is None and event["summary"] == {"a": 1, "provenance": {"b": 2}}
    old = json.dumps(record, ensure_ascii=False).encode()  # no crc: decoded in full
    assert decode_line(old, light=True) == (record, None)
    store = RunStore(str(tmp_path))
    store.append_event("step_finished", step_id=1, summary={"x": 1},
                       provenance=as_text({"a": 1}), results=as_text({"status": "success"}))
    store.close()
    from aw_tui.rundir.journal import JournalReader
    (light,) = JournalReader(str(tmp_path), light=True).read_new()
    (full,) = JournalReader(str(tmp_path)).read_new()
    assert "provenance" not in light and "results" not in light
    assert {k: v for k, v in full.items() if k not in ("provenance", "results")} == light
