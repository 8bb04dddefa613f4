"""aw_tui.astromatic.steps with FAKE tools: argv building, tool discovery, status rules, raw output, stop.

The fakes are small Python scripts written to ``tmp_path`` that behave like the real tools
as ASTROMATIC_FACTS.md describes them (banner on ``-v``, everything human-readable on stderr,
``ESC[1M``/``ESC[1A`` progress lines, ``> WARNING:``/``> *Error*:`` lines, an XML log at
``-XML_NAME``), with the exit code a test chooses. Nothing here needs the real tools.
"""

from __future__ import annotations

import contextlib
import copy
import os
import select
import signal
import stat
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from tooling import on_ci

import aw_tui.astromatic.steps as api
from aw_tui.astromatic.command import Astromatic, AstromaticError
from aw_tui.astromatic.registry import ToolNotFoundError, find_tool
from aw_tui.base.process import terminate_all
from aw_tui.base.stepcontext import StepContext, step_context
from aw_tui.pipeline import Pipeline, PipelineError

BANNERS = {
    "SExtractor": "SExtractor version 2.25.0 (2018-02-08)",
    "SCAMP": "SCAMP version 2.10.0 (2020-12-01)",
    "SWarp": "SWarp version 2.41.5 (2021-01-27)",
    "PSFEx": "PSFEx version 3.21.1 (2018-12-06)",
}

# What SExtractor prints at the start of a normal run (bytes as measured).
PROGRESS = (
    b"\x1b[1M> \n\x1b[1A----- Source Extractor 2.25.0 started on 2026-11-24 at 18:59:54 with 1 thread\n"
    b"\n\x1b[1M> Setting catalog parameters\n\x1b[1A"
)

_FAKE = '''#!{python}
import os, sys
BANNER = {banner!r}
STDERR = {stderr!r}
EXIT = {exit_code!r}
XML = {xml!r}
if sys.argv[1:] == ["-v"]:
    sys.stdout.write(BANNER + "\\n")
    sys.exit(0)
argv = sys.argv[1:]
if XML is not None and "-XML_NAME" in argv:
    with open(argv[argv.index("-XML_NAME") + 1], "w") as handle:
        handle.write(XML)
{extra}
os.write(2, STDERR)
if EXIT < 0:
    os.kill(os.getpid(), -EXIT)
sys.exit(EXIT)
'''


def make_fake(
    folder: Path,
    name: str,
    banner: str = BANNERS["SExtractor"],
    stderr: bytes = PROGRESS,
    exit_code: int = 0,
    xml: str | None = None,
    extra: str = "",
) -> str:
    """Write an executable fake tool ``folder/name`` and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(
        _FAKE.format(python=sys.executable, banner=banner, stderr=stderr, exit_code=exit_code,
                     xml=xml, extra=textwrap.dedent(extra))
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return str(path)


def xml_log(error_msg: str | None = None, software: str = "SExtractor") -> str:
    """A minimal VOTable like the tools write (``Error_Msg`` only on failure)."""
    error = (
        f'<PARAM name="Error_Msg" datatype="char" arraysize="*" ucd="meta" '
        f'value="{error_msg}"/>' if error_msg else ""
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<VOTABLE version="1.1" xmlns="http://www.ivoa.net/xml/VOTable/v1.1">
<RESOURCE ID="{software}" name="{software}">
 <RESOURCE ID="MetaData" name="MetaData">
  <PARAM name="Software" datatype="char" arraysize="*" ucd="meta.title" value="{software}"/>
  {error}
 </RESOURCE>
</RESOURCE>
</VOTABLE>
"""


@pytest.fixture
def image(tmp_path: Path) -> str:
    path = tmp_path / "data" / "206401.fits"
    path.parent.mkdir()
    path.write_bytes(b"")  # the fakes never read it; run_sex only checks that it exists
    return str(path)


# -- build_cmd --------------------------------------------------------------------------------


