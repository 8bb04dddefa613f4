"""``kill -9`` at random moments: ``load_pipeline`` always gives the exact state, and resuming
finishes every step with no completed step run twice (issue 2, "Must show").

A helper script runs a 40-step pipeline in a subprocess; each step appends its id to a side
effect file (``O_APPEND``) and sleeps a few ms; some steps carry large kwargs so that the
checkpoint written when a run starts takes tens of ms. The test SIGKILLs the runner inside
steps, during checkpoint writes and at random times, checks the run directory after each
kill, and resumes in a fresh subprocess until the run is done.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import dill
import pytest

from aw_tui import load_pipeline
from aw_tui.pipeline import Pipeline
from aw_tui.rundir.journal import read_events
from aw_tui.rundir.store import CheckpointError, find_checkpoint

N_STEPS = 40
BLOB = 8000  # dicts in each large kwarg: the start checkpoint takes tens of ms (C pickler)

STEPS_MODULE = textwrap.dedent(
    """
    import os
    import time


    def work(step_id, side, pause, blob=None):
        fd = os.open(side, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{step_id}\\n".encode())
        finally:
            os.close(fd)
        time.sleep(pause)
        return {"status": "success", "step": step_id, "blob_size": len(blob or ())}
    """
)

DRIVER = textwrap.dedent(
    f"""
    import random
    import sys

    from aw_tui import Pipeline, load_pipeline
    import awt_crash_steps as steps

    mode, log, side = sys.argv[1:4]
    if mode == "start":
        rng = random.Random(7)
        pipeline = Pipeline({{"temp": log + "-temp", "log": log}}, create_paths=True,
                            pipeline_name="crash")
        for i in range({N_STEPS}):
            blob = None
            if i % 8 == 3:
                blob = [{{"name": f"obj{{j}}", "x": j * 0.5, "flags": [j, j + 1]}}
                        for j in range({BLOB})]
            pipeline.add_step(steps.work, ["crash"], side=side,
                              pause=rng.uniform(0.002, 0.010), blob=blob)
        pipeline.run()
    else:
        pipeline = load_pipeline(log)
        pipeline.run(resume=True)
    print("DRIVER DONE", flush=True)
    """
)


@pytest.fixture
def crash_env(tmp_path, monkeypatch):
    mods = tmp_path / "mods"
    mods.mkdir()
    (mods / "awt_crash_steps.py").write_text(STEPS_MODULE)
    (mods / "driver.py").write_text(DRIVER)
    monkeypatch.syspath_prepend(str(mods))  # this process loads the checkpoints too
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(mods), *sys.path]))
    return mods / "driver.py", env


def side_ids(side: Path) -> list[int]:
    if not side.exists():
        return []
    return [int(line) for line in side.read_text().splitlines()]


def checkpoint_tmp_files(log: Path) -> set[str]:
    return {p.name for p in log.glob(".pipeline.p.*.tmp")} if log.exists() else set()


def count_events(log: Path, kind: str) -> int:
    try:
        return (log / "events.jsonl").read_bytes().count(f'"event": "{kind}"'.encode())
    except FileNotFoundError:
        return 0


def interruptions(events: list[dict]) -> Counter:
    """Per step id, how many times it started in a run and did not finish in that run."""
    counts: Counter = Counter()
    open_steps: set[int] = set()
    for event in events:
        kind = event["event"]
        if kind == "run_started":
            for step_id in open_steps:
                counts[step_id] += 1
            open_steps = set()
        elif kind == "step_started":
            open_steps.add(event["step_id"])
        elif kind in ("step_finished", "step_interrupted"):
            open_steps.discard(event["step_id"])
            if kind == "step_interrupted":
                counts[event["step_id"]] += 1
    for step_id in open_steps:
        counts[step_id] += 1
    return counts


def check_state_after_kill(log: Path, side: Path) -> bool:
    """Everything a user relies on after a ``kill -9``; False when no checkpoint exists yet."""
    events = read_events(str(log))
    try:
        pipeline = load_pipeline(str(log))
    except CheckpointError:
        # Only acceptable before any checkpoint was ever written, and then no step ran.
        assert not (log / "pipeline.p").exists()
        assert not any(e["event"] == "step_started" for e in events)
        assert side_ids(side) == []
        return False
    assert find_checkpoint(str(log)) == str(log / "pipeline.p")  # never a .tmp leftover
    finished = [e["step_id"] for e in events if e["event"] == "step_finished"]
    assert all(e["status"] == "success" for e in events if e["event"] == "step_finished")
    # No completed step ever ran again, and steps complete in order.
    assert finished == list(range(len(finished))), finished
    assert [s.step_id for s in pipeline.run_steps] == list(range(N_STEPS))
    assert pipeline.run_step_idx == len(finished)
    for index, step in enumerate(pipeline.run_steps):
        if index < pipeline.run_step_idx:
            assert step.results == {"status": "success", "step": step.step_id,
                                    "blob_size": BLOB if index % 8 == 3 else 0}
        else:
            assert step.results is None, (index, step.results)
        assert len(step.func_kwargs.get("blob") or ()) == (BLOB if index % 8 == 3 else 0)
    # Side effects: every completed step's, plus at most the one of the step in progress.
    ran = side_ids(side)
    assert set(finished) <= set(ran)
    extra = set(ran) - set(finished)
    assert extra <= {pipeline.run_step_idx}, (extra, pipeline.run_step_idx)
    # The bare checkpoint is whole and loads by itself (it may lag behind the journal).
    with open(log / "pipeline.p", "rb") as handle:
        bare = dill.load(handle)
    assert 0 <= bare.run_step_idx <= pipeline.run_step_idx
    return True


def test_sigkill_at_random_moments_then_resume_finishes_every_step_once(tmp_path, crash_env):
    driver, env = crash_env
    rng = random.Random(20261124)
    kills = in_checkpoint = in_step = rounds = attempts = 0
    deadline = time.monotonic() + 120

    while kills < 22 or in_checkpoint < 3 or in_step < 5:
        assert rounds < 8 and attempts < 120, (kills, in_checkpoint, in_step)
        rounds += 1
        log, side = tmp_path / f"log{rounds}", tmp_path / f"side{rounds}.txt"
        have_checkpoint = False
        while True:
            assert time.monotonic() < deadline, "the crash test is taking too long"
            attempts += 1
            mode = "resume" if have_checkpoint else "start"
            tmp_before = checkpoint_tmp_files(log)
            started_before = count_events(log, "step_started")
            runs_before = count_events(log, "run_started")
            events_before = len(read_events(str(log)))
            proc = subprocess.Popen(
                [sys.executable, str(driver), mode, str(log), str(side)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
            )
            strategy = rng.choices(["checkpoint", "step", "any"], [0.35, 0.45, 0.2])[0]
            if kills >= 22 and in_checkpoint >= 3 and in_step >= 5:
                strategy = "none"  # enough: let this round finish
            killed = wait_and_kill(proc, log, strategy, rng, runs_before, started_before)
            out, err = proc.communicate(timeout=60)
            if not killed:
                assert proc.returncode == 0, err.decode()
                assert b"DRIVER DONE" in out
                break
            kills += 1
            if checkpoint_tmp_files(log) - tmp_before:
                in_checkpoint += 1  # killed between the temporary file and its rename
            new_events = read_events(str(log))[events_before:]
            last = [e for e in new_events if e["event"].startswith("step_")][-1:]
            if last and last[0]["event"] == "step_started":
                in_step += 1
            have_checkpoint = check_state_after_kill(log, side)
        # The round is complete: every step's side effect happened, each exactly once
        # except for steps that were interrupted (those run again, as documented).
        final = load_pipeline(str(log))
        assert final.run_step_idx == N_STEPS
        assert all(s.results["status"] == "success" for s in final.steps)
        events = read_events(str(log))
        finished = [e["step_id"] for e in events if e["event"] == "step_finished"]
        assert finished == list(range(N_STEPS))  # each step completed exactly once
        counts = Counter(side_ids(side))
        assert set(counts) == set(range(N_STEPS))
        interrupted = interruptions(events)
        for step_id, count in counts.items():
            assert count <= 1 + interrupted[step_id], (step_id, count, interrupted[step_id])
        # kill -9 leaves temporary files behind; the next runner clears them.
        assert not checkpoint_tmp_files(log)
        assert not list((log / "steps").glob(".*.tmp"))
        assert not (log / "lock").exists()

    print(f"{kills} kills ({in_checkpoint} in checkpoint writes, {in_step} inside steps) "
          f"in {attempts} runs over {rounds} rounds")
    assert kills >= 20 and in_checkpoint >= 3 and in_step >= 5


def wait_and_kill(proc, log, strategy, rng, runs_before, started_before) -> bool:
    """SIGKILL ``proc`` at a moment chosen by ``strategy``; False if it ended first."""
    if strategy == "none":
        return False
    deadline = time.monotonic() + 30
    if strategy == "checkpoint":
        # The checkpoint is written right after run_started is journalled and takes tens
        # of ms: kill at once or a little later.
        while count_events(log, "run_started") <= runs_before:
            if proc.poll() is not None or time.monotonic() > deadline:
                return False
            time.sleep(0.0002)
        time.sleep(rng.uniform(0, 0.03))
    elif strategy == "step":
        target = started_before + rng.randint(1, 4)
        while count_events(log, "step_started") < target:
            if proc.poll() is not None or time.monotonic() > deadline:
                return False
            time.sleep(0.0005)
        time.sleep(rng.uniform(0, 0.012))
    else:
        time.sleep(rng.uniform(0, 0.5))
    if proc.poll() is not None:
        return False
    proc.kill()
    proc.wait(timeout=30)
    return True


# ----------------------------------------------------------------------------------------------
def record(step_id, side):
    with open(side, "a") as handle:
        handle.write(f"{step_id}\n")
    return {"status": "success", "step": step_id}


def exit_in_step(step_id, side):
    record(step_id, side)
    raise SystemExit(3)


def test_leftovers_of_a_kill_are_never_loaded_as_a_checkpoint(tmp_path):
    side = str(tmp_path / "side")
    log = tmp_path / "log"
    pipeline = Pipeline({"temp": str(tmp_path / "temp"), "log": str(log)}, create_paths=True)
    for _ in range(4):
        pipeline.add_step(record, side=side)
    pipeline.run()
    good = (log / "pipeline.p").read_bytes()

    # A checkpoint write killed before its rename leaves a hidden temporary file: it is
    # never picked as a checkpoint, even when it is the newest file.
    other = Pipeline({"temp": str(tmp_path / "temp"), "log": str(tmp_path / "log2")},
                     create_paths=True, pipeline_name="other")
    leftover = log / ".pipeline.p.k9x1a2b3.tmp"
    leftover.write_bytes(dill.dumps(other)[: len(good) // 2])
    named_leftover = log / ".pipeline-night.p.k9x1a2b3.tmp"
    named_leftover.write_bytes(dill.dumps(other))
    assert find_checkpoint(str(log)) == str(log / "pipeline.p")
    loaded = load_pipeline(str(log))
    assert loaded.name == pipeline.name and loaded.run_step_idx == 4

    # A half-written file under the real name (a copy cut short, a full disk) is refused
    # with a clear error at every length, never loaded as a wrong pipeline.
    (log / "pipeline.p").unlink()
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_pipeline(str(log))
    for cut in (1, 10, len(good) // 3, len(good) // 2, len(good) - 1):
        (log / "pipeline.p").write_bytes(good[:cut])
        (log / "pipeline.p").chmod(0o600)
        with pytest.raises(CheckpointError, match="cannot load checkpoint"):
            load_pipeline(str(log))

    # The next run clears the leftovers of killed writes.
    (log / "pipeline.p").write_bytes(good)
    resumed = load_pipeline(str(log))
    resumed.run(resume=True)
    assert not leftover.exists() and not named_leftover.exists()
    assert load_pipeline(str(log)).run_step_idx == 4


KILL_SCRIPT = textwrap.dedent(
    """
    import sys
    from aw_tui import Pipeline

    def note(step_id, side):
        with open(side, "a") as handle:
            handle.write(f"{step_id}\\n")
        # a tuple: JSON would not give it back, so the result goes to steps/<id>.result.p
        return {"status": "success", "step": step_id, "at": (step_id,)}

    def kill_me(step_id, side):
        import os, signal
        with open(side, "a") as handle:
            handle.write(f"{step_id}\\n")
        os.kill(os.getpid(), signal.SIGKILL)

    log, side = sys.argv[1:3]
    pipeline = Pipeline({"temp": log + "-temp", "log": log}, create_paths=True)
    for _ in range(4):
        pipeline.add_step(note, side=side)
    pipeline.add_step(kill_me, side=side)
    pipeline.run()
    """
)


def test_a_result_file_lost_after_its_journal_line_makes_the_step_run_again(tmp_path):
    # After a power cut the journal may say a step finished while its result file never
    # reached the disk (or is cut short): that step is not done, it runs again. (Results
    # in their journal line have no file: tests/rundir/test_results_inline.py.)
    side, log = tmp_path / "side", tmp_path / "log"
    (tmp_path / "kill.py").write_text(KILL_SCRIPT)
    proc = subprocess.run([sys.executable, str(tmp_path / "kill.py"), str(log), str(side)],
                          capture_output=True, timeout=60)
    assert proc.returncode == -9, proc.stderr
    assert load_pipeline(str(log)).run_step_idx == 4  # the journal is replayed

    data = (log / "steps" / "2.result.p").read_bytes()
    (log / "steps" / "2.result.p").write_bytes(data[: len(data) // 2])
    (log / "steps" / "3.result.p").unlink()
    loaded = load_pipeline(str(log))
    assert loaded.run_step_idx == 2
    assert [s.results is not None for s in loaded.steps] == [True, True, False, False, False]
    loaded.steps[4].func = record
    loaded.run(resume=True)
    assert side_ids(side) == [0, 1, 2, 3, 4, 2, 3, 4]
    assert [s.results["step"] for s in loaded.steps] == [0, 1, 2, 3, 4]


def test_journal_line_cut_by_a_kill_is_ignored_and_the_next_run_starts_a_fresh_line(tmp_path):
    side = str(tmp_path / "side")
    log = tmp_path / "log"
    pipeline = Pipeline({"temp": str(tmp_path / "temp"), "log": str(log)}, create_paths=True)
    for _ in range(3):
        pipeline.add_step(record, side=side)
    pipeline.run()
    before = read_events(str(log))
    with open(log / "events.jsonl", "ab") as handle:
        handle.write(b'{"seq": 999, "time": 1.0, "event": "step_fin')
    assert read_events(str(log)) == before
    assert load_pipeline(str(log)).run_step_idx == 3
    pipeline.run()
    after = read_events(str(log))
    assert [e["seq"] for e in after] == list(range(1, len(after) + 1))
    assert len(after) == 2 * len(before)


def test_sys_exit_inside_a_step_leaves_the_checkpoint_on_that_step(tmp_path):
    # "after any failure Python sees": a step (or a library it calls) that calls sys.exit()
    side = str(tmp_path / "side")
    log = tmp_path / "log"
    pipeline = Pipeline({"temp": str(tmp_path / "temp"), "log": str(log)}, create_paths=True)
    pipeline.add_step(record, side=side)
    pipeline.add_step(exit_in_step, side=side)
    pipeline.add_step(record, side=side)
    with pytest.raises(SystemExit):
        pipeline.run()
    assert not (log / "lock").exists()
    with open(log / "pipeline.p", "rb") as handle:
        bare = dill.load(handle)
    assert bare.run_step_idx == 1
    assert bare.steps[0].results["status"] == "success"
    kinds = [e["event"] for e in read_events(str(log))]
    assert kinds[-2:] == ["step_interrupted", "run_interrupted"]
    bare.steps[1].func = record
    bare.run(resume=True)
    assert [int(x) for x in Path(side).read_text().split()] == [0, 1, 1, 2]


def test_ctrl_c_while_the_start_checkpoint_is_written_ends_the_run_in_the_journal(
    tmp_path, monkeypatch
):
    # The start checkpoint of a big pipeline takes seconds: a Ctrl-C then must still end
    # the run in the journal (a viewer would otherwise show it running forever).
    from aw_tui.rundir.journal import RunState
    from aw_tui.rundir.store import RunStore

    side = str(tmp_path / "side")
    log = tmp_path / "log"
    pipeline = Pipeline({"temp": str(tmp_path / "temp"), "log": str(log)}, create_paths=True)
    pipeline.add_step(record, side=side)
    real_write = RunStore.write_checkpoint
    calls = []

    def write_checkpoint(self, pipeline):
        calls.append(1)
        if len(calls) == 1:
            raise KeyboardInterrupt
        real_write(self, pipeline)

    monkeypatch.setattr(RunStore, "write_checkpoint", write_checkpoint)
    with pytest.raises(KeyboardInterrupt):
        pipeline.run()
    state = RunState.from_events(read_events(str(log)))
    assert state.state == "interrupted" and state.reason == "SIGINT"
    assert not (log / "lock").exists() and not Path(side).exists()
    monkeypatch.undo()
    resumed = load_pipeline(str(log))
    resumed.run(resume=True)
    assert side_ids(Path(side)) == [0]


def test_ctrl_c_while_the_final_checkpoint_is_written_still_saves_the_finished_run(
    tmp_path, monkeypatch
):
    from aw_tui.rundir.store import RunStore

    side = str(tmp_path / "side")
    log = tmp_path / "log"
    pipeline = Pipeline({"temp": str(tmp_path / "temp"), "log": str(log)}, create_paths=True)
    for _ in range(3):
        pipeline.add_step(record, side=side)
    real_write = RunStore.write_checkpoint
    calls = []

    def write_checkpoint(self, pipeline):
        calls.append(1)
        if len(calls) == 2:  # the checkpoint at the end of the run
            raise KeyboardInterrupt
        real_write(self, pipeline)

    monkeypatch.setattr(RunStore, "write_checkpoint", write_checkpoint)
    with pytest.raises(KeyboardInterrupt):
        pipeline.run()
    monkeypatch.undo()
    with open(log / "pipeline.p", "rb") as handle:
        bare = dill.load(handle)
    assert bare.run_step_idx == 3  # not the state at the start of the run
    bare.run(resume=True)
    assert side_ids(Path(side)) == [0, 1, 2]  # nothing ran twice
