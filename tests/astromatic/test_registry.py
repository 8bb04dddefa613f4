"""One table of tools: every place that needs a fact about a tool reads it from the registry."""

from __future__ import annotations

import subprocess
import sys

import pytest
from tooling import require_tool

import aw_tui.api
from aw_tui.astromatic.command import Astromatic, ToolCall
from aw_tui.astromatic.registry import BUILD_PATH_NAMES, TOOLS, canonical_code, lookup
from aw_tui.astromatic.xmllog import normalize_tool
from aw_tui.project.funcref import BUILTIN_FUNCS, FuncRef
from aw_tui.project.loader import KNOWN_TOOLS


@pytest.mark.parametrize("code", list(TOOLS))
def test_each_fact_comes_from_the_one_table(code: str) -> None:
    spec = TOOLS[code]
    assert callable(getattr(aw_tui.api, spec.step))
    assert BUILTIN_FUNCS[spec.name] == ("aw_tui.api", spec.step, spec.code)
    assert FuncRef(spec.name).resolve() is getattr(aw_tui.api, spec.step)
    for word in spec.spellings():
        assert canonical_code(word) == code
        assert normalize_tool(word) == spec.name
    assert normalize_tool(f"/usr/local/bin/{spec.binary}") == spec.name
    assert "XML_NAME" in spec.output_keys


def test_the_registry_knows_every_build_paths_name_the_loader_accepts() -> None:
    # project/loader.py may read BUILD_PATH_NAMES instead of its own KNOWN_TOOLS.
    assert {t.lower() for t in KNOWN_TOOLS} <= {t.lower() for t in BUILD_PATH_NAMES}
    assert lookup("STIFF") is None and "STIFF" in BUILD_PATH_NAMES


@pytest.mark.tools
def test_the_tests_find_the_tools_the_registry_describes() -> None:
    for spec in TOOLS.values():
        path = require_tool(spec.name)
        assert Astromatic(spec.code).get_version(path)[0] != "?"


def test_the_command_is_built_once_from_one_call(tmp_path) -> None:
    config = {"CATALOG_TYPE": "FITS_LDAC", "FILTER": False, "PHOT_APERTURES": [5, 10]}
    api = Astromatic("SExtractor", temp_path=str(tmp_path), config=config, cmd="sex",
                     params=["NUMBER"])
    call = api.build_call("image.fits")
    assert isinstance(call, ToolCall) and call.files == ["image.fits"]
    assert call.argv[:2] == ["sex", "image.fits"]
    assert call.argv[call.argv.index("-FILTER") + 1] == "N"
    assert call.argv[call.argv.index("-PHOT_APERTURES") + 1] == "5,10"
    assert call.config is not config and "PARAMETERS_NAME" not in config
    argv, used = api.build_cmd("image.fits")  # the seed's form gives the same command line
    assert argv == call.argv and used["config"] == call.config


def test_the_tool_layer_keeps_start_up_free_of_numpy_and_astropy() -> None:
    # --batch, status and the TUI import the registry, the steps and format_summary: numpy and
    # astropy (~0.3 s) are imported only when an XML log or a catalog is read.
    code = ("import sys, aw_tui.api, aw_tui.astromatic.summaries, aw_tui.astromatic.registry;"
            "print(sorted(m for m in ('numpy', 'astropy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert out.strip() == "[]"
