"""Issue 14, groups: the members of a ``foreach`` step fold into one row with their counts
per state; → / enter unfold it, ← folds it, + / - all of them; the filter, g / G and the
cursor work on members; a failed run opens at its failed member, its group unfolded."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from test_step_table import TableApp, screen_lines, sync
from test_tui_app import screen_text, wait_until

from aw_tui.target import resolve_target
from aw_tui.tui.app import AwTuiApp
from aw_tui.tui.session import Session
from aw_tui.tui.step_groups import GroupIndex, display_order, split_identity, step_label
from aw_tui.tui.step_rows import StepRow
from aw_tui.tui.widgets.step_table import StepTable

KEYS = ("206401", "206402", "206403", "206404")


def demo_rows(statuses: tuple[str, ...] = ("success", "error", "running", "pending"),
              ) -> list[StepRow]:
    """Four ``detect`` members (one group), then two single steps."""
    rows = [StepRow(index=i, step_id=i, tags=["detect", f"exp{key}"], func="run_sex",
                    status=status, duration=2.0 if status in ("success", "error") else None,
                    summary=f"{100 + i} det" if status == "success" else "",
                    identity=f"detect[{key}]")
            for i, (key, status) in enumerate(zip(KEYS, statuses, strict=True))]
    rows.append(StepRow(index=4, step_id=4, tags=["scamp"], func="run_scamp",
                        identity="astrometry"))
    rows.append(StepRow(index=5, step_id=5, tags=["swarp"], func="run_swarp", identity="stack"))
    return rows


def shown(table: StepTable) -> list[str]:
    return [line.rstrip() for line in screen_lines(table)[1:] if line.strip()]


# -- plain data -------------------------------------------------------------------------------
def test_identities_split_into_name_and_item_and_unnamed_steps_are_no_group() -> None:
    assert split_identity("detect[206401]") == ("detect", "206401")
    assert split_identity("stack") == ("stack", "")
    assert split_identity("steps[3]") == ("steps[3]", "")  # the 4th [[steps]], no name
    assert split_identity("steps[3][a.fits]") == ("steps[3]", "a.fits")
    assert step_label(StepRow(index=0, step_id=7, identity="detect[206402]")) == \
        "detect · 206402"
    assert step_label(StepRow(index=0, step_id=7, identity="7")) == ""  # a script's step
    assert step_label(StepRow(index=0, step_id=7, identity="steps[2]")) == ""  # no name
    assert step_label(StepRow(index=0, step_id=7, identity="steps[2][a]")) == "a"
    unnamed = [StepRow(index=i, step_id=i, identity=f"steps[{i}]") for i in range(4)]
    assert GroupIndex(unnamed).groups == []


def test_groups_count_their_members_and_follow_row_changes() -> None:
    rows = demo_rows()
    index = GroupIndex(rows)
    (group,) = index.groups
    assert (group.name, group.start, group.stop, group.size) == ("detect", 0, 4, 4)
    assert group.status == "running"  # the most pressing: running, then error...
    assert group.summary() == "1/4 ✔  1 ▶  1 ✘  1 ·"
    assert display_order(len(rows), index, set()) == [~0, 4, 5]
    assert display_order(len(rows), index, {"detect"}) == [~0, 0, 1, 2, 3, 4, 5]
    assert index.group_of(3) == 0 and index.group_of(4) is None
    # The running member ends with warnings: counted as done, shown as ⚠.
    new = replace(rows[2], status="success", warnings=2, duration=1.0)
    assert index.replace(2, rows[2], new) == 0
    assert group.status == "error"
    assert group.summary() == "2/4 ✔  1 ✘  1 ·  1 ⚠"
    assert (group.duration, group.timed) == (5.0, 3)
    assert index.representative([*rows[:2], new, *rows[3:]], 0) == 1  # the failed one


# -- the widget -------------------------------------------------------------------------------
@sync
async def test_a_group_shows_as_one_row_and_unfolds_and_folds_with_the_arrows() -> None:
    app = TableApp(demo_rows())
    async with app.run_test(size=(100, 14)) as pilot:
        table = app.query_one(StepTable)
        table.focus()
        await pilot.pause()
        rows = shown(table)
        assert "#" not in screen_lines(table)[0]  # run position = id everywhere: no # column
        assert "step" in screen_lines(table)[0]
        assert rows[0].split()[:3] == ["▶", "running", "▸"]
        assert "detect (4)" in rows[0] and "1/4 ✔  1 ▶  1 ✘  1 ·" in rows[0]
        assert "4.00s" in rows[0]  # the members' time added up
        assert len(rows) == 3 and "astrometry" in rows[1] and "stack" in rows[2]
        # The group's row stands for its running member (its output, details, e...).
        assert table.cursor_group == "detect" and table.cursor_step_id == 2
        assert app.highlighted[-1] == 2

        await pilot.press("right")
        rows = shown(table)
        assert "▾ detect (4)" in rows[0]
        assert [r.split()[0] for r in rows[1:5]] == ["0", "1", "2", "3"]
        assert "detect · 206402" in rows[2] and "✘ error" in rows[2]
        assert table.cursor_row == 0  # the cursor stays on the group's row

        await pilot.press("down", "down")  # to member 206402
        assert table.cursor_step_id == 1 and table.cursor_group is None
        await pilot.press("left")  # folds its group: the row then stands for that member
        assert len(shown(table)) == 3
        assert table.cursor_group == "detect" and table.cursor_step_id == 1

        await pilot.press("enter")  # enter on a folded group unfolds it (no Selected)
        assert table.is_unfolded("detect") and app.selected == []
        await pilot.press("minus")
        assert not table.is_unfolded("detect")
        await pilot.press("plus")
        assert table.is_unfolded("detect")
        await pilot.press("G")
        assert table.cursor_step_id == 5
        await pilot.press("g")
        assert table.cursor_group == "detect"


@sync
async def test_a_member_update_recounts_its_group_and_keeps_the_fold() -> None:
    app = TableApp(demo_rows(("success", "success", "running", "pending")))
    async with app.run_test(size=(100, 14)) as pilot:
        table = app.query_one(StepTable)
        await pilot.pause()
        assert "2/4 ✔  1 ▶  1 ·" in shown(table)[0]
        row = table.get_row(2)
        assert row is not None
        table.update_row(2, replace(row, status="error", duration=1.0))
        await pilot.pause()
        line = shown(table)[0]
        assert "✘ error" in line and "2/4 ✔  1 ✘  1 ·" in line, line
        # New rows (a refresh of the project's steps) keep each group as the user left it.
        table.set_folded("detect", False)
        table.set_rows(demo_rows())
        await pilot.pause()
        assert table.is_unfolded("detect") and len(shown(table)) == 7


@sync
async def test_the_filter_shows_matching_members_and_the_cursor_reaches_folded_ones() -> None:
    app = TableApp(demo_rows())
    async with app.run_test(size=(100, 14)) as pilot:
        table = app.query_one(StepTable)
        await pilot.pause()
        table.set_filter("206403")  # an item key: the member itself, folded or not
        await pilot.pause()
        (only,) = shown(table)
        assert "detect · 206403" in only and "▶ running" in only
        table.set_filter("detect")
        await pilot.pause()
        assert len(shown(table)) == 4
        table.set_filter("")
        await pilot.pause()
        assert len(shown(table)) == 3  # folded again

        # Following the run keeps the group folded: its row stands for the asked member.
        assert table.move_cursor_to_step(3)
        assert table.cursor_group == "detect" and table.cursor_step_id == 3
        await pilot.pause()
        assert app.highlighted[-1] == 3
        # Going to a failed member unfolds its group and puts the cursor on its row.
        assert table.move_cursor_to_step(1, unfold=True)
        assert table.is_unfolded("detect") and table.cursor_group is None
        assert table.cursor_step_id == 1 and table.cursor_row == 2


@sync
async def test_the_run_position_column_shows_when_it_differs_from_the_id() -> None:
    rows = demo_rows()
    rows[5] = StepRow(index=None, step_id=5, identity="stack")  # not in this run's tags
    app = TableApp(rows)
    async with app.run_test(size=(100, 14)) as pilot:
        await pilot.pause()
        assert "#" in screen_lines(app.query_one(StepTable))[0]


# -- the app ----------------------------------------------------------------------------------
def _failed_member_project(folder: Path) -> Path:
    """Three members of a foreach step, the second fails; then a step after them."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "steps_mod.py").write_text(
        "def work(pipeline=None, frame='', **kwargs):\n"
        "    if frame == 'b':\n"
        "        raise RuntimeError('frame b is broken')\n"
        "    return {'status': 'success', 'summary': {'frame': frame}}\n"
    )
    project = folder / "project.toml"
    project.write_text(
        '[pipeline]\nname = "g"\ncreate_paths = true\n'
        '[paths]\nlog = "work/log"\ntemp = "work/temp"\n'
        '[inputs.frames]\nitems = ["a", "b", "c"]\ntext_fields = ["image"]\n'
        '[[steps]]\nname = "each"\nfunc = "steps_mod.py:work"\nforeach = "frames"\n'
        'tags = ["each"]\n[steps.kwargs]\nframe = "{item.image}"\n'
        '[[steps]]\nname = "after"\nfunc = "steps_mod.py:work"\ntags = ["after"]\n'
    )
    return project


