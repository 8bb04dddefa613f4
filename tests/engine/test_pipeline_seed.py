"""The seed's Pipeline documentation (``pipelines.rst``), sentence by sentence, on aw_tui.

Also the run directory contract of ``docs/run-directory.md``: checkpoint reloads after every
failure Python sees, the journal's documented events and fields, the lock, checkpoint safety
and control requests from viewers.
"""

from __future__ import annotations

import datetime
import fcntl
import json
import os
import pickle
import re
import select
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from pathlib import Path

import dill
import pytest
from astropy.table import Table

from aw_tui import Pipeline, PipelineError, PipelineStep, load_pipeline
from aw_tui.pipeline import PipelineWarning, check_path, create_paths, str_2_bool
from aw_tui.rundir.control import write_control_request
from aw_tui.rundir.journal import read_events
from aw_tui.rundir.store import CheckpointError, RunLockedError, RunStore

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "run-directory.md"
HOST = socket.gethostname()


# -- step functions (module level, so a checkpoint refers to them by name) ------------------
def record(step_id, side, value=None, files=None):
    """Append ``<step_id> <value>`` to the side-effect file (``files``: see build_example)."""
    with open(side, "a") as handle:
        handle.write(f"{step_id} {value}\n")
    return {"status": "success", "value": value}


def returns_error(step_id, side):
    record(step_id, side)
    return {"status": "error", "error_msg": "the tool failed"}


def raises(step_id, side):
    record(step_id, side)
    raise ValueError("bad pixel scale 0.0")


def returns_value(step_id, side, value):
    record(step_id, side)
    return value


def fail_while_marker(step_id, side, marker):
    """An error result while ``marker`` exists: a problem the user fixes before resuming."""
    record(step_id, side)
    if os.path.exists(marker):
        return {"status": "error", "error_msg": f"{marker} is in the way"}
    return {"status": "success"}


def interrupt_once(step_id, side, marker):
    """Ctrl-C pressed during the first call (the marker remembers it across reloads)."""
    record(step_id, side)
    if not os.path.exists(marker):
        Path(marker).touch()
        raise KeyboardInterrupt
    return {"status": "success"}


def with_warnings(step_id, side, rows, filename):
    record(step_id, side)
    result = {"status": "success"}
    if rows:
        result["warnings"] = Table(
            {"message": [f"warning {i} of step {step_id}" for i in range(rows)]},
            meta={"filename": filename},
        )
    return result


def wants_both(pipeline, step_id, side):
    record(step_id, side, value=f"{pipeline.name}|{step_id}")
    return {"status": "success"}


def wants_pipeline_only(pipeline, side):
    with open(side, "a") as handle:
        handle.write(f"pipeline {pipeline.name}\n")
    return {"status": "success"}


def wants_kwargs_only(**kwargs):
    with open(kwargs["side"], "a") as handle:
        handle.write("kwargs " + ",".join(sorted(kwargs)) + "\n")
    return {"status": "success"}


def fake_sex(pipeline, step_id, files, api_kwargs, frames, side):
    """A stand-in for ``aw.api.run_sex``: fails on an image that does not exist.

    As in the seed's "Editing a Step", a ``files`` entry in ``api_kwargs`` wins over the
    step's own ``files``; names without a folder are in ``pipeline.paths['images']``.
    """
    image = api_kwargs.get("files", files)["image"]
    if not os.path.isabs(image):
        image = os.path.join(pipeline.paths["images"], image)
    record(step_id, side, value=os.path.basename(image))
    if not os.path.exists(image):
        return {"status": "error", "error_msg": f"{image} not found"}
    Path(api_kwargs["config"]["CATALOG_NAME"]).write_text(f"catalog of {image} {frames}\n")
    return {"status": "success"}


# -- helpers ----------------------------------------------------------------------------------
def make_pipeline(tmp_path, log=True, **kwargs):
    paths = {"temp": str(tmp_path / "temp")}
    if log:
        paths["log"] = str(tmp_path / "log")
    return Pipeline(paths, create_paths=True, **kwargs)


def ran(side):
    """Step ids in the order their functions ran."""
    if not os.path.exists(side):
        return []
    return [int(line.split()[0]) for line in Path(side).read_text().splitlines()]


def values(side):
    return [line.split(" ", 1)[1] for line in Path(side).read_text().splitlines()]


def events_of(log, kind):
    return [e for e in read_events(str(log)) if e["event"] == kind]


def documented_fields():
    """The journal's event table of docs/run-directory.md: {event: [field, ...]}."""
    table = {}
    in_journal = False
    for line in DOC.read_text().splitlines():
        if line.startswith("## "):
            in_journal = "events.jsonl" in line
            continue
        if not in_journal or not line.startswith("| `"):
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        event = cells[0].strip("`")
        extra = re.sub(r"\([^)]*\)", "", cells[1])  # drop "(values)" and "(s)"
        table[event] = ["seq", "time", "event", *re.findall(r"`([a-z_]+)`", extra)]
    return table


def assert_documented(events):
    """Every event of a documented kind carries every documented field."""
    doc = documented_fields()
    for event in events:
        if event["event"] in doc:
            missing = [f for f in doc[event["event"]] if f not in event]
            assert not missing, f"{event['event']} lacks documented fields {missing}: {event}"


