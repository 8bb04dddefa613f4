"""A step that reran and failed makes the steps that read its files stale, not pending and not
done (issue 12: "a step it depends on ... failed after it ran"), however many resumes fail.

Three steps through files: ``a`` writes x, ``b`` copies x to y, ``c`` copies y to z. After a
finished run, ``a`` is changed in the project file so that it fails; each ``--resume`` runs
``a`` (it fails) and leaves ``b`` and ``c`` stale with their reasons: their records stay
while their results are held, and the failed ``a`` still stands for the x its last finished
run wrote. No tools needed (tests/cli/test_staleness.py has the demo's SCAMP case).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from aw_tui.target import resolve_target, resume_plan, resume_verdict

FUNCS = '''
def write(path, text="a", fail=False):
    if fail:
        return {"status": "error", "error_msg": "failing on purpose"}
    with open(path, "w") as handle:
        handle.write(text)
    return {"status": "success"}


def copy(src, dst):
    with open(src) as handle:
        data = handle.read()
    with open(dst, "w") as handle:
        handle.write(data)
    return {"status": "success"}
'''


def project_text(folder: Path, fail: bool, text: str = "a") -> str:
    x, y, z = (str(folder / name) for name in ("x.txt", "y.txt", "z.txt"))
    return (
        '[pipeline]\nname = "files"\ncreate_paths = true\n'
        '[paths]\ntemp = "work/temp"\nlog = "work/log"\n'
        f'[[steps]]\nname = "a"\nfunc = "funcs.py:write"\n'
        f'[steps.kwargs]\npath = "{x}"\ntext = "{text}"\nfail = {str(fail).lower()}\n'
        f'[[steps]]\nname = "b"\nfunc = "funcs.py:copy"\n'
        f'[steps.kwargs]\nsrc = "{x}"\ndst = "{y}"\n'
        f'[[steps]]\nname = "c"\nfunc = "funcs.py:copy"\n'
        f'[steps.kwargs]\nsrc = "{y}"\ndst = "{z}"\n'
    )


def batch(project: Path, *flags: str) -> int:
    return subprocess.run([sys.executable, "-m", "aw_tui", str(project), "--batch", *flags],
                          capture_output=True, text=True, timeout=120).returncode


def states(project: Path) -> dict[str, tuple[str, list[str]]]:
    target = resolve_target(str(project))
    plan = resume_plan(target, resume_verdict(target).pipeline)
    return {s.identity: (s.state, s.reasons) for s in plan.freshness.states}


def test_a_failed_rerun_leaves_the_steps_that_read_its_files_stale(tmp_path: Path) -> None:
    (tmp_path / "funcs.py").write_text(FUNCS)
    project = tmp_path / "project.toml"
    project.write_text(project_text(tmp_path, fail=False))
    assert batch(project) == 0
    assert {k: v[0] for k, v in states(project).items()} == dict.fromkeys("abc", "done")

    project.write_text(project_text(tmp_path, fail=True))
    found = states(project)
    assert found["a"] == ("stale", ["fail false -> true"])
    assert found["b"] == ("stale", ["a is stale"])
    for attempt in range(2):  # the second resume fails again: b stays stale
        assert batch(project, "--resume") == 1, attempt
        found = states(project)
        assert found["a"][0] == "failed"
        assert found["b"] == ("stale", ["a failed"]), attempt
        assert found["c"] == ("stale", ["b is stale"]), attempt

    project.write_text(project_text(tmp_path, fail=False, text="b"))
    assert batch(project, "--resume") == 0
    assert {k: v[0] for k, v in states(project).items()} == dict.fromkeys("abc", "done")
    assert (tmp_path / "z.txt").read_text() == "b"