def test_a_failed_run_opens_at_its_failed_member_with_the_group_unfolded(tmp_path) -> None:
    import subprocess
    import sys

    project = _failed_member_project(tmp_path / "p")
    proc = subprocess.run([sys.executable, "-m", "aw_tui", str(project), "--batch"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0, proc.stdout
    events = [json.loads(line) for line in
              (tmp_path / "p" / "work" / "log" / "events.jsonl").read_text().splitlines()]
    assert any(e["event"] == "run_failed" for e in events)

    async def run() -> None:
        app = AwTuiApp(Session(resolve_target(str(project))), poll_interval=0.05)
        async with app.run_test(size=(100, 24)) as pilot:
            table = app.query_one(StepTable)
            await wait_until(pilot, lambda: app._loaded and table.cursor_step_id == 1, 20,
                             "cursor on the failed member")
            assert table.is_unfolded("each") and table.cursor_group is None
            text = screen_text(app)
            assert "▾ each (3)" in text and "each · b" in text
            assert "frame b is broken" in text  # its error, shown at once
            row = next(line for line in text.splitlines() if "▾ each (3)" in line)
            assert "✘ error" in row and "1/3 ✔  1 ✘  1 ·" in row, row

    asyncio.run(run())


@pytest.fixture
def many_members() -> list[StepRow]:
    return [StepRow(index=i, step_id=i, tags=["bench", f"f{i:06d}"], func="succeed",
                    status="success", duration=0.001, identity=f"each[f{i:06d}]")
            for i in range(20_000)]


@sync
async def test_twenty_thousand_members_fold_into_one_row(many_members: Any) -> None:
    app = TableApp(many_members)
    async with app.run_test(size=(100, 10)) as pilot:
        table = app.query_one(StepTable)
        await pilot.pause()
        (row,) = shown(table)
        assert "▸ each (20000)" in row and "20000/20000 ✔" in row
        assert "bench" in row  # the tags all members share
        await pilot.press("right", "G")
        assert table.cursor_step_id == 19_999 and table.row_count == 20_001


def test_the_palette_folds_and_unfolds_every_group(tmp_path) -> None:
    from test_tui_fix10 import palette_search

    project = _failed_member_project(tmp_path / "p")

    async def run() -> None:
        app = AwTuiApp(Session(resolve_target(str(project))), poll_interval=0.05)
        async with app.run_test(size=(100, 24)) as pilot:
            table = app.query_one(StepTable)
            await wait_until(pilot, lambda: app._loaded and "▸ each (3)" in screen_text(app),
                             20, "the folded group")
            text = await palette_search(pilot, "member")  # found by its description
            assert "Unfold all groups" in text
            await pilot.press("enter")
            await wait_until(pilot, lambda: table.is_unfolded("each"), 5, "unfolded")
            await wait_until(pilot, lambda: "each · b" in screen_text(app), 5, "members")

    asyncio.run(run())


@sync
async def test_a_folded_group_shows_the_start_marker_of_a_member() -> None:

    app = TableApp(demo_rows())
    async with app.run_test(size=(100, 14)) as pilot:
        table = app.query_one(StepTable)
        await pilot.pause()
        assert not shown(table)[0].startswith("»")
        row = table.get_row(2)
        assert row is not None
        table.update_row(2, replace(row, is_start=True))  # `s` on member 206403
        await pilot.pause()
        assert shown(table)[0].startswith("»"), shown(table)[0]
        table.update_row(2, replace(row, is_start=False))
        await pilot.pause()
        assert not shown(table)[0].startswith("»")


@sync
async def test_a_folded_group_shows_the_progress_of_its_running_member() -> None:
    app = TableApp(demo_rows())
    async with app.run_test(size=(120, 14)) as pilot:
        table = app.query_one(StepTable)
        await pilot.pause()
        table.set_progress({2: (0.64, "64% Line 5720/8887")})
        await pilot.pause()
        assert "1/4 ✔  1 ▶  1 ✘  1 ·  64% Line 5720/8887" in shown(table)[0], shown(table)
        table.set_progress({})
        await pilot.pause()
        assert "64%" not in shown(table)[0]