def wait_until(predicate, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


# ==============================================================================================
# Setting up the Pipeline
# ==============================================================================================
def test_each_path_key_is_a_k_path_attribute(tmp_path):
    base = tmp_path / "dataset1"
    paths = {
        "temp": str(base / "temp"),
        "log": str(base / "log" / "2015-07-08_15-46-12_test"),
        "config": str(base / "config"),
        "catalogs": str(base / "catalogs"),
        "stacks": str(base / "stacks"),
        "images": str(tmp_path / "images"),
    }
    pipeline = Pipeline(paths, create_paths=True)
    assert pipeline.paths == paths
    for key, path in paths.items():
        assert getattr(pipeline, f"{key}_path") == path
    # The seed uses it like this in its examples.
    assert os.path.join(pipeline.config_path, "default.sex") == str(base / "config" / "default.sex")
    with pytest.raises(AttributeError):
        pipeline.nothing_path  # noqa: B018


def test_create_paths_true_creates_every_missing_path(tmp_path):
    paths = {
        "temp": str(tmp_path / "a" / "temp"),
        "log": str(tmp_path / "a" / "log" / "deep" / "run"),
        "stacks": str(tmp_path / "b" / "stacks"),
    }
    Pipeline(paths, create_paths=True)
    assert all(os.path.isdir(p) for p in paths.values())


PROMPT_SCRIPT = textwrap.dedent(
    """
    import os, sys
    from aw_tui import Pipeline, PipelineError
    temp, log = sys.argv[1:3]
    try:
        Pipeline({"temp": temp, "log": log})
    except PipelineError as exc:
        print("RESULT PipelineError:", exc, flush=True)
    else:
        print("RESULT created" if os.path.isdir(log) else "RESULT missing", flush=True)
    """
)


def run_in_terminal(args, answers, timeout=30.0):
    """Run PROMPT_SCRIPT on a pseudo-terminal, typing one answer per ``(y/n)`` prompt."""
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-c", PROMPT_SCRIPT, *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        close_fds=True,
    )
    os.close(slave)
    output = b""
    answered = 0
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
            if answered < len(answers) and output.count(b"(y/n)") > answered:
                os.write(master, answers[answered].encode() + b"\n")
                answered += 1
            if proc.poll() is not None and not ready:
                break
        else:
            raise AssertionError(f"no end after {timeout}s; output so far: {output!r}")
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
    return output.decode(errors="replace"), answered


def test_missing_path_prompt_answer_yes_creates_it(tmp_path):
    (tmp_path / "temp").mkdir()
    log = tmp_path / "log" / "run1"
    output, answered = run_in_terminal([str(tmp_path / "temp"), str(log)], ["y"])
    assert answered == 1
    assert f"'{log}' does not exist, create (y/n)?" in output
    assert "RESULT created" in output
    assert log.is_dir()


def test_missing_path_prompt_answer_no_raises_pipeline_error(tmp_path):
    (tmp_path / "temp").mkdir()
    log = tmp_path / "log"
    output, _ = run_in_terminal([str(tmp_path / "temp"), str(log)], ["n"])
    assert "RESULT PipelineError:" in output
    assert f"{log} does not exist" in output
    assert not log.exists()


def test_missing_path_prompt_asks_again_until_yes_or_no(tmp_path):
    (tmp_path / "temp").mkdir()
    log = tmp_path / "log"
    output, answered = run_in_terminal([str(tmp_path / "temp"), str(log)], ["maybe", "yes"])
    assert answered == 2
    assert "did not match a boolean expression" in output
    assert "RESULT created" in output and log.is_dir()


