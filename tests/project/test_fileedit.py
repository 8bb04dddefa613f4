"""Writing a step's kwargs to its project file (``aw_tui.project.fileedit``, key ``e``):
only what changed, comments and layout kept, to the template or one member's override,
references never replaced silently, atomically, and never over a file changed since."""

from __future__ import annotations

import copy
import difflib
import os
import re
import shutil
import stat
import textwrap
from pathlib import Path
from typing import Any

import pytest
from project_helpers import REPO, touch

from aw_tui.project.fileedit import (
    FileChangedError,
    FileEditError,
    ReferenceEditError,
    read_snapshot,
    set_step_kwargs,
)
from aw_tui.project.loader import ProjectError, load_project

DEMO = REPO / "sample_configs" / "demo"
KEYS = ("206401", "206402", "206403")


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    """The demo project (sample_configs/demo) with empty image files in place."""
    folder = tmp_path / "demo"
    shutil.copytree(DEMO, folder)
    for key in KEYS:
        touch(folder, f"images/{key}.fits", f"images/{key}.wtmap.fits",
              f"images/{key}.dqmask.fits")
    return folder / "project.toml"


def changed_lines(old: str, new: str) -> tuple[list[str], list[str]]:
    """The lines removed from ``old`` and added in ``new`` (everything else is the same,
    in the same order)."""
    removed, added = [], []
    matcher = difflib.SequenceMatcher(a=old.splitlines(), b=new.splitlines(), autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            removed += old.splitlines()[i1:i2]
            added += new.splitlines()[j1:j2]
    return removed, added


def config(path: Path, identity: str) -> dict[str, Any]:
    steps = {s.identity: s.kwargs for s in load_project(path).steps}
    return steps[identity]["api_kwargs"]["config"]


def edited(kwargs: dict[str, Any], *path: str, value: Any = None, remove: bool = False
           ) -> dict[str, Any]:
    out = copy.deepcopy(kwargs)
    table = out
    for key in path[:-1]:
        table = table.setdefault(key, {})
    if remove:
        del table[path[-1]]
    else:
        table[path[-1]] = value
    return out


# -- the template ------------------------------------------------------------------------
def test_a_template_edit_changes_only_its_lines_and_every_member(demo: Path) -> None:
    before = demo.read_text()
    snapshot = read_snapshot(demo)
    kwargs = snapshot.step("detect", "206402").kwargs
    new = edited(edited(kwargs, "api_kwargs", "config", "DETECT_THRESH", value=7),
                 "api_kwargs", "config", "FILTER", remove=True)
    edit = set_step_kwargs(snapshot, "detect", new, "206402")
    assert edit.written and edit.where == "template" and edit.identity == "detect[206402]"
    assert sorted(c.describe() for c in edit.changes) == [
        "api_kwargs.config.DETECT_THRESH (none) -> 7", "api_kwargs.config.FILTER false -> (none)"]
    assert edit.changed_steps == [f"detect[{k}]" for k in KEYS]
    after = demo.read_text()
    assert changed_lines(before, after) == (["FILTER = false"], ["DETECT_THRESH = 7"])
    # the new key follows the table's last key, above the blank line and the next comment
    assert ('WEIGHT_TYPE = "MAP_WEIGHT"\nDETECT_THRESH = 7\n\n# step2: astrometric solution'
            in after)
    for key in KEYS:
        cfg = config(demo, f"detect[{key}]")
        assert cfg["DETECT_THRESH"] == 7 and "FILTER" not in cfg
    assert edit.project.steps[0].kwargs["api_kwargs"]["config"]["DETECT_THRESH"] == 7
    assert edit.snapshot.data == after.encode()


def test_a_step_without_foreach_by_name_position_and_identity(demo: Path) -> None:
    before = demo.read_text()
    kwargs = read_snapshot(demo).step("astrometry").kwargs
    new = edited(kwargs, "api_kwargs", "config", "ASTREFMAG_KEY", value="Rmag")
    new = edited(new, "api_kwargs", "config", "CHECKPLOT_DEV", remove=True)
    new = edited(new, "api_kwargs", "config", "MATCH_NMAX", value=2000)
    edit = set_step_kwargs(demo, "astrometry", new)
    assert edit.changed_steps == ["astrometry"]
    removed, added = changed_lines(before, demo.read_text())
    assert removed == ['ASTREFMAG_KEY = "Gmag"', 'CHECKPLOT_DEV = "NULL"']
    assert added == ['ASTREFMAG_KEY = "Rmag"', "MATCH_NMAX = 2000"]
    assert config(demo, "astrometry")["MATCH_NMAX"] == 2000
    # by position and by identity: the same step
    again = edited(new, "api_kwargs", "config", "MATCH_NMAX", value=300)
    assert set_step_kwargs(demo, 1, again).identity == "astrometry"
    assert set_step_kwargs(demo, "astrometry", edited(again, "api_kwargs", "config",
                                                      "MATCH_NMAX", value=5)).written
    assert config(demo, "astrometry")["MATCH_NMAX"] == 5


def test_a_comment_on_the_line_of_a_changed_value_stays(demo: Path) -> None:
    demo.write_text(demo.read_text().replace('SOLVE_PHOTOM = "N"',
                                             'SOLVE_PHOTOM = "N"   # no photometry here'))
    kwargs = read_snapshot(demo).step("astrometry").kwargs
    set_step_kwargs(demo, "astrometry", edited(kwargs, "api_kwargs", "config", "SOLVE_PHOTOM",
                                               value="Y"))
    assert 'SOLVE_PHOTOM = "Y"   # no photometry here\n' in demo.read_text()


def test_nothing_changed_writes_nothing(demo: Path) -> None:
    os.utime(demo, (1_000_000, 1_000_000))
    snapshot = read_snapshot(demo)
    edit = set_step_kwargs(snapshot, "psf", copy.deepcopy(snapshot.step("psf").kwargs))
    assert not edit.written and edit.changes == [] and edit.changed_steps == []
    assert demo.stat().st_mtime == 1_000_000


def test_removing_a_whole_table_keeps_the_comment_of_the_next_step(demo: Path) -> None:
    before = demo.read_text()
    kwargs = read_snapshot(demo).step("psf").kwargs
    set_step_kwargs(demo, "psf", edited(kwargs, "api_kwargs", "config", remove=True))
    removed, added = changed_lines(before, demo.read_text())
    assert added == []
    assert removed[0] == "[steps.kwargs.api_kwargs.config]" and len(removed) == 6
    assert ('config_file = "{paths.config}/default.psfex"\n\n'
            "# step6: PSF photometry on the stack\n[[steps]]") in demo.read_text()
    assert "config" not in load_project(demo).steps[6].kwargs["api_kwargs"]


# -- one member --------------------------------------------------------------------------
def test_a_member_edit_writes_an_override_table_for_that_member_only(demo: Path) -> None:
    before = demo.read_text()
    snapshot = read_snapshot(demo)
    kwargs = snapshot.step("detect[206401]").kwargs
    new = edited(kwargs, "api_kwargs", "config", "DETECT_THRESH", value=7)
    edit = set_step_kwargs(snapshot, "detect", new, "206401", member_only=True)
    assert edit.where == "member" and edit.changed_steps == ["detect[206401]"]
    after = demo.read_text()
    removed, added = changed_lines(before, after)
    assert removed == []
    assert added == ["", '[steps.items."206401".kwargs.api_kwargs.config]', "DETECT_THRESH = 7"]
    assert ('WEIGHT_TYPE = "MAP_WEIGHT"\n\n[steps.items."206401".kwargs.api_kwargs.config]\n'
            'DETECT_THRESH = 7\n\n# step2: astrometric solution') in after
    assert config(demo, "detect[206401]")["DETECT_THRESH"] == 7
    assert "DETECT_THRESH" not in config(demo, "detect[206402]")
    # again: the override is changed in place, a new key goes beside it
    kwargs = load_project(demo).steps[0].kwargs
    new = edited(edited(kwargs, "api_kwargs", "config", "DETECT_THRESH", value=9),
                 "api_kwargs", "config", "DEBLEND_MINCONT", value=0.01)
    set_step_kwargs(demo, "detect[206401]", new, member_only=True)
    removed, added = changed_lines(after, demo.read_text())
    assert (removed, added) == (["DETECT_THRESH = 7"],
                                ["DETECT_THRESH = 9", "DEBLEND_MINCONT = 0.01"])
    # removing the member's own keys removes the override: the file is as it was
    kwargs = load_project(demo).steps[0].kwargs
    new = edited(edited(kwargs, "api_kwargs", "config", "DETECT_THRESH", remove=True),
                 "api_kwargs", "config", "DEBLEND_MINCONT", remove=True)
    edit = set_step_kwargs(demo, "detect[206401]", new, member_only=True)
    assert demo.read_text() == before
    assert [c.describe() for c in edit.changes] == [
        "api_kwargs.config.DETECT_THRESH 9 -> (none)",
        "api_kwargs.config.DEBLEND_MINCONT 0.01 -> (none)"]


def test_a_member_cannot_remove_a_key_of_the_template(demo: Path) -> None:
    before = demo.read_text()
    kwargs = read_snapshot(demo).step("detect[206403]").kwargs
    with pytest.raises(FileEditError, match="comes from the step's template") as caught:
        set_step_kwargs(demo, "detect[206403]", edited(kwargs, "frames", remove=True),
                        member_only=True)
    assert "remove it from the template (all members)" in str(caught.value)
    assert demo.read_text() == before


def test_a_template_edit_from_a_member_drops_that_member_s_override(demo: Path) -> None:
    kwargs = read_snapshot(demo).step("detect[206402]").kwargs
    set_step_kwargs(demo, "detect[206402]",
                    edited(kwargs, "api_kwargs", "config", "DETECT_THRESH", value=9),
                    member_only=True)
    kwargs = load_project(demo).steps[1].kwargs
    edit = set_step_kwargs(demo, "detect[206402]",
                           edited(kwargs, "api_kwargs", "config", "DETECT_THRESH", value=4))
    assert edit.cleared_overrides == ["api_kwargs.config.DETECT_THRESH"]
    assert "[steps.items" not in demo.read_text()
    assert [config(demo, f"detect[{k}]")["DETECT_THRESH"] for k in KEYS] == [4, 4, 4]


def test_member_only_needs_a_foreach_step(demo: Path) -> None:
    kwargs = read_snapshot(demo).step("psf").kwargs
    with pytest.raises(FileEditError, match="not a member of a foreach step"):
        set_step_kwargs(demo, "psf", kwargs, member_only=True)


@pytest.mark.parametrize(("step", "item_key", "needle"), [
    ("detcet", None, "did you mean 'detect'?"),
    ("detect", "206410", "item keys: 206401, 206402, 206403"),
    ("psf", "206401", "not a foreach step"),
])
def test_an_unknown_step_or_member_is_named(demo: Path, step: str, item_key: str | None,
                                            needle: str) -> None:
    with pytest.raises(FileEditError, match=needle):
        set_step_kwargs(demo, step, {}, item_key)


# -- references --------------------------------------------------------------------------
def test_a_reference_is_not_replaced_unless_asked(demo: Path) -> None:
    before = demo.read_text()
    kwargs = read_snapshot(demo).step("detect[206401]").kwargs
    new = edited(kwargs, "api_kwargs", "config", "CATALOG_NAME", value="/tmp/x.cat")
    with pytest.raises(ReferenceEditError) as caught:
        set_step_kwargs(demo, "detect[206401]", new)
    message = str(caught.value)
    line = before.splitlines().index('CATALOG_NAME = "{outputs.catalog}"') + 1
    catalog = demo.parent / "work" / "temp" / "206401.cat"
    assert (f'{demo}:{line}: steps[0].kwargs.api_kwargs.config.CATALOG_NAME = '
            f'"{{outputs.catalog}}" gives "{catalog}" for detect[206401]; the edit writes the '
            'literal "/tmp/x.cat"') in message
    assert "for every member" in message and "nothing was written" in message
    assert caught.value.keys == ["steps[0].kwargs.api_kwargs.config.CATALOG_NAME"]
    assert demo.read_text() == before
    # only this member, confirmed: an override with the literal; the template keeps its
    # reference
    set_step_kwargs(demo, "detect[206401]", new, member_only=True, replace_references=True)
    assert config(demo, "detect[206401]")["CATALOG_NAME"] == "/tmp/x.cat"
    assert config(demo, "detect[206402]")["CATALOG_NAME"].endswith("/206402.cat")
    assert 'CATALOG_NAME = "{outputs.catalog}"' in demo.read_text()


def test_a_reference_that_gives_a_table_is_written_whole_when_confirmed(demo: Path) -> None:
    kwargs = read_snapshot(demo).step("detect[206403]").kwargs
    assert set(kwargs["files"]) == {"image", "wtmap", "dqmask"}  # files = "{item}"
    new = edited(kwargs, "files", "dqmask", value="/data/other.dqmask.fits")
    with pytest.raises(ReferenceEditError, match=re.escape('steps[0].kwargs.files = "{item}"')):
        set_step_kwargs(demo, "detect[206403]", new, member_only=True)
    set_step_kwargs(demo, "detect[206403]", new, member_only=True, replace_references=True)
    text = demo.read_text()
    assert '[steps.items."206403".kwargs.files]\nimage = "' in text
    assert 'dqmask = "/data/other.dqmask.fits"\n\n# step2: astrometric' in text
    steps = load_project(demo).steps
    assert steps[2].kwargs["files"] == new["files"]
    assert steps[1].kwargs["files"]["dqmask"].endswith("206402.dqmask.fits")


def test_braces_in_new_values_are_written_as_literals(demo: Path) -> None:
    kwargs = read_snapshot(demo).step("astrometry").kwargs
    set_step_kwargs(demo, "astrometry", edited(kwargs, "api_kwargs", "config", "CHECKPLOT_NAME",
                                               value="/x/{not a reference}"))
    assert 'CHECKPLOT_NAME = "/x/{{not a reference}}"' in demo.read_text()
    assert config(demo, "astrometry")["CHECKPLOT_NAME"] == "/x/{not a reference}"


# -- what is checked before writing ------------------------------------------------------
def test_an_edit_that_breaks_the_project_is_not_written(demo: Path) -> None:
    before = demo.read_text()
    kwargs = read_snapshot(demo).step("save").kwargs
    with pytest.raises(ProjectError, match="save_output takes no argument 'extra'"):
        set_step_kwargs(demo, "save", edited(kwargs, "extra", value=1))
    assert demo.read_text() == before


def test_a_file_changed_since_it_was_read_is_not_overwritten(demo: Path) -> None:
    snapshot = read_snapshot(demo)
    kwargs = edited(snapshot.step("psf").kwargs, "api_kwargs", "config", "PSF_SUFFIX",
                    value=".psf2")
    demo.write_text(demo.read_text() + "\n# a comment added by another editor\n")
    changed = demo.read_text()
    with pytest.raises(FileChangedError, match="changed on disk since it was read"):
        set_step_kwargs(snapshot, "psf", kwargs)
    assert demo.read_text() == changed
    assert not [p for p in demo.parent.iterdir() if p.name.startswith(".project.toml")]


def test_before_write_may_stop_the_edit(demo: Path) -> None:
    before = demo.read_text()
    kwargs = read_snapshot(demo).step("detect[206401]").kwargs

    def refuse(changed: list[str]) -> None:
        assert changed == [f"detect[{k}]" for k in KEYS]
        raise FileEditError("detect[206401] has already started")

    with pytest.raises(FileEditError, match="already started"):
        set_step_kwargs(demo, "detect[206401]", edited(kwargs, "api_kwargs", "config",
                                                       "DETECT_THRESH", value=2),
                        before_write=refuse)
    assert demo.read_text() == before


def test_only_the_keys_changed_from_the_base_are_made(demo: Path) -> None:
    """The TUI shows the run's kwargs: what differs from them is made over the file's."""
    snapshot = read_snapshot(demo)
    shown = edited(snapshot.step("astrometry").kwargs, "api_kwargs", "config",
                   "ASTREFMAG_KEY", value="Vmag")  # the run's value, not the file's
    new = edited(shown, "api_kwargs", "config", "SOLVE_PHOTOM", value="Y")
    edit = set_step_kwargs(snapshot, "astrometry", new, base=shown)
    assert [c.describe() for c in edit.changes] == ['api_kwargs.config.SOLVE_PHOTOM "N" -> "Y"']
    assert config(demo, "astrometry")["ASTREFMAG_KEY"] == "Gmag"


def test_mode_and_symbolic_link_are_kept(demo: Path, tmp_path: Path) -> None:
    os.chmod(demo, 0o640)
    link = tmp_path / "link.toml"
    link.symlink_to(demo)
    kwargs = read_snapshot(link).step("psf").kwargs
    set_step_kwargs(link, "psf", edited(kwargs, "api_kwargs", "config", "PSF_SUFFIX",
                                        value=".psf2"))
    assert link.is_symlink() and 'PSF_SUFFIX = ".psf2"' in demo.read_text()
    assert stat.S_IMODE(demo.stat().st_mode) == 0o640


# -- other layouts -----------------------------------------------------------------------
SUCCEED = "aw_tui.testing_funcs:succeed"


def test_steps_written_as_inline_tables(tmp_path: Path) -> None:
    path = tmp_path / "project.toml"
    path.write_text(textwrap.dedent(f"""\
        steps = [
          {{ func = "{SUCCEED}", kwargs = {{ n = 1, sub = {{ a = 1 }} }} }},  # the one step
        ]

        [paths]
        temp = "work"   # a comment
    """))
    kwargs = read_snapshot(path).step(0).kwargs
    new = edited(edited(kwargs, "sub", "a", value=2), "added", value="yes")
    set_step_kwargs(path, 0, new)
    text = path.read_text()
    assert text.startswith("steps = [\n  { func = ") and "added = \"yes\"} },  # the one step\n]\n" in text
    assert text.endswith('\n\n[paths]\ntemp = "work"   # a comment\n')
    assert load_project(path).steps[0].kwargs == {"n": 1, "sub": {"a": 2}, "added": "yes"}


def test_dotted_keys_and_the_comments_at_the_end_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "project.toml"
    path.write_text(textwrap.dedent(f"""\
        [[steps]]
        func = "{SUCCEED}"
        [steps.kwargs]
        api_kwargs.config.X = 1   # dotted
        last = true

        # the end of the file
    """))
    before = path.read_text()
    kwargs = read_snapshot(path).step(0).kwargs
    new = edited(edited(kwargs, "api_kwargs", "config", "X", value=2), "added", value="yes")
    set_step_kwargs(path, 0, new)
    removed, added = changed_lines(before, path.read_text())
    assert removed == ["api_kwargs.config.X = 1   # dotted"]
    assert added == ["api_kwargs.config.X = 2   # dotted", 'added = "yes"']
    assert path.read_text().endswith('added = "yes"\n\n# the end of the file\n')
    assert load_project(path).steps[0].kwargs == new
    # a new table in the last step goes above the comments that end the file
    kwargs = load_project(path).steps[0].kwargs
    set_step_kwargs(path, 0, edited(kwargs, "extra", value={"k": {"v": 1}}))
    assert path.read_text().endswith("[steps.kwargs.extra.k]\nv = 1\n\n# the end of the file\n")
    assert load_project(path).steps[0].kwargs["extra"] == {"k": {"v": 1}}


def test_every_plain_value_of_the_demo_changes_one_line(demo: Path) -> None:
    """Each text, number or boolean of every step's kwargs that is not a reference: one
    line replaced, nothing else."""
    original = demo.read_text()
    snapshot = read_snapshot(demo)
    seen = 0
    for step in snapshot.project.steps:
        if step.item_key not in (None, "206401"):
            continue

        def leaves(tree: dict[str, Any], path: tuple[str, ...] = ()) -> Any:
            for key, value in tree.items():
                if isinstance(value, dict):
                    yield from leaves(value, (*path, key))
                elif isinstance(value, (str, int, float, bool)) and "/" not in str(value):
                    yield (*path, key), value

        for path, value in leaves(step.kwargs):
            new_value = (not value if isinstance(value, bool)
                         else value + 1 if isinstance(value, (int, float)) else value + "X")
            demo.write_text(original)
            try:
                set_step_kwargs(demo, step.identity, edited(step.kwargs, *path, value=new_value))
            except ReferenceEditError:
                continue
            removed, added = changed_lines(original, demo.read_text())
            assert len(removed) == len(added) == 1, (path, removed, added)
            assert removed[0].split("=")[0] == added[0].split("=")[0]
            seen += 1
    assert seen >= 20