def test_build_cmd_formats_values_and_writes_the_params_file(tmp_path: Path) -> None:
    fake = make_fake(tmp_path / "bin", "source-extractor")
    temp = tmp_path / "temp"
    temp.mkdir()
    sex = Astromatic(
        "SExtractor", temp_path=str(temp), cmd=fake, config_file="/cfg/default.sex",
        config={"CATALOG_TYPE": "FITS_LDAC", "FILTER": False, "CLEAN": True,
                "PHOT_APERTURES": [30, 8], "CHECKIMAGE_TYPE": ("BACKGROUND", "APERTURES"),
                "DETECT_THRESH": 1.5},
        params=["NUMBER", "FLUX_APER(1)", "VIGNET(20,20)"],
    )
    argv, used = sex.build_cmd(["a.fits", "b c.fits"])

    params_file = argv[argv.index("-PARAMETERS_NAME") + 1]
    assert argv == [
        fake, "a.fits", "b c.fits", "-c", "/cfg/default.sex",
        "-CATALOG_TYPE", "FITS_LDAC", "-FILTER", "N", "-CLEAN", "Y",
        "-PHOT_APERTURES", "30,8", "-CHECKIMAGE_TYPE", "BACKGROUND,APERTURES",
        "-DETECT_THRESH", "1.5", "-PARAMETERS_NAME", params_file,
    ]
    assert Path(params_file).parent == temp
    assert Path(params_file).read_text() == "NUMBER\nFLUX_APER(1)\nVIGNET(20,20)\n"
    assert used["config"]["PARAMETERS_NAME"] == params_file


def test_build_cmd_without_params_or_temp_says_what_is_missing(tmp_path: Path) -> None:
    fake = make_fake(tmp_path / "bin", "source-extractor")
    with pytest.raises(AstromaticError, match="params"):
        Astromatic("SExtractor", temp_path=str(tmp_path), cmd=fake).build_cmd("a.fits")
    with pytest.raises(AstromaticError, match="temp_path"):
        Astromatic("SExtractor", cmd=fake, params=["NUMBER"]).build_cmd("a.fits")


def test_build_cmd_mutates_nothing_and_repeats(tmp_path: Path) -> None:
    fake = make_fake(tmp_path / "bin", "source-extractor")
    config = {"CATALOG_TYPE": "FITS_LDAC", "PHOT_APERTURES": [30, 8]}
    params = ["NUMBER", "FLUX_AUTO"]
    config_before, params_before = copy.deepcopy(config), list(params)
    sex = Astromatic("SExtractor", temp_path=str(tmp_path), cmd=fake, config=config,
                     params=params)
    first, _ = sex.build_cmd("a.fits", config={**config, "FILTER": False})
    second, _ = sex.build_cmd("a.fits", config={**config, "FILTER": False})
    third, _ = sex.build_cmd("a.fits")

    assert first == second
    assert "-FILTER" not in third  # a per-call override does not stick to the object
    assert config == config_before and params == params_before
    assert "PARAMETERS_NAME" not in sex.config and "PARAMETERS_NAME" not in config
    config["PHOT_APERTURES"].append(99)  # the object holds its own copy
    assert sex.config["PHOT_APERTURES"] == [30, 8]