def test_missing_path_without_a_terminal_is_a_clear_error_not_a_hang(tmp_path):
    log = tmp_path / "log"
    proc = subprocess.run(
        [sys.executable, "-c", PROMPT_SCRIPT, str(tmp_path / "temp"), str(log)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "RESULT PipelineError:" in proc.stdout, proc.stdout + proc.stderr
    assert "not a terminal" in proc.stdout
    assert "create_paths=True" in proc.stdout  # says what to do instead
    assert not log.exists() and not (tmp_path / "temp").exists()


def test_warns_when_temp_or_log_path_is_missing(tmp_path):
    with pytest.warns(PipelineWarning) as caught:
        Pipeline({})
    text = " ".join(str(w.message) for w in caught)
    assert "'temp'" in text and "'log'" in text
    with pytest.warns(PipelineWarning, match="'log'"):
        Pipeline({"temp": str(tmp_path / "temp")}, create_paths=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PipelineWarning)
        make_pipeline(tmp_path)  # both given: no warning


def test_default_name_is_the_current_date_and_time(tmp_path):
    before = datetime.datetime.now().replace(microsecond=0)
    pipeline = make_pipeline(tmp_path)
    after = datetime.datetime.now()
    stamp = datetime.datetime.strptime(pipeline.name[:19], "%Y-%m-%d_%H-%M-%S")
    assert before <= stamp <= after
    assert make_pipeline(tmp_path, pipeline_name="dataset1").name == "dataset1"


def test_extra_keyword_arguments_become_attributes_and_build_paths_is_kept(tmp_path):
    build_paths = {
        "SExtractor": "/Users/me/astromatic/build/sex/bin/sex",
        "SCAMP": "/Users/me/astromatic/build/scamp/bin/scamp",
    }
    pipeline = make_pipeline(
        tmp_path, build_paths=build_paths, field="COSMOS", exposures=[1, 2]
    )
    assert pipeline.build_paths == build_paths
    assert pipeline.field == "COSMOS"
    assert pipeline.exposures == [1, 2]


# ==============================================================================================
# Building a Pipeline
# ==============================================================================================
def test_add_step_appends_pipeline_steps_with_ids_from_next_id(tmp_path):
    pipeline = make_pipeline(tmp_path, next_id=10)
    first = pipeline.add_step(record, ["step1", "SExtractor"], side="s", value=1)
    second = pipeline.add_step(returns_error, ignore_errors=True, ignore_exceptions=True, side="s")
    assert pipeline.steps == [first, second]
    assert all(isinstance(step, PipelineStep) for step in pipeline.steps)
    assert [step.step_id for step in pipeline.steps] == [10, 11]
    assert pipeline.next_id == 12
    assert first.func is record and first.tags == ["step1", "SExtractor"]
    assert first.func_kwargs == {"side": "s", "value": 1}
    assert (first.ignore_errors, first.ignore_exceptions) == (False, False)
    assert (second.ignore_errors, second.ignore_exceptions, second.tags) == (True, True, [])
    assert first.results is None and second.results is None


def test_other_add_step_kwargs_become_the_functions_kwargs(tmp_path):
    side = str(tmp_path / "side")
    pipeline = make_pipeline(tmp_path)
    pipeline.add_step(record, ["t"], side=side, value="from add_step")
    pipeline.run()
    assert values(side) == ["from add_step"]
    assert pipeline.steps[0].results == {"status": "success", "value": "from add_step"}


def test_any_python_function_is_a_step_and_success_is_recorded(tmp_path):
    side = str(tmp_path / "side")
    pipeline = make_pipeline(tmp_path)
    for _ in range(3):
        pipeline.add_step(record, side=side)
    result = pipeline.run()
    assert result == {"status": "success", "warnings": None}
    assert ran(side) == [0, 1, 2]
    assert pipeline.run_step_idx == 3
    assert [e["status"] for e in events_of(tmp_path / "log", "step_finished")] == ["success"] * 3


@pytest.mark.parametrize(
    "returned",
    [None, 42, "done", {"value": 1}, {"status": "finished"}],
    ids=["None", "int", "str", "dict-without-status", "other-status"],
)
def test_anything_but_success_or_error_is_status_unknown_with_a_warning(tmp_path, returned):
    side = str(tmp_path / "side")
    pipeline = make_pipeline(tmp_path)
    pipeline.add_step(returns_value, side=side, value=returned)
    pipeline.add_step(record, side=side)
    with pytest.warns(PipelineWarning, match="unknown"):
        pipeline.run()
    assert ran(side) == [0, 1]  # the run goes on
    assert pipeline.steps[0].results["status"] == "unknown"
    log = tmp_path / "log"
    finished = events_of(log, "step_finished")
    assert [e["status"] for e in finished] == ["unknown", "success"]
    assert [e["step_id"] for e in events_of(log, "warning")] == [0]


def test_error_result_stops_the_run_with_a_pipeline_error(tmp_path):
    side = str(tmp_path / "side")
    pipeline = make_pipeline(tmp_path)
    pipeline.add_step(record, side=side)
    pipeline.add_step(returns_error, side=side)
    pipeline.add_step(record, side=side)
    with pytest.raises(PipelineError, match=r"step 1 \(returns_error.*the tool failed"):
        pipeline.run()
    assert ran(side) == [0, 1]
    assert pipeline.run_step_idx == 1
    assert pipeline.steps[1].results == {"status": "error", "error_msg": "the tool failed"}


def test_exception_stops_the_run_naming_the_step_and_chaining_the_original(tmp_path):
    side = str(tmp_path / "side")
    pipeline = make_pipeline(tmp_path)
    pipeline.add_step(record, side=side)
    pipeline.add_step(raises, side=side)
    pipeline.add_step(record, side=side)
    with pytest.raises(PipelineError) as info:
        pipeline.run()
    assert "step 1" in str(info.value) and "raises" in str(info.value)
    assert "bad pixel scale 0.0" in str(info.value)
    assert isinstance(info.value.__cause__, ValueError)
    assert str(info.value.__cause__) == "bad pixel scale 0.0"
    assert ran(side) == [0, 1]
    assert pipeline.run_step_idx == 1


@pytest.mark.parametrize("run_flag", [None, False, True])
@pytest.mark.parametrize("step_flag", [False, True])
def test_ignore_errors_step_flag_and_run_level_override(tmp_path, step_flag, run_flag):
    side = str(tmp_path / "side")
    pipeline = make_pipeline(tmp_path)
    pipeline.add_step(returns_error, ignore_errors=step_flag, side=side)
    pipeline.add_step(record, side=side)
    ignored = step_flag if run_flag is None else run_flag
    if ignored:
        with pytest.warns(PipelineWarning, match="Error in step 0"):
            result = pipeline.run(ignore_errors=run_flag)
        assert result["status"] == "success"
        assert ran(side) == [0, 1]
        assert pipeline.steps[0].results["status"] == "error"  # logged
        assert events_of(tmp_path / "log", "step_finished")[0]["ignored"] is True
    else:
        with pytest.raises(PipelineError, match="step 0"):
            pipeline.run(ignore_errors=run_flag)
        assert ran(side) == [0]
        assert pipeline.run_step_idx == 0


@pytest.mark.parametrize("run_flag", [None, False, True])
@pytest.mark.parametrize("step_flag", [False, True])
def test_ignore_exceptions_step_flag_and_run_level_override(tmp_path, step_flag, run_flag):
    side = str(tmp_path / "side")
    pipeline = make_pipeline(tmp_path)
    pipeline.add_step(raises, ignore_exceptions=step_flag, side=side)
    pipeline.add_step(record, side=side)
    ignored = step_flag if run_flag is None else run_flag
    if ignored:
        with pytest.warns(PipelineWarning, match="Exception occurred during step 0"):
            pipeline.run(ignore_exceptions=run_flag)
        assert ran(side) == [0, 1]
        results = pipeline.steps[0].results
        assert results["status"] == "error"
        assert "Traceback" in results["error"] and "bad pixel scale 0.0" in results["error"]
        assert "in raises" in results["error"]  # the traceback reaches into the step
    else:
        with pytest.raises(PipelineError, match="step 0") as info:
            pipeline.run(ignore_exceptions=run_flag)
        assert isinstance(info.value.__cause__, ValueError)
        assert ran(side) == [0]


def test_ignore_errors_does_not_ignore_exceptions_and_vice_versa(tmp_path):
    side = str(tmp_path / "side")
    pipeline = make_pipeline(tmp_path)
    pipeline.add_step(raises, ignore_errors=True, side=side)
    with pytest.raises(PipelineError):
        pipeline.run()
    pipeline = make_pipeline(tmp_path)
    pipeline.add_step(returns_error, ignore_exceptions=True, side=side)
    with pytest.raises(PipelineError):
        pipeline.run()
    with pytest.raises(PipelineError):
        pipeline.run(ignore_exceptions=True)


def test_pipeline_and_step_id_go_only_to_functions_whose_signature_names_them(tmp_path):
    side = str(tmp_path / "side")
    pipeline = make_pipeline(tmp_path, pipeline_name="night")
    pipeline.add_step(wants_both, side=side)
    pipeline.add_step(wants_pipeline_only, side=side)
    pipeline.add_step(wants_kwargs_only, side=side, other=1)
    pipeline.add_step(record, side=side)  # takes step_id, not pipeline
    pipeline.run()
    lines = Path(side).read_text().splitlines()
    assert lines == ["0 night|0", "pipeline night", "kwargs other,side", "3 None"]


# ==============================================================================================
# Running a subset of the Pipeline
# ==============================================================================================
def build_example(tmp_path, side):
    """The tags of the seed's Full Example (steps 0-2: step1, then step2 ... step7)."""
    pipeline = make_pipeline(tmp_path)
    for image in ("206401.fits", "206402.fits", "206403.fits"):
        pipeline.add_step(record, ["step1", "SExtractor"], side=side, files={"image": image})
    pipeline.add_step(record, ["step2", "SCAMP"], side=side)
    pipeline.add_step(record, ["step3", "SWarp"], side=side)
    pipeline.add_step(record, ["step4", "SExtractor"], side=side, files={"image": "stack.fits"})
    pipeline.add_step(record, ["step5", "PSFEx"], side=side)
    pipeline.add_step(record, ["step6", "SExtractor"], side=side, files={"image": "stack.fits"})
    pipeline.add_step(record, ["step7", "save_output"], side=side)
    return pipeline


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, [0, 1, 2, 3, 4, 5, 6, 7, 8]),
        ({"run_tags": ["step1"]}, [0, 1, 2]),
        ({"ignore_tags": ["step7"]}, [0, 1, 2, 3, 4, 5, 6, 7]),
        ({"run_tags": ["SExtractor"], "ignore_tags": ["step1"]}, [5, 7]),
        ({"run_tags": ["step1", "step2"], "ignore_tags": ["step1"]}, [3]),
        ({"run_tags": ["step2", "step7"]}, [3, 8]),
    ],
)
def test_run_tags_and_ignore_tags_select_steps_ignore_wins(tmp_path, kwargs, expected):
    side = str(tmp_path / "side")
    pipeline = build_example(tmp_path, side)
    pipeline.run(**kwargs)
    assert ran(side) == expected
    assert [step.step_id for step in pipeline.run_steps] == expected
    assert all(step in pipeline.steps for step in pipeline.run_steps)


