"""A Python step's prints go to its own ``steps/<id>.out``, as a tool's output does."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from aw_tui import Pipeline

STEPS = '''
import sys, threading

def talk(word):
    print("printed", word)
    sys.stderr.write("stderr " + word + "\\n")
    thread = threading.Thread(target=lambda: print("from a thread", word))
    thread.start()
    thread.join()
    return {"status": "success"}
'''


def _talk(word: str) -> dict:
    print("printed", word)
    sys.stderr.write(f"stderr {word}\n")
    thread = threading.Thread(target=lambda: print("from a thread", word))
    thread.start()
    thread.join()
    return {"status": "success"}


def test_prints_of_each_step_reach_its_output_file(tmp_path: Path, capsys) -> None:
    log = tmp_path / "log"
    pipe = Pipeline({"log": str(log), "temp": str(tmp_path)}, create_paths=True)
    pipe.add_step(_talk, ["a"], word="one")
    pipe.add_step(_talk, ["b"], word="two")
    print("before the run")
    pipe.run()
    print("after the run")
    first = (log / "steps" / "0.out").read_text()
    second = (log / "steps" / "1.out").read_text()
    assert first == "printed one\nstderr one\nfrom a thread one\n"
    assert second == "printed two\nstderr two\nfrom a thread two\n"
    out = capsys.readouterr().out
    assert "before the run" in out and "after the run" in out and "printed" not in out


def test_batch_keeps_step_prints_out_of_its_log_and_verbose_echoes_them(tmp_path: Path) -> None:
    (tmp_path / "steps.py").write_text(STEPS)
    (tmp_path / "project.toml").write_text(
        '[paths]\nlog = "log"\n[pipeline]\ncreate_paths = true\n'
        '[[steps]]\nfunc = "steps.py:talk"\ntags = ["a"]\nkwargs = { word = "hello" }\n')
    quiet = subprocess.run([sys.executable, "-m", "aw_tui", str(tmp_path / "project.toml"),
                            "--batch"], capture_output=True, text=True, timeout=120)
    assert quiet.returncode == 0, quiet.stderr
    assert "printed hello" not in quiet.stdout + quiet.stderr
    assert "printed hello" in (tmp_path / "log" / "steps" / "0.out").read_text()
    loud = subprocess.run([sys.executable, "-m", "aw_tui", str(tmp_path / "project.toml"),
                           "--batch", "--verbose"], capture_output=True, text=True, timeout=120)
    assert loud.returncode == 0, loud.stderr
    assert "printed hello" in loud.stdout and "from a thread hello" in loud.stdout


def test_a_python_users_logging_sees_step_starts_ends_and_warnings(tmp_path: Path,
                                                                   caplog) -> None:
    import logging

    from aw_tui import testing_funcs

    pipe = Pipeline({"log": str(tmp_path / "log"), "temp": str(tmp_path)}, create_paths=True)
    pipe.add_step(testing_funcs.succeed, ["a"], n=1)
    pipe.add_step(testing_funcs.succeed, ["b"], fwhm=9.0, checks=["fwhm < 5"],
                  check_severity="warn")
    with caplog.at_level(logging.INFO, logger="aw_tui"):
        pipe.run()
    messages = [(r.name, r.levelname, r.getMessage()) for r in caplog.records]
    assert ("aw_tui.engine", "INFO", "step 0 (succeed, run index 0) started") in messages
    assert any(m[1] == "INFO" and m[2].startswith("step 0 (succeed, run index 0) ended: "
                                                  "success") for m in messages)
    assert any(m[1] == "WARNING" and "1 warning(s), the first: check 'fwhm < 5'" in m[2]
               for m in messages)
