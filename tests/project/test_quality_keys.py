"""``timeout``, ``checks`` and ``check_severity`` on a ``[[steps]]`` table."""

from __future__ import annotations

from pathlib import Path

import pytest

from aw_tui.project import ProjectError, load_project

BASE = '[paths]\nlog = "log"\n[pipeline]\ncreate_paths = true\n'


def _project(tmp_path: Path, step: str) -> Path:
    path = tmp_path / "project.toml"
    path.write_text(BASE + "[[steps]]\n" + step)
    return path


def test_the_keys_reach_the_pipelines_step(tmp_path: Path) -> None:
    path = _project(tmp_path, 'func = "aw_tui.testing_funcs:succeed"\ntimeout = 30\n'
                              'checks = ["x < 2"]\ncheck_severity = "warn"\n')
    step = load_project(path).build_pipeline().steps[0]
    assert step.timeout == 30.0 and step.checks == ["x < 2"] and step.check_severity == "warn"


@pytest.mark.parametrize(("text", "message"), [
    ('func = "psfex"\nchecks = ["fwhm_man < 3"]\n', "did you mean 'fwhm_mean'"),
    ('func = "psfex"\nchecks = ["fwhm_mean is small"]\n', "FIELD OP NUMBER"),
    ('func = "psfex"\nchecks = "fwhm_mean < 3"\ncheck_severity = "loud"\n', "check_severity"),
    ('func = "psfex"\nchecks = [3]\n', "array of strings"),
    ('func = "aw_tui.testing_funcs:succeed"\ntimeout = -1\n', "timeout"),
])
def test_bad_values_are_project_errors_naming_the_key(tmp_path: Path, text: str,
                                                      message: str) -> None:
    with pytest.raises(ProjectError) as caught:
        load_project(_project(tmp_path, text), check_files=False)
    assert message in "\n".join(caught.value.errors)


def test_any_field_is_accepted_for_a_python_step(tmp_path: Path) -> None:
    path = _project(tmp_path, 'func = "aw_tui.testing_funcs:succeed"\nchecks = ["slept > 0"]\n')
    assert load_project(path).steps[0].checks == ["slept > 0"]