def test_run_tags_positionally_as_in_the_seed(tmp_path):
    side = str(tmp_path / "side")
    pipeline = build_example(tmp_path, side)
    pipeline.run(["step1"])
    assert ran(side) == [0, 1, 2]


def test_custom_selection_of_steps_with_the_seeds_list_comprehension(tmp_path):
    side = str(tmp_path / "side")
    pipeline = build_example(tmp_path, side)
    steps = [
        step
        for step in pipeline.steps
        if "SExtractor" in step.tags and "206401.fits" == step.func_kwargs["files"]["image"]  # noqa: SIM300
    ]
    pipeline.run(run_steps=steps)
    assert ran(side) == [0]
    assert pipeline.run_steps == steps and pipeline.run_steps[0] is pipeline.steps[0]


def test_resume_keeps_run_steps_and_run_step_idx(tmp_path):
    side = str(tmp_path / "side")
    marker = tmp_path / "marker"
    marker.touch()
    pipeline = build_example(tmp_path, side)
    pipeline.steps[1].func = fail_while_marker
    pipeline.steps[1].func_kwargs = {"side": side, "marker": str(marker)}
    with pytest.raises(PipelineError):
        pipeline.run(["step1"])
    assert pipeline.run_step_idx == 1 and len(pipeline.run_steps) == 3
    marker.unlink()
    pipeline.run(resume=True)
    assert ran(side) == [0, 1, 1, 2]  # 0 is not run again, nothing outside step1 runs
    assert [step.step_id for step in pipeline.run_steps] == [0, 1, 2]
    assert pipeline.run_step_idx == 3


def test_resume_with_start_idx_skips_a_step_of_the_subset(tmp_path):
    side = str(tmp_path / "side")
    pipeline = build_example(tmp_path, side)
    pipeline.steps[1].func = returns_error
    pipeline.steps[1].func_kwargs = {"side": side}
    with pytest.raises(PipelineError):
        pipeline.run(["step1"])
    pipeline.run(resume=True, start_idx=2)
    assert ran(side) == [0, 1, 2]  # step 1 skipped, no step outside the subset
    assert [step.step_id for step in pipeline.run_steps] == [0, 1, 2]


def test_start_idx_without_resume_resets_run_steps_then_starts_there(tmp_path):
    # The seed's warning: without resume=True, run_steps is selected afresh (all steps
    # here) and the run starts from start_idx of that new list.
    side = str(tmp_path / "side")
    pipeline = build_example(tmp_path, side)
    pipeline.run(["step1"])
    Path(side).unlink()
    pipeline.run(start_idx=5)
    assert pipeline.run_steps == list(pipeline.steps)
    assert ran(side) == [5, 6, 7, 8]


def test_start_idx_outside_run_steps_is_an_error(tmp_path):
    pipeline = build_example(tmp_path, str(tmp_path / "side"))
    with pytest.raises(PipelineError, match="start_idx 12"):
        pipeline.run(start_idx=12)


# ==============================================================================================
# Results
# ==============================================================================================
def test_run_returns_success_and_the_stacked_warnings_table(tmp_path):
    side = str(tmp_path / "side")
    pipeline = make_pipeline(tmp_path)
    pipeline.add_step(with_warnings, side=side, rows=2, filename="0.sex.log.xml")
    pipeline.add_step(with_warnings, side=side, rows=0, filename="none")
    pipeline.add_step(with_warnings, side=side, rows=1, filename="2.scamp.log.xml")
    result = pipeline.run()
    assert result["status"] == "success"
    table = result["warnings"]
    assert isinstance(table, Table)
    assert list(table["step"]) == [0, 0, 2]
    assert list(table["func"]) == ["with_warnings"] * 3
    assert list(table["filename"]) == ["0.sex.log.xml", "0.sex.log.xml", "2.scamp.log.xml"]
    assert list(table["message"]) == ["warning 0 of step 0", "warning 1 of step 0",
                                      "warning 0 of step 2"]
    # the steps' own tables are left as they were
    assert pipeline.steps[0].results["warnings"].colnames == ["message"]
    plain = pipeline.get_result_table("warnings")
    assert "filename" not in plain.colnames and len(plain) == 3
    assert pipeline.get_result_table("no such key") is None