def test_step_functions_mutate_neither_the_callers_dicts_nor_shared_defaults(
    tmp_path: Path, image: str
) -> None:
    fake = make_fake(tmp_path / "bin", "source-extractor")
    paths = {"temp": str(tmp_path / "temp"), "log": str(tmp_path / "log")}
    pipeline = Pipeline(paths, create_paths=True, build_paths={"SExtractor": fake})
    files = {"image": image, "wtmap": image.replace(".fits", ".wtmap.fits")}
    Path(files["wtmap"]).write_bytes(b"")
    api_kwargs = {"config": {"CATALOG_TYPE": "FITS_LDAC"}, "params": ["NUMBER"]}
    files_before, kwargs_before = copy.deepcopy(files), copy.deepcopy(api_kwargs)
    defaults_before = copy.deepcopy(
        {f: f.__defaults__ for f in (api.run_sex, api.run_scamp, api.run_swarp, api.run_psfex)}
    )

    first = api.run_sex(pipeline, 0, files, api_kwargs)
    second = api.run_sex(pipeline, 1, files, api_kwargs)
    # The seed's other form: a plain file name and params as a step kwarg, default api_kwargs.
    third = api.run_sex(pipeline, 2, image, params=["NUMBER", "FLUX_AUTO"])
    fourth = api.run_sex(pipeline, 3, image, params=["NUMBER"])

    assert [r["status"] for r in (first, second, third, fourth)] == ["success"] * 4
    assert files == files_before and api_kwargs == kwargs_before
    assert defaults_before == {
        f: f.__defaults__ for f in (api.run_sex, api.run_scamp, api.run_swarp, api.run_psfex)
    }
    argv1, argv2 = first["argv"], second["argv"]
    # Each call gets its own XML log and nothing of the previous call's defaults.
    assert argv1[argv1.index("-XML_NAME") + 1].endswith("log/0.sex.log.xml")
    assert argv2[argv2.index("-XML_NAME") + 1].endswith("log/1.sex.log.xml")
    assert argv1[argv1.index("-WEIGHT_IMAGE") + 1] == files["wtmap"]
    assert argv1[argv1.index("-WEIGHT_TYPE") + 1] == "MAP_WEIGHT"
    assert argv1[argv1.index("-CATALOG_NAME") + 1] == str(tmp_path / "temp" / "206401.cat")
    assert "-WEIGHT_IMAGE" not in fourth["argv"]
    params3 = Path(third["argv"][third["argv"].index("-PARAMETERS_NAME") + 1]).read_text()
    params4 = Path(fourth["argv"][fourth["argv"].index("-PARAMETERS_NAME") + 1]).read_text()
    assert (params3, params4) == ("NUMBER\nFLUX_AUTO\n", "NUMBER\n")


# -- tool discovery ---------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["SWarp", "SWARP", "swarp"])
def test_build_paths_accepts_every_spelling(tmp_path: Path, key: str) -> None:
    fake = make_fake(tmp_path / "opt", "my-swarp", banner=BANNERS["SWarp"])
    swarp = Astromatic("SWarp", build_paths={key: fake})
    assert swarp.binary() == fake
    assert swarp.get_version() == ("2.41.5", "2021-01-27")


def test_build_paths_pointing_at_a_wrong_program_is_an_error(tmp_path: Path) -> None:
    bogus = make_fake(tmp_path / "opt", "swarp", banner="usage: swarp [-display d] x y")
    with pytest.raises(AstromaticError, match=r"build_paths\['SWarp'\].*not a working SWarp"):
        Astromatic("SWarp", build_paths={"SWarp": bogus}).binary()


def test_a_swarp_on_path_that_is_not_swarp_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Debian's /usr/bin/swarp (suckless-tools) moves the mouse pointer; the real SWarp is
    # installed as `swarp` further down PATH (e.g. a conda environment).
    bogus = make_fake(tmp_path / "debian", "swarp", banner="usage: swarp x y", exit_code=1)
    real = make_fake(tmp_path / "conda", "swarp", banner=BANNERS["SWarp"])
    monkeypatch.setenv("PATH", os.pathsep.join([str(tmp_path / "debian"),
                                                str(tmp_path / "conda")]))
    assert find_tool("SWarp").path == real
    assert find_tool("swarp").path != bogus


def test_a_missing_tool_names_the_debian_and_conda_forge_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, image: str
) -> None:
    make_fake(tmp_path / "debian", "swarp", banner="usage: swarp x y", exit_code=1)
    monkeypatch.setenv("PATH", str(tmp_path / "debian"))
    with pytest.raises(ToolNotFoundError) as info:
        find_tool("SWarp")
    assert "apt-get install swarp" in str(info.value)
    assert "conda-forge astromatic-swarp" in str(info.value)

    pipeline = Pipeline({"temp": str(tmp_path / "temp"), "log": str(tmp_path / "log")},
                        create_paths=True)
    result = api.run_sex(pipeline, 0, image, params=["NUMBER"])
    assert result["status"] == "error"
    assert "apt-get install source-extractor" in result["error_msg"]
    assert "astromatic-source-extractor" in result["error_msg"]


