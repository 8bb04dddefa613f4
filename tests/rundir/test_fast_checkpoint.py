"""Checkpoints of script-defined pipelines (issue 16): written by the C pickler with dill only
for what needs it, and still loaded by a plain ``dill.load(open(path, 'rb'))`` that resumes."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import dill

from aw_tui.rundir.pickling import dumps_fast

SCRIPT = '''
import sys
import aw_tui as aw

class Threshold:                      # a class of the script itself
    def __init__(self, value):
        self.value = value

def measure(pipeline, step_id, limit):  # a __main__ function
    return {"status": "success", "summary": {"limit": limit.value}}

def make_step(offset):                # a closure
    def step(x):
        if x + offset > 10:
            return {"status": "error", "error_msg": "too big"}
        return {"status": "success", "summary": {"y": x + offset}}
    return step

pipe = aw.Pipeline({"log": sys.argv[1], "temp": sys.argv[1] + "-temp"}, create_paths=True)
pipe.add_step(measure, ["a"], limit=Threshold(3.5))
pipe.add_step(lambda word: {"status": "success", "summary": {"word": word}}, ["b"], word="hi")
pipe.add_step(make_step(5), ["c"], x=9)
try:
    pipe.run()
except aw.PipelineError as exc:
    print("failed:", exc)
'''

RESUME = '''
import sys
import dill
pipe = dill.load(open(sys.argv[1] + "/pipeline.p", "rb"))   # the seed's way
step = pipe.steps[pipe.run_steps[pipe.run_step_idx].step_id]
step.func_kwargs["x"] = 1                                  # fix the failing step
pipe.run(resume=True)
print("resumed", [s.results["summary"] for s in pipe.steps])
'''


def test_a_script_pipeline_checkpoint_loads_with_plain_dill_and_resumes(tmp_path: Path) -> None:
    log = tmp_path / "log"
    (tmp_path / "script.py").write_text(SCRIPT)
    (tmp_path / "resume.py").write_text(RESUME)
    first = subprocess.run([sys.executable, "script.py", str(log)], cwd=tmp_path,
                           capture_output=True, text=True, timeout=120)
    assert "failed:" in first.stdout and "too big" in first.stdout, first.stderr
    second = subprocess.run([sys.executable, "resume.py", str(log)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    assert "resumed [{'limit': 3.5}, {'word': 'hi'}, {'y': 6}]" in second.stdout
    # Plain pickle reads the file too (it calls dill only for the script's own objects).
    with open(log / "pipeline.p", "rb") as handle:
        pipe = pickle.load(handle)
    assert pipe.steps[1].func(word="x") == {"status": "success", "summary": {"word": "x"}}


def test_importable_objects_stay_references_and_script_objects_go_to_dill() -> None:
    data = dumps_fast({"f": dumps_fast, "g": lambda: 1, "n": [1, 2.5, "x"]})
    assert b"aw_tui.rundir.pickling" in data and b"dumps_fast" in data  # by reference
    back = dill.loads(data)
    assert back["f"] is dumps_fast and back["g"]() == 1 and back["n"] == [1, 2.5, "x"]