def test_str_2_bool_check_path_and_create_paths(tmp_path):
    for text in ("y", "Yes", "TRUE", "t", "ye"):
        assert str_2_bool(text) is True
    for text in ("n", "No", "false", "F", "fals"):
        assert str_2_bool(text) is False
    for text in ("maybe", "", "yess"):
        with pytest.raises(PipelineError, match="did not match a boolean"):
            str_2_bool(text)
    target = tmp_path / "x" / "y"
    check_path(str(target), auto_create=True)
    assert target.is_dir()
    check_path(str(target))  # exists: nothing asked
    create_paths([str(tmp_path / "p1"), str(tmp_path / "p2" / "q")])
    create_paths(str(tmp_path / "p3"))
    assert all((tmp_path / p).is_dir() for p in ("p1", "p2/q", "p3"))
    (tmp_path / "file").write_text("")
    with pytest.raises(PipelineError, match="cannot create directory"):
        create_paths(str(tmp_path / "file" / "sub"))


# ==============================================================================================
# Editing a Step, Resuming a Pipeline, Logging and Loading a Pipeline
# ==============================================================================================
def build_sextractor_pipeline(tmp_path, side):
    images = tmp_path / "images"
    images.mkdir()
    for name in ("206400.fits", "206401.fits", "206402.fits"):  # 206403 was a typo
        (images / name).write_text("image")
    paths = {
        "temp": str(tmp_path / "temp"),
        "log": str(tmp_path / "log"),
        "catalogs": str(tmp_path / "catalogs"),
        "images": str(images),
    }
    pipeline = Pipeline(paths, create_paths=True)
    for name in ("206401.fits", "206402.fits", "206403.fits"):
        files = {"image": os.path.join(pipeline.paths["images"], name)}
        catalog = os.path.join(pipeline.paths["temp"], name.replace(".fits", ".cat"))
        kwargs = {
            "files": files,
            "api_kwargs": {
                "config": {"CATALOG_NAME": catalog, "CATALOG_TYPE": "FITS_LDAC"},
            },
            "frames": [1],
        }
        pipeline.add_step(fake_sex, ["step1", "SExtractor"], side=side, **kwargs)
    pipeline.add_step(record, ["step7", "save_output"], side=side, value="saved")
    return pipeline


@pytest.mark.parametrize("reload", [False, True], ids=["in-memory", "checkpoint-reloaded"])
def test_editing_a_step_then_resuming_as_the_seed_writes_it(tmp_path, reload):
    side = str(tmp_path / "side")
    pipeline = build_sextractor_pipeline(tmp_path, side)
    with pytest.raises(PipelineError, match=r"206403\.fits not found"):
        pipeline.run()
    if reload:
        log = pipeline.paths["log"]
        del pipeline
        pipeline = dill.load(open(os.path.join(log, "pipeline.p"), "rb"))  # noqa: SIM115
    assert pipeline.run_step_idx == 2  # the step that threw the error
    # -- the seed, literally --
    idx = pipeline.run_steps[pipeline.run_step_idx]
    pipeline.steps[idx].func_kwargs["api_kwargs"]["files"] = {"image": "206400.fits"}
    assert (
        pipeline.run_steps[pipeline.run_step_idx].func_kwargs["api_kwargs"]["files"]["image"]
        == "206400.fits"
    )
    result = pipeline.run(resume=True)
    # -- the outcome --
    assert result["status"] == "success"
    assert values(side) == [
        "206401.fits", "206402.fits", "206403.fits",  # the first run, up to the failure
        "206400.fits", "saved",  # the resume: completed steps are not run again
    ]
    temp = tmp_path / "temp"
    assert sorted(p.name for p in temp.iterdir()) == ["206401.cat", "206402.cat", "206403.cat"]
    assert "206400.fits" in (temp / "206403.cat").read_text()
    assert [s.results["status"] for s in pipeline.steps] == ["success"] * 4


def test_resume_after_ctrl_c_from_the_reloaded_checkpoint(tmp_path):
    side = str(tmp_path / "side")
    log = tmp_path / "log"
    pipeline = make_pipeline(tmp_path)
    pipeline.add_step(record, side=side)
    pipeline.add_step(record, side=side)
    pipeline.add_step(interrupt_once, side=side, marker=str(tmp_path / "pressed"))
    pipeline.add_step(record, side=side)
    with pytest.raises(KeyboardInterrupt):
        pipeline.run()
    del pipeline
    pipeline = dill.load(open(log / "pipeline.p", "rb"))  # noqa: SIM115
    assert pipeline.run_step_idx == 2
    assert [s.results for s in pipeline.steps][2:] == [None, None]
    assert_documented(read_events(str(log)))
    interrupted = events_of(log, "step_interrupted")
    assert [(e["step_id"], e["index"], e["reason"]) for e in interrupted] == [(2, 2, "SIGINT")]
    assert events_of(log, "run_interrupted")[0]["reason"] == "SIGINT"
    pipeline.run(resume=True)
    assert ran(side) == [0, 1, 2, 2, 3]  # only the interrupted step runs again
    assert pipeline.run_step_idx == 4


SIGTERM_SCRIPT = textwrap.dedent(
    """
    import sys
    from aw_tui import Pipeline

    # Defined in __main__, as in a script or a notebook: dill saves them by value, so
    # their imports are inside.
    def note(step_id, side):
        with open(side, "a") as handle:
            handle.write(f"{step_id}\\n")
        return {"status": "success"}

    def wait_for(step_id, side, path):
        import os, time
        with open(side, "a") as handle:
            handle.write(f"{step_id}\\n")
        deadline = time.monotonic() + 60
        while not os.path.exists(path):
            if time.monotonic() > deadline:
                return {"status": "error", "error_msg": "timeout"}
            time.sleep(0.01)
        return {"status": "success"}

    log, side, go = sys.argv[1:4]
    pipeline = Pipeline({"temp": log + "-temp", "log": log}, create_paths=True)
    pipeline.add_step(note, side=side)
    pipeline.add_step(note, side=side)
    pipeline.add_step(wait_for, side=side, path=go)
    pipeline.add_step(note, side=side)
    pipeline.run()
    """
)