# -- status rules -----------------------------------------------------------------------------

STATUS_CASES = [
    # (id, stderr, exit code, xml Error_Msg, config_file, expected status, words in error_msg)
    ("exit-1", PROGRESS + b"> *Error*: cannot open 206401.fits\n", 1, None, None,
     "error", ["cannot open 206401.fits", "exit code 1"]),
    ("exit-3-silent", PROGRESS, 3, None, None, "error", ["exit code 3"]),
    ("killed", PROGRESS, -9, None, None, "error", ["signal 9"]),
    ("xml-error-exit-0", PROGRESS, 0, "*Error*: Not enough memory", None,
     "error", ["Not enough memory"]),
    ("error-line-exit-0", PROGRESS + b"\x1b[1M> *Error*: buffer overflow in x\n\x1b[1A", 0,
     None, None, "error", ["*Error*: buffer overflow in x"]),
    ("ERROR-line", b"*ERROR*: can't read params.param\n", 0, None, None, "error",
     ["can't read params.param"]),
    ("unknown-keyword", b"\n> WARNING: FOO keyword unknown\n\n" + PROGRESS, 0, None, None,
     "error", ["FOO", "keyword", "ignored"]),
    ("missing-config-file", b"\n> WARNING: /cfg/mine.sex not found, using internal defaults\n",
     0, None, "/cfg/mine.sex", "error", ["/cfg/mine.sex", "internal defaults"]),
    ("unknown-param", PROGRESS + b"> WARNING: FOO_PARAM catalog parameter unknown\n\n", 0,
     None, None, "error", ["FOO_PARAM", "catalog parameter"]),
    # Without -c the tools always look for default.<tool> and say so: running on the
    # internal defaults is what the user asked for.
    ("no-config-file-given", b"\n> WARNING: default.sex not found, using internal defaults\n"
     + PROGRESS, 0, None, None, "success", []),
    ("benign-warning", PROGRESS + b"> WARNING: NTHREADS != 1 ignored\n", 0, None, None,
     "success", []),
]


@pytest.mark.parametrize(
    "stderr,code,xml_error,config_file,status,words",
    [case[1:] for case in STATUS_CASES],
    ids=[case[0] for case in STATUS_CASES],
)
def test_status_rules(
    tmp_path: Path, stderr: bytes, code: int, xml_error: str | None,
    config_file: str | None, status: str, words: list[str],
) -> None:
    fake = make_fake(tmp_path / "bin", "source-extractor", stderr=stderr, exit_code=code,
                     xml=xml_log(xml_error))
    sex = Astromatic("SExtractor", temp_path=str(tmp_path), cmd=fake, params=["NUMBER"],
                     config_file=config_file)
    xml = str(tmp_path / "sex.xml")
    result = sex.run("a.fits", raise_error=False, config={"WRITE_XML": True, "XML_NAME": xml})
    assert result["status"] == status, result["error_msg"]
    assert result["returncode"] == code
    if status == "success":
        assert result["error_msg"] is None
        return
    for word in words:
        assert word in result["error_msg"]
    with pytest.raises(AstromaticError, match="Error in 'SExtractor' execution"):
        sex.run("a.fits", config={"WRITE_XML": True, "XML_NAME": xml})


