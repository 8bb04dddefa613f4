"""Shared helpers of the project room's tests: writing projects, the seed's Simple and Full
Examples as project files, and reading the errors of a load."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from aw_tui.project.loader import ProjectError, load_project

REPO = Path(__file__).resolve().parents[2]

RECORD_PY = '''
import json, os

def record(out, **kwargs):
    """Append the kwargs to the JSON-lines file ``out``."""
    with open(out, "a") as handle:
        handle.write(json.dumps(kwargs, sort_keys=True) + "\\n")
    return {"status": "success"}

def with_context(pipeline, step_id, out):
    with open(out, "a") as handle:
        handle.write(json.dumps({"step_id": step_id, "name": pipeline.name}) + "\\n")
    return {"status": "success"}

def save_output(pipeline, old_stack, new_stack, old_cat, new_cat):
    return {"status": "success", "moved": [old_stack, new_stack, old_cat, new_cat]}

def strict(a, b=1):
    return {"status": "success"}
'''


def write_project(folder: Path, text: str, name: str = "project.toml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def touch(folder: Path, *names: str) -> None:
    for name in names:
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"")


def errors_of(path: Path, **kwargs: object) -> list[str]:
    with pytest.raises(ProjectError) as info:
        load_project(path, **kwargs)
    return info.value.errors


def one_error(path: Path, *needles: str, **kwargs: object) -> str:
    """The single error containing every needle (fails with the whole list otherwise)."""
    errors = errors_of(path, **kwargs)
    matching = [e for e in errors if all(n in e for n in needles)]
    assert matching, "\n".join(errors)
    return matching[0]


# -- a minimal project (the seed's Simple Example) -------------------------------------------
SIMPLE = """
    [pipeline]
    name = "simple"
    create_paths = true

    [paths]
    temp = "work/temp"
    log = "work/log"
    catalogs = "work/catalogs"
    config = "config"

    [inputs.images]
    items = [{ image = "my_img.fits", dqmask = "my_img.dqmask.fits", wtmap = "my_img.wt_map.fits" }]

    [[steps]]
    func = "sextractor"
    foreach = "images"
    tags = ["step1", "SExtractor"]

    [steps.kwargs]
    files = "{item.image}"
    frames = [1]
    params = ["NUMBER", "XWIN_IMAGE"]

    [steps.kwargs.api_kwargs]
    config_file = "{paths.config}/default.sex"

    [steps.kwargs.api_kwargs.config]
    CATALOG_NAME = "{paths.catalogs}/{item.image|name|replace:.fits:.ldac.fits}"
    CATALOG_TYPE = "FITS_LDAC"
    FILTER = false
    WEIGHT_TYPE = "MAP_WEIGHT"
"""



# -- the seed's Full Example -------------------------------------------------------------------
FULL = """
    [pipeline]
    name = "full-example"
    create_paths = true

    [paths]
    temp = "work/temp"
    log = "work/log"
    catalogs = "work/catalogs"
    stacks = "work/stacks"
    images = "images"

    [build_paths]
    SExtractor = "bin/sex"
    SCAMP = "scamp"

    [vars]
    ref_catalog = "2MASS"
    frames = [1]
    stack_name = "test_stack.fits"
    output_cat_name = "test_psf.ldac.fits"
    stack = "{paths.temp}/{vars.stack_name}"
    stack_files = { image = "{vars.stack}", wtmap = "{vars.stack|suffix:.wtmap.fits}" }

    [inputs.exposures]
    glob = "{paths.images}/*.fits"
    exclude = ["*.wtmap.fits", "*.dqmask.fits"]
    required = ["wtmap", "dqmask"]

    [inputs.exposures.fields]
    wtmap = "{item.parent}/{item.stem}.wtmap.fits"
    dqmask = "{item.image|suffix:.dqmask.fits}"

    [[steps]]
    name = "detect"
    func = "sextractor"
    foreach = "exposures"
    tags = ["step1", "SExtractor", "{item.stem}"]
    outputs = { catalog = "{paths.temp}/{item.image|name|suffix:.cat}" }
    [steps.kwargs]
    files = "{item}"
    frames = "{vars.frames}"
    [steps.kwargs.api_kwargs.config]
    CATALOG_NAME = "{outputs.catalog}"
    FILTER = false

    [[steps]]
    func = "scamp"
    tags = ["step2", "SCAMP"]
    [steps.kwargs]
    catalogs = "{steps.detect.outputs.catalog}"
    [steps.kwargs.api_kwargs.config]
    ASTREF_CATALOG = "{vars.ref_catalog}"

    [[steps]]
    func = "swarp"
    tags = ["step3", "SWarp"]
    [steps.kwargs]
    filenames = "{inputs.exposures[*].image}"
    frames = "{vars.frames}"
    [steps.kwargs.api_kwargs.config]
    IMAGEOUT_NAME = "{vars.stack}"
    WEIGHTOUT_NAME = "{vars.stack|suffix:.wtmap.fits}"

    [[steps]]
    func = "aw_tui.api.run_sex"
    tags = ["step4", "SExtractor"]
    [steps.kwargs]
    files = "{vars.stack_files}"
    [steps.kwargs.api_kwargs]
    params = ["NUMBER", "VIGNET(20,20)"]
    [steps.kwargs.api_kwargs.config]
    CATALOG_NAME = "{vars.stack|suffix:.cat}"

    [[steps]]
    func = "psfex"
    tags = ["step5", "PSFEx"]
    [steps.kwargs]
    catalogs = "{vars.stack|suffix:.cat}"

    [[steps]]
    func = "aw.api.run_sex"
    tags = ["step6", "SExtractor"]
    [steps.kwargs]
    files = "{vars.stack_files}"
    [steps.kwargs.api_kwargs.config]
    PSF_NAME = "{vars.stack|suffix:.psf}"
    CATALOG_NAME = "{paths.temp}/{vars.output_cat_name}"

    [[steps]]
    func = "funcs.py:save_output"
    tags = ["step7", "save_output"]
    [steps.kwargs]
    old_stack = "{vars.stack}"
    new_stack = "{paths.stacks}/{vars.stack_name}"
    old_cat = "{paths.temp}/{vars.output_cat_name}"
    new_cat = "{paths.catalogs}/{vars.output_cat_name}"
    catalogs_seen = "{inputs.exposures|map:image|name|join: }"
"""