def test_resume_after_sigterm_of_a_script_from_its_checkpoint(tmp_path):
    log, side, go = tmp_path / "log", tmp_path / "side", tmp_path / "go"
    script = tmp_path / "script.py"
    script.write_text(SIGTERM_SCRIPT)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(log), str(side), str(go)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until(lambda: ran(side) == [0, 1, 2], what="step 2 to start")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    assert b"RunInterrupted" in err
    assert not (log / "lock").exists()
    assert_documented(read_events(str(log)))
    interrupted = events_of(log, "step_interrupted")
    assert [(e["step_id"], e["reason"]) for e in interrupted] == [(2, "SIGTERM")]
    assert events_of(log, "run_interrupted")[0]["reason"] == "SIGTERM"

    pipeline = dill.load(open(log / "pipeline.p", "rb"))  # noqa: SIM115
    assert pipeline.run_step_idx == 2
    assert [s.results["status"] for s in pipeline.steps[:2]] == ["success", "success"]
    go.touch()
    pipeline.run(resume=True)
    assert ran(side) == [0, 1, 2, 2, 3]
    assert [s.results["status"] for s in pipeline.steps] == ["success"] * 4


def test_named_run_writes_pipeline_run_name_p(tmp_path):
    side = str(tmp_path / "side")
    log = tmp_path / "log"
    pipeline = make_pipeline(tmp_path)
    pipeline.add_step(record, side=side)
    pipeline.add_step(returns_error, side=side)
    with pytest.raises(PipelineError):
        pipeline.run(run_name="night1")
    assert (log / "pipeline-night1.p").is_file()
    assert not (log / "pipeline.p").exists()
    loaded = dill.load(open(log / "pipeline-night1.p", "rb"))  # noqa: SIM115
    assert (loaded.run_name, loaded.run_step_idx) == ("night1", 1)
    for again in (
        load_pipeline(str(log), run_name="night1"),
        load_pipeline(str(log)),  # the only checkpoint there
        load_pipeline(str(log / "pipeline-night1.p")),  # or the file itself
    ):
        assert again.run_step_idx == 1 and again.steps[0].results["status"] == "success"
    assert events_of(log, "run_started")[0]["run_name"] == "night1"
    with pytest.raises(CheckpointError, match="night2"):
        load_pipeline(str(log), run_name="night2")


def test_load_pipeline_of_a_named_run_is_not_mixed_with_a_later_run(tmp_path):
    side = str(tmp_path / "side")
    log = str(tmp_path / "log")
    pipeline = make_pipeline(tmp_path)
    for tag in ("a", "a", "b"):
        pipeline.add_step(record, [tag], side=side)
    pipeline.run(["a"], run_name="first")
    pipeline.run(["b"], run_name="second")
    first = load_pipeline(log, run_name="first")
    assert [s.step_id for s in first.run_steps] == [0, 1]
    assert (first.run_name, first.run_step_idx) == ("first", 2)
    second = load_pipeline(log, run_name="second")
    assert [s.step_id for s in second.run_steps] == [2]


# ==============================================================================================
# The run directory: lock, checkpoint safety, journal, control requests
# ==============================================================================================
STEPS_MODULE = '''
import os
import time


def note(step_id, side, value=None):
    with open(side, "a") as handle:
        handle.write(f"{step_id} {value}\\n")
    return {"status": "success", "value": value}


def wait_for(step_id, side, path, value=None):
    note(step_id, side, value)
    deadline = time.monotonic() + 60
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            return {"status": "error", "error_msg": "timed out waiting for " + path}
        time.sleep(0.01)
    return {"status": "success"}
'''

RUNNER_SCRIPT = textwrap.dedent(
    """
    import sys
    from aw_tui import Pipeline, load_pipeline
    import awt_seed_steps as steps

    log, side, go, mode = sys.argv[1:5]
    if mode == "resume":
        pipeline = load_pipeline(log)
        pipeline.run(resume=True)
    else:
        pipeline = Pipeline({"temp": log + "-temp", "log": log}, create_paths=True)
        pipeline.add_step(steps.wait_for, ["wait"], side=side, path=go)
        pipeline.add_step(steps.note, ["note"], side=side, value="original")
        pipeline.add_step(steps.note, ["note"], side=side, value="last")
        pipeline.run(run_name=None if mode == "-" else mode)
    print("RUNNER DONE", flush=True)
    """
)