def test_result_keys_and_warnings_table(tmp_path: Path) -> None:
    warnings_xml = xml_log().replace(
        "</RESOURCE>\n</RESOURCE>",
        """<TABLE ID="Warnings" name="Warnings">
   <FIELD name="Date" datatype="char" arraysize="*"/>
   <FIELD name="Time" datatype="char" arraysize="*"/>
   <FIELD name="Msg" datatype="char" arraysize="*"/>
   <DATA><TABLEDATA>
    <TR><TD>2026-11-24</TD><TD>18:59:54</TD><TD>NTHREADS != 1 ignored</TD></TR>
   </TABLEDATA></DATA></TABLE>
 </RESOURCE>
</RESOURCE>""",
    )
    fake = make_fake(tmp_path / "bin", "source-extractor", xml=warnings_xml)
    xml = str(tmp_path / "sex.xml")
    result = Astromatic("SExtractor", temp_path=str(tmp_path), cmd=fake,
                        params=["NUMBER"]).run("a.fits", config={"WRITE_XML": "Y",
                                                                 "XML_NAME": xml})
    assert {"status", "error_msg", "warnings", "summary", "argv", "returncode", "duration",
            "output"} <= set(result)
    assert result["status"] == "success" and result["returncode"] == 0
    assert result["argv"][:2] == [fake, os.path.abspath("a.fits")]
    assert result["duration"] > 0
    # the seed's table of the XML warnings, and the plain list every viewer shows
    assert list(result["warnings_table"]["Msg"]) == ["NTHREADS != 1 ignored"]
    assert result["warnings_table"].meta["filename"] == xml
    assert result["warnings"] == ["SExtractor: NTHREADS != 1 ignored"]
    assert result["verdict"] == "warn"


_CHECKS_FILES = """
import os.path
names = [a for a in argv if a.endswith((".fits", ".param", ".sex"))]
missing = [n for n in names if not os.path.exists(n.split("[")[0]) and "CATALOG" not in n]
if missing:
    os.write(2, ("> *Error*: cannot open " + missing[0] + "\\n").encode())
    sys.exit(1)
if "-CATALOG_NAME" in argv:
    open(argv[argv.index("-CATALOG_NAME") + 1], "w").close()
"""


def test_relative_names_are_relative_to_the_callers_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The tools run in the temp folder; names the user gives relative to their own working
    # folder (and relative pipeline paths) must still reach the right files.
    fake = make_fake(tmp_path / "bin", "source-extractor", extra=_CHECKS_FILES)
    work = tmp_path / "work"
    (work / "images").mkdir(parents=True)
    for name in ("a.fits", "a.wtmap.fits", "a.dqmask.fits"):
        (work / "images" / name).write_bytes(b"")
    (work / "my.sex").write_text("FILTER N\n")
    monkeypatch.chdir(work)
    pipeline = Pipeline({"temp": "temp", "log": "log"}, create_paths=True,
                        build_paths={"SExtractor": fake})
    files = {"image": "images/a.fits", "wtmap": "images/a.wtmap.fits",
             "dqmask": "images/a.dqmask.fits"}
    result = api.run_sex(pipeline, 0, files, {"params": ["NUMBER"], "config_file": "my.sex",
                                              "config": {"CATALOG_NAME": "cats/../a.cat"}})
    assert result["status"] == "success", result["error_msg"]
    assert (work / "a.cat").exists()
    assert not (work / "temp" / "a.cat").exists()
    assert result["argv"][1] == str(work / "images" / "a.fits")
    assert result["xml"] == os.path.join("log", "0.sex.log.xml")


# -- raw output -------------------------------------------------------------------------------

RAW = (
    PROGRESS
    + b"\x1b[7m Table header \x1b[0m\n"
    + b"> WARNING: caf\xc3\xa9 ok but \xff\xfe\x80 is not UTF-8\r\n"
    + b"\x1b[1M> Line: 10 Objects: 3 detected / 0 sextracted\n\x1b[1A"
    + bytes(range(256))
)


def test_raw_output_lands_unmodified_in_the_steps_output_file(
    tmp_path: Path, image: str
) -> None:
    fake = make_fake(tmp_path / "bin", "source-extractor", stderr=RAW)
    paths = {"temp": str(tmp_path / "temp"), "log": str(tmp_path / "log")}
    pipeline = Pipeline(paths, create_paths=True, build_paths={"SExtractor": fake})
    pipeline.add_step(api.run_sex, ["sex"], files=image, api_kwargs={"params": ["NUMBER"]})
    pipeline.add_step(api.run_sex, ["sex"], files=image, api_kwargs={"params": ["NUMBER"]})
    pipeline.run()

    for step in pipeline.steps:
        assert step.results["status"] == "success"
        out = Path(paths["log"]) / "steps" / f"{step.step_id}.out"
        assert out.read_bytes() == RAW


