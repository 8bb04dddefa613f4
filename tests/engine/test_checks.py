"""Quality checks on a step's summary (``checks = [...]``): parsed safely, applied after the
step, failing the step or giving it a warn verdict, on the real PSFEx of the demo too."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tooling import require_tool

from aw_tui import Pipeline, PipelineError, testing_funcs
from aw_tui.engine.checks import CheckError, apply_checks, parse_check
from aw_tui.project import load_project


@pytest.mark.parametrize(("text", "field", "op", "bound"), [
    ("fwhm_mean < 3.5", "fwhm_mean", "<", 3.5),
    ("nstars_accepted>=50", "nstars_accepted", ">=", 50.0),
    ("0.1 > astrom_sigma_reference_total", "astrom_sigma_reference_total", "<", 0.1),
    ("extensions.ndetect != -1e3", "extensions.ndetect", "!=", -1000.0),
])
def test_checks_parse(text: str, field: str, op: str, bound: float) -> None:
    check = parse_check(text)
    assert (check.field, check.op, check.bound) == (field, op, bound)


@pytest.mark.parametrize("text", [
    "__import__('os').system('id')", "fwhm < 3 and x > 2", "fwhm <", "fwhm ~ 3", "3 < 4", "",
])
def test_anything_but_a_comparison_is_refused(text: str) -> None:
    with pytest.raises(CheckError, match="FIELD OP NUMBER"):
        parse_check(text)


def test_a_failing_check_fails_the_step_or_warns(tmp_path: Path) -> None:
    pipe = Pipeline({"log": str(tmp_path / "log"), "temp": str(tmp_path)}, create_paths=True)
    pipe.add_step(testing_funcs.succeed, ["ok"], fwhm=3.2, checks=["fwhm < 3.5"])
    pipe.add_step(testing_funcs.succeed, ["soft"], fwhm=3.9, checks=["fwhm < 3.5"],
                  check_severity="warn")
    pipe.add_step(testing_funcs.succeed, ["hard"], fwhm=3.9, checks=["fwhm < 3.5"])
    with pytest.raises(PipelineError, match=r"fwhm = 3.9, not < 3.5"):
        pipe.run()
    assert pipe.steps[0].results["checks"] == [{"check": "fwhm < 3.5", "ok": True}]
    soft = pipe.steps[1].results
    assert soft["status"] == "success" and soft["verdict"] == "warn"
    assert "fwhm = 3.9, not < 3.5" in soft["warnings"][0]
    assert pipe.steps[2].results["status"] == "error"
    assert pipe.run_step_idx == 2


def test_an_unmeasured_field_fails_its_check_as_n_a() -> None:
    result = apply_checks({"status": "success", "summary": {"fwhm_mean": None}},
                          [parse_check("fwhm_mean < 3")], "error")
    assert result["status"] == "error" and "not measured (n/a)" in result["error_msg"]


def test_add_step_refuses_a_bad_check_at_once() -> None:
    pipe = Pipeline({})
    with pytest.raises(CheckError):
        pipe.add_step(testing_funcs.succeed, checks=["fwhm is small"])
    with pytest.raises(CheckError, match="check_severity"):
        pipe.add_step(testing_funcs.succeed, checks=["a < 1"], check_severity="loud")


def test_a_check_on_the_demos_psfex_fwhm_fails_the_step(tmp_path: Path) -> None:
    for tool in ("source-extractor", "scamp", "SWarp", "psfex"):
        require_tool(tool)
    made = subprocess.run([sys.executable, "-m", "aw_tui", "demo", str(tmp_path / "demo"),
                           "--size", "512", "--no-run"], capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)
    assert made.returncode == 0, made.stderr
    pipe = load_project(tmp_path / "demo" / "project.toml").build_pipeline()
    psfex = next(s for s in pipe.steps if s.func_name == "PSFEx")
    psfex.checks = ["fwhm_mean < 3.0"]
    with pytest.raises(PipelineError) as caught:
        pipe.run()
    message = str(caught.value)
    assert "fwhm_mean = 3.9" in message and "not < 3.0" in message, message
    assert psfex.results["status"] == "error" and psfex.results["summary"]["fwhm_mean"] > 3.5