@pytest.fixture
def runner(tmp_path, monkeypatch):
    """Start RUNNER_SCRIPT (a 3-step pipeline whose step 0 waits for ``go``) in a subprocess."""
    mods = tmp_path / "mods"
    mods.mkdir()
    (mods / "awt_seed_steps.py").write_text(STEPS_MODULE)
    (mods / "runner.py").write_text(RUNNER_SCRIPT)
    monkeypatch.syspath_prepend(str(mods))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(mods), *sys.path]))
    procs = []

    def start(mode="-"):
        args = [str(tmp_path / "log"), str(tmp_path / "side"), str(tmp_path / "go"), mode]
        proc = subprocess.Popen(
            [sys.executable, str(mods / "runner.py"), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


def test_a_second_runner_on_the_same_run_directory_is_refused(tmp_path, runner):
    side, log = str(tmp_path / "side"), tmp_path / "log"
    proc = runner()
    wait_until(lambda: ran(side) == [0], what="the first runner's step 0")
    lock = json.loads((log / "lock").read_text())
    assert (lock["host"], lock["pid"]) == (HOST, proc.pid)
    assert {"host", "pid", "started", "run_name"} <= set(lock)

    second = Pipeline({"temp": str(tmp_path / "t2"), "log": str(log)}, create_paths=True)
    second.add_step(record, side=side, value="second")
    with pytest.raises(RunLockedError) as info:
        second.run()
    message = str(info.value)
    assert f"pid {proc.pid}" in message and f"host {HOST}" in message
    assert ran(side) == [0]  # the second runner ran nothing...
    assert len(events_of(log, "run_started")) == 1  # ...and wrote nothing to the journal

    (tmp_path / "go").touch()
    out, err = proc.communicate(timeout=30)
    assert b"RUNNER DONE" in out, err
    assert not (log / "lock").exists()
    second.run()  # now free
    assert values(side)[-1] == "second"


def test_a_second_run_of_the_directory_in_the_same_process_is_refused(tmp_path):
    # e.g. a notebook running one pipeline in a thread, then starting another on the same
    # 'log': the lock names this very process, which is alive and running.
    side, go, log = str(tmp_path / "side"), tmp_path / "go", tmp_path / "log"
    first = make_pipeline(tmp_path)
    first.add_step(wait_for_file, side=side, path=str(go))
    errors = []
    thread = threading.Thread(target=lambda: errors.extend(catch(first.run)))
    thread.start()
    try:
        wait_until(lambda: ran(side) == [0], what="the first run's step 0")
        second = make_pipeline(tmp_path)
        second.add_step(record, side=side, value="second")
        with pytest.raises(RunLockedError, match=f"pid {os.getpid()}"):
            second.run()
        assert ran(side) == [0]
    finally:
        go.touch()
        thread.join(timeout=30)
    assert errors == [] and not (log / "lock").exists()
    assert first.steps[0].results["status"] == "success"


def wait_for_file(step_id, side, path):
    record(step_id, side)
    deadline = time.monotonic() + 30
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.01)
    return {"status": "success" if os.path.exists(path) else "error"}


def catch(func):
    try:
        func()
    except BaseException as exc:
        return [exc]
    return []


def dead_pid():
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(proc.stdout)


def test_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    side = str(tmp_path / "side")
    pipeline = make_pipeline(tmp_path)
    pipeline.add_step(record, side=side)
    log = tmp_path / "log"
    pid = dead_pid()
    (log / "lock").write_text(json.dumps(
        {"host": HOST, "pid": pid, "started": time.time() - 60, "run_name": None}))
    pipeline.run()
    assert ran(side) == [0]
    assert events_of(log, "run_started")[0]["pid"] == os.getpid()
    assert not (log / "lock").exists()


def test_a_lock_from_another_host_is_trusted_while_its_kernel_lock_is_held(tmp_path):
    """The record names the holder; the kernel lock (flock, which a runner on another host
    holds through the shared file system) says whether it is live."""
    pipeline = make_pipeline(tmp_path)
    pipeline.add_step(record, side=str(tmp_path / "side"))
    lock = {"host": "node17.cluster.example", "pid": dead_pid(), "started": time.time(),
            "run_name": None}
    path = tmp_path / "log" / "lock"
    path.write_text(json.dumps(lock))
    with open(path) as held:  # the runner on node17, alive
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        with pytest.raises(RunLockedError, match=rf"pid {lock['pid']} on host node17\.cluster"):
            pipeline.run()
        assert not (tmp_path / "side").exists()
    pipeline.run()  # node17's runner died (its kernel lock went with it): taken over
    assert (tmp_path / "side").exists()


class Planted:
    """Unpickling this creates ``marker``: stands for any code a planted pickle runs."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_checkpoint_writable_by_group_or_others_is_refused_unread(tmp_path):
    log = tmp_path / "log"
    log.mkdir()
    marker = tmp_path / "code-ran"
    checkpoint = log / "pipeline.p"
    checkpoint.write_bytes(pickle.dumps(Planted(str(marker))))
    for mode in (0o664, 0o646, 0o666):
        checkpoint.chmod(mode)
        with pytest.raises(CheckpointError, match="group or others can write"):
            load_pipeline(str(log))
        assert not marker.exists()
    # The planted pickle does run code when it is loaded: the check above is what stops it.
    checkpoint.chmod(0o600)
    with pytest.raises(CheckpointError, match="does not hold an aw_tui Pipeline"):
        load_pipeline(str(log))
    assert marker.exists()


def test_checkpoint_owned_by_another_user_is_refused_unread(tmp_path, monkeypatch):
    log = tmp_path / "log"
    log.mkdir()
    marker = tmp_path / "code-ran"
    checkpoint = log / "pipeline.p"
    checkpoint.write_bytes(pickle.dumps(Planted(str(marker))))
    checkpoint.chmod(0o600)
    owner = checkpoint.stat().st_uid
    monkeypatch.setattr(os, "getuid", lambda: owner + 1)
    with pytest.raises(CheckpointError, match=f"owned by uid {owner}, not by you"):
        load_pipeline(str(log))
    assert not marker.exists()


def test_checkpoint_written_under_a_group_writable_umask_still_loads(tmp_path):
    old = os.umask(0o002)
    try:
        pipeline = make_pipeline(tmp_path)
        pipeline.add_step(record, side=str(tmp_path / "side"))
        pipeline.run()
    finally:
        os.umask(old)
    mode = stat.S_IMODE((tmp_path / "log" / "pipeline.p").stat().st_mode)
    assert not mode & 0o022
    assert load_pipeline(str(tmp_path / "log")).steps[0].results["status"] == "success"


def test_the_documented_journal_table_is_parsed():
    assert set(documented_fields()) == {
        "run_started", "step_started", "step_finished", "step_interrupted", "edit_applied",
        "stop_requested", "run_finished", "run_failed", "run_interrupted", "warning",
        "group_finished",
    }
    assert documented_fields()["step_finished"] == [
        "seq", "time", "event", "step_id", "index", "status", "duration", "summary",
        "error_msg", "verdict", "warnings", "ignored", "host", "worker", "run_step_idx",
        "completed", "provenance", "results",
    ]


def test_journal_events_and_fields_are_the_documented_ones(tmp_path):
    side = str(tmp_path / "side")
    log = tmp_path / "log"
    marker = tmp_path / "marker"
    marker.touch()
    pipeline = make_pipeline(tmp_path, pipeline_name="docs")
    pipeline.add_step(record, ["a"], side=side)
    pipeline.add_step(returns_value, ["b"], side=side, value={"no": "status"})
    pipeline.add_step(returns_error, ["c"], ignore_errors=True, side=side)
    pipeline.add_step(fail_while_marker, ["d"], side=side, marker=str(marker))
    pipeline.add_step(record, ["e"], side=side)
    t0 = time.time()
    with pytest.warns(PipelineWarning), pytest.raises(PipelineError):
        pipeline.run()
    marker.unlink()
    pipeline.run(resume=True)
    events = read_events(str(log))
    assert_documented(events)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert all(isinstance(e["time"], float) and t0 - 1 < e["time"] < time.time() + 1
               for e in events)
    kinds = [e["event"] for e in events]
    assert kinds == [
        "run_started",
        "step_started", "step_finished",
        "step_started", "warning", "step_finished",
        "step_started", "warning", "step_finished",
        "step_started", "step_finished", "run_failed",
        "run_started",
        "step_started", "step_finished",
        "step_started", "step_finished",
        "run_finished",
    ]
    first, second = events_of(log, "run_started")
    assert first["run_steps"] == [0, 1, 2, 3, 4] and first["total"] == 5
    assert (first["start_idx"], first["resume"], first["run_name"]) == (0, False, None)
    assert (first["host"], first["pid"], first["pipeline_name"]) == (HOST, os.getpid(), "docs")
    assert first["checkpoint"] == str(log / "pipeline.p")
    assert (second["start_idx"], second["resume"]) == (3, True)
    started = events_of(log, "step_started")
    assert [(e["step_id"], e["index"]) for e in started] == [
        (0, 0), (1, 1), (2, 2), (3, 3), (3, 3), (4, 4)]
    assert started[0]["func"] == "record" and started[0]["tags"] == ["a"]
    assert started[0]["worker"] is None and started[0]["host"] == HOST
    finished = events_of(log, "step_finished")
    assert [(e["step_id"], e["status"], e["ignored"]) for e in finished] == [
        (0, "success", False), (1, "unknown", False), (2, "error", True),
        (3, "error", False), (3, "success", False), (4, "success", False)]
    assert finished[2]["error_msg"] == "the tool failed"
    assert all(e["duration"] >= 0 and isinstance(e["summary"], dict) for e in finished)
    failed = events_of(log, "run_failed")[0]
    assert (failed["step_id"], failed["index"]) == (3, 3)
    assert "marker is in the way" in failed["error_msg"]
    done = events_of(log, "run_finished")[0]
    assert done["status"] == "success" and done["duration"] >= 0
    # the results: in the line when JSON gives them back exactly, else in the file it names
    assert [e["results"] for e in finished[:2]] == [
        {"status": "success", "value": None},
        {"status": "unknown", "result": {"no": "status"}}]
    for event in finished:
        results = event["results"]
        if results == "file":
            with open(log / "steps" / f"{event['step_id']}.result.p", "rb") as handle:
                results = dill.load(handle)
        assert results["status"] == event["status"]
    assert not list((log / "steps").glob("*.result.p"))  # all of them plain here


def test_journal_seq_stays_unique_when_two_threads_append(tmp_path):
    # The runner's control-watcher thread journals stop requests while the main thread
    # journals steps: seq must still number the events 1, 2, 3, ... without repeats.
    store = RunStore(str(tmp_path / "log"))

    def append(tag):
        for i in range(2000):
            store.append_event("warning", step_id=None, message=f"{tag}{i}")

    threads = [threading.Thread(target=append, args=(tag,)) for tag in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    store.close()
    events = read_events(str(tmp_path / "log"))
    assert len(events) == 4000
    assert sorted(e["seq"] for e in events) == list(range(1, 4001))
    assert [e["seq"] for e in events] == list(range(1, 4001))  # in file order too


def test_control_edit_of_a_pending_step_while_the_run_is_live(tmp_path, runner):
    side, log = str(tmp_path / "side"), tmp_path / "log"
    proc = runner()
    wait_until(lambda: ran(side) == [0], what="step 0 to start")
    write_control_request(str(log), {
        "action": "edit", "step_id": 1, "func_kwargs": {"side": side, "value": "edited"}})
    write_control_request(str(log), {  # step 0 has started: too late for it
        "action": "edit", "step_id": 0, "func_kwargs": {"side": side, "value": "late"}})
    (tmp_path / "go").touch()
    out, err = proc.communicate(timeout=30)
    assert b"RUNNER DONE" in out, err
    assert values(side) == ["None", "edited", "last"]
    edits = events_of(log, "edit_applied")
    assert_documented(edits)
    assert [(e["step_id"], e["source"]) for e in edits] == [(1, "control")]
    assert edits[0]["func_kwargs"] == {"side": side, "value": "edited"}
    assert not list((log / "control").glob("*.json"))
    rejected = list((log / "control" / "rejected").glob("*.json"))
    assert len(rejected) == 1
    assert "already" in json.loads(rejected[0].read_text())["reason"]
    # the edit is in the state a viewer or a later resume loads
    assert load_pipeline(str(log)).steps[1].func_kwargs["value"] == "edited"


def test_control_stop_after_step_then_resume(tmp_path, runner):
    side, log = str(tmp_path / "side"), tmp_path / "log"
    proc = runner()
    wait_until(lambda: ran(side) == [0], what="step 0 to start")
    write_control_request(str(log), {"action": "stop", "when": "after_step"})
    wait_until(lambda: events_of(log, "stop_requested"), what="the stop request to be seen")
    (tmp_path / "go").touch()
    proc.communicate(timeout=30)
    assert proc.returncode != 0
    assert ran(side) == [0]  # step 0 ended, step 1 never started
    events = read_events(str(log))
    assert_documented(events)
    assert events_of(log, "stop_requested")[0]["when"] == "after_step"
    assert events_of(log, "step_finished")[0]["status"] == "success"
    stopped = events_of(log, "run_interrupted")[0]
    assert (stopped["reason"], stopped["index"], stopped["step_id"]) == ("stop", 1, 1)
    assert not events_of(log, "step_interrupted")
    pipeline = dill.load(open(log / "pipeline.p", "rb"))  # noqa: SIM115
    assert pipeline.run_step_idx == 1
    pipeline.run(resume=True)
    assert ran(side) == [0, 1, 2]


def test_control_stop_now_interrupts_the_step_then_resume(tmp_path, runner):
    side, log = str(tmp_path / "side"), tmp_path / "log"
    proc = runner()
    wait_until(lambda: ran(side) == [0], what="step 0 to start")
    write_control_request(str(log), {"action": "stop", "when": "now"})
    proc.communicate(timeout=30)  # ends without 'go': the step was stopped
    assert proc.returncode != 0
    assert not (tmp_path / "go").exists()
    events = read_events(str(log))
    assert_documented(events)
    assert events_of(log, "stop_requested")[0]["when"] == "now"
    interrupted = events_of(log, "step_interrupted")
    assert [(e["step_id"], e["index"], e["reason"]) for e in interrupted] == [(0, 0, "stop")]
    assert events_of(log, "run_interrupted")[0]["reason"] == "stop"
    assert not list((log / "control").glob("*.json"))
    (tmp_path / "go").touch()
    resumed = runner("resume")
    out, err = resumed.communicate(timeout=30)
    assert b"RUNNER DONE" in out, err
    assert ran(side) == [0, 0, 1, 2]