def test_output_reaches_listeners_while_the_tool_runs(tmp_path: Path) -> None:
    # The fake prints a first part, then waits (up to 20 s) until the test writes to a FIFO,
    # which the listener does on seeing the first part: only a streaming reader passes.
    fifo = tmp_path / "go"
    os.mkfifo(fifo)
    waiter = f"""
    import select
    os.write(2, b"first part\\n")
    fd = os.open({str(fifo)!r}, os.O_RDONLY | os.O_NONBLOCK)
    ready, _, _ = select.select([fd], [], [], 20)
    if not ready:
        os.write(2, b"nobody listened\\n")
        sys.exit(7)
    """
    fake = make_fake(tmp_path / "bin", "source-extractor", stderr=b"second part\n",
                     extra=waiter)
    seen: list[bytes] = []

    def listener(chunk: bytes) -> None:
        seen.append(chunk)
        if b"first part" in b"".join(seen) and len(seen) == 1:
            with open(fifo, "wb") as handle:
                handle.write(b"go")

    with step_context(StepContext(listeners=[listener])):
        result = Astromatic("SExtractor", temp_path=str(tmp_path), cmd=fake,
                            params=["NUMBER"], store_output=True).run("a.fits")
    assert result["returncode"] == 0
    assert b"".join(seen) == b"first part\nsecond part\n"
    assert result["output"] == "first part\nsecond part\n"


# -- stopping ---------------------------------------------------------------------------------

_SPAWNER = """
import subprocess
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
os.write(2, f"READY {os.getpid()} {child.pid}\\n".encode())
import time
time.sleep(60)
"""


def _ready_pids(seen: list[bytes]) -> list[int] | None:
    text = b"".join(seen).decode()
    if "READY" not in text or not text.endswith("\n"):
        return None
    return [int(p) for p in text.split("READY", 1)[1].split()]


def _exited(pidfd: int) -> bool:
    # A pidfd turns readable when its process ends (waits at most 10 s, returns at once
    # when it has already ended).
    ready, _, _ = select.select([pidfd], [], [], 10)
    return bool(ready)


@pytest.mark.timeout(60)
def test_ctrl_c_kills_the_whole_process_group(tmp_path: Path) -> None:
    fake = make_fake(tmp_path / "bin", "source-extractor", stderr=b"", extra=_SPAWNER)
    seen: list[bytes] = []
    pidfds: list[int] = []

    def listener(chunk: bytes) -> None:
        seen.append(chunk)
        pids = _ready_pids(seen)
        if pids and not pidfds:
            pidfds.extend(os.pidfd_open(pid) for pid in pids)
            raise KeyboardInterrupt  # what Ctrl-C does in the reading thread

    with step_context(StepContext(listeners=[listener])), pytest.raises(KeyboardInterrupt):
        Astromatic("SExtractor", temp_path=str(tmp_path), cmd=fake,
                   params=["NUMBER"]).run("a.fits")
    assert len(pidfds) == 2
    try:
        assert all(_exited(fd) for fd in pidfds), "the tool or its child survived Ctrl-C"
    finally:
        for fd in pidfds:
            os.close(fd)


@pytest.mark.timeout(60)
def test_terminate_all_kills_the_tool_and_its_children(tmp_path: Path) -> None:
    fake = make_fake(tmp_path / "bin", "source-extractor", stderr=b"", extra=_SPAWNER)
    seen: list[bytes] = []
    pidfds: list[int] = []
    stopper = threading.Thread(target=terminate_all)

    def listener(chunk: bytes) -> None:
        seen.append(chunk)
        pids = _ready_pids(seen)
        if pids and not pidfds:
            pidfds.extend(os.pidfd_open(pid) for pid in pids)
            stopper.start()  # a stop request from another thread (the TUI, a signal)

    with step_context(StepContext(listeners=[listener])):
        result = Astromatic("SExtractor", temp_path=str(tmp_path), cmd=fake,
                            params=["NUMBER"]).run("a.fits", raise_error=False)
    stopper.join()
    try:
        assert result["status"] == "error"
        assert result["returncode"] == -signal.SIGTERM
        assert f"killed by signal {int(signal.SIGTERM)}" in result["error_msg"]
        assert all(_exited(fd) for fd in pidfds), "a child of the tool survived"
    finally:
        for fd in pidfds:
            os.close(fd)


def test_an_error_result_stops_the_pipeline_with_the_tools_message(
    tmp_path: Path, image: str
) -> None:
    fake = make_fake(tmp_path / "bin", "source-extractor",
                     stderr=PROGRESS + b"> WARNING: FOO keyword unknown\n")
    paths = {"temp": str(tmp_path / "temp"), "log": str(tmp_path / "log")}
    pipeline = Pipeline(paths, create_paths=True, build_paths={"SExtractor": fake})
    pipeline.add_step(api.run_sex, ["sex"], files=image,
                      api_kwargs={"params": ["NUMBER"], "config": {"FOO": 1}})
    pipeline.add_step(api.run_sex, ["sex"], files=image, api_kwargs={"params": ["NUMBER"]})
    with pytest.raises(PipelineError, match="FOO"):
        pipeline.run()
    assert pipeline.steps[0].results["status"] == "error"
    assert pipeline.steps[1].results is None


_RUNNER = """
import sys
from aw_tui.base.process import run_command
tool = "import os, sys, time; print('TOOL', os.getpid(), flush=True); time.sleep(60)"
run_command([sys.executable, "-c", tool], output_path=sys.argv[1])
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
@pytest.mark.timeout(60)
def test_a_silent_tool_dies_with_a_runner_killed_by_sigkill(tmp_path: Path) -> None:
    """kill -9 of a runner (or a Dask worker) must not leave its tool running: a resumed
    run would run the same step beside it, writing the same files."""
    import subprocess
    import time

    from aw_tui.base.process import dies_with_runner

    if not dies_with_runner():
        message = "neither the tool watchdog nor util-linux's setpriv --pdeathsig works here"
        if on_ci():
            pytest.fail(message)
        pytest.skip(message)
    out = tmp_path / "tool.out"
    runner = subprocess.Popen([sys.executable, "-c", _RUNNER, str(out)])
    deadline = time.monotonic() + 30
    while not (out.exists() and out.read_text().endswith("\n")):
        assert time.monotonic() < deadline and runner.poll() is None, "the tool never started"
        time.sleep(0.05)
    tool = int(out.read_text().split()[1])
    pidfd = os.pidfd_open(tool)
    try:
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait(timeout=10)
        assert _exited(pidfd), "the tool outlived the runner killed with SIGKILL"
    finally:
        os.close(pidfd)
        with contextlib.suppress(ProcessLookupError):
            os.kill(tool, signal.SIGKILL)


def test_a_tool_that_cannot_be_started_raises_as_subprocess_does(tmp_path: Path) -> None:
    from aw_tui.base.process import run_command

    with pytest.raises(FileNotFoundError):
        run_command(["aw-tui-no-such-tool-anywhere", "-v"])
    with pytest.raises(FileNotFoundError):
        run_command([str(tmp_path / "missing" / "sex")])
    not_executable = tmp_path / "sex"
    not_executable.write_text("#!/bin/sh\n")
    with pytest.raises(PermissionError):
        run_command([str(not_executable)])
    ok = run_command(["sh", "-c", "echo \"$0\" \"$1\"", "-x", "a b"])
    assert ok.returncode == 0 and ok.output == b"-x a b\n"
    assert ok.argv == ["sh", "-c", "echo \"$0\" \"$1\"", "-x", "a b"]  # not the wrapper

