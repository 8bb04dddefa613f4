"""A big run's steps held light: the TUI's table of 100,000 steps without 100,000 pipelines.

Unpickled, a checkpoint costs ~1.5 KB a step (its steps' kwargs, results, tags and
provenance records) and the states another ~1 KB (the project expanded again, compared
record by record). A TUI open on a 100,000-step run would hold half a gigabyte. So a
checkpoint bigger than :data:`LIGHT_CHECKPOINT_BYTES` is not unpickled in the TUI's process:
a child process (:func:`child`) runs the very code a small run's session
runs in-process (:class:`~aw_tui.tui.session.Session`: its checkpoint load, then
:meth:`~aw_tui.tui.session.Session.refresh` and its fold), writes what the table needs into
a pipe and a private folder, and exits, its memory returned to the system. The TUI then holds one
:class:`LightStep` per step (its id, identity, function name, tags, group and the
checkpoint's row fields) and reads a step's kwargs and results from the folder when asked.

The child writes its steps on its stdout, a pipe the TUI reads as they come: one line of
columns per :data:`CHUNK` steps (``id``, ``identity``, ``func``, ``tags``, ``group``,
``fields``: the checkpoint's row fields, :func:`aw_tui.tui.step_rows.result_fields`, and
``state``: ``[state, reasons, finished]`` after a fold), then a ``header`` line (run name,
``run_steps``, the states' journal ``seq``, the removed steps, the project file's stamp and
the files watched, or why there are no steps: a project file with errors, as
:class:`~aw_tui.project.loader.ProjectError` has them). Then, into a private folder made by
:func:`tempfile.mkdtemp` (mode 0700, the user's own), it writes ``data.jsonl``, one line a
step with its ``kwargs`` and ``results``, as JSON where a JSON round trip gives them back
exactly (:func:`aw_tui.rundir.store.json_exact`), else dill-pickled (the child's own
pickle in this user's own folder: nothing another user wrote is unpickled), and
``data.idx``, the lines' offsets. The folder goes
when no step refers to it any more.

A child that fails (no Python, a damaged checkpoint) makes the TUI read in-process, which
says what is wrong as it always did.

Only this module's child writes there, and only files this process made the folder for
are read back: nothing in it comes from another user.
"""

from __future__ import annotations

import argparse
import array
import base64
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import weakref
from collections.abc import Iterator, Mapping
from typing import Any

import dill

import aw_tui
from aw_tui.base.gcpause import gc_paused
from aw_tui.pipeline import select_by_tags
from aw_tui.project.loader import ProjectError
from aw_tui.rundir.freshness import StepFreshness
from aw_tui.rundir.store import json_exact
from aw_tui.rundir.trust import UntrustedFileError, load_trusted_bytes, open_trusted
from aw_tui.target import resolve_target
from aw_tui.tui.fold import FoldError, load_replayed, watched_files
from aw_tui.tui.step_rows import result_fields

__all__ = ["LIGHT_CHECKPOINT_BYTES", "LightError", "LightPipeline", "LightStep",
           "LightView", "load_light", "wants_light"]

#: A checkpoint file bigger than this (~35,000 steps of a ``foreach`` of small kwargs) is
#: read by a child process (:func:`load_light`), not unpickled in the TUI's.
LIGHT_CHECKPOINT_BYTES = 16 * 1024 * 1024


#: Seconds a step's kwargs or results wait for the child to have written them (it writes
#: them just after the steps: well under a second at 100,000 steps); then they are read
#: from the checkpoint itself.
DATA_WAIT = 60.0


class LightError(Exception):
    """The child process failed in a way the TUI cannot show as its own (it then loads
    in-process, which says what is wrong)."""


def wants_light(checkpoint: str | None) -> bool:
    """Whether the checkpoint at this path is big enough to be read light."""
    try:
        return bool(checkpoint) and os.path.getsize(checkpoint or "") > LIGHT_CHECKPOINT_BYTES
    except OSError:
        return False


class LightStep:
    """One step as the TUI holds it for a big run: what its row needs, the rest on demand.

    Attributes
    ----------
    step_id : int
    identity : str
    func_name : str
    tags : list of str
    group : str or None
    fields : tuple or None
        The checkpoint's row fields (:func:`aw_tui.tui.step_rows.result_fields`); None when
        its results are not a dict (never run), or once the journal says more of the step
        (:meth:`LightPipeline.forget_fields`).
    fresh : StepFreshness or None
        Its state now (a child's ``fold``), one object shared by the steps of the same
        state and reasons: the TUI reads only those two.
    """

    __slots__ = (
        "_kwargs",
        "_owner",
        "fields",
        "fresh",
        "func_name",
        "group",
        "identity",
        "step_id",
        "tags",
    )

    def __init__(self, owner: LightData, step_id: int, identity: str, func_name: str,
                 tags: list[str], group: str | None, fields: tuple[Any, ...] | None) -> None:
        self.step_id = step_id
        self.identity = identity
        self.func_name = func_name
        self.tags = tags
        self.group = group
        self.fields = fields
        self.fresh: StepFreshness | None = None
        self._owner = owner
        self._kwargs: dict[str, Any] | None = None  # set by an edit

    @property
    def func_kwargs(self) -> dict[str, Any]:
        """The step's kwargs: as edited here, else the checkpoint's."""
        if self._kwargs is not None:
            return self._kwargs
        found = _value(self._owner.data_of(self.step_id), "kwargs")
        if isinstance(found, dict):
            return found
        return self._owner.full_kwargs(self.step_id)

    @func_kwargs.setter
    def func_kwargs(self, value: dict[str, Any]) -> None:
        self._kwargs = value

    @property
    def results(self) -> dict[str, Any] | None:
        """The checkpoint's results of the step (None when it has none)."""
        found = _value(self._owner.data_of(self.step_id), "results")
        return found if isinstance(found, dict) else None


def _value(data: dict[str, Any], key: str) -> Any:
    """``kwargs`` or ``results`` of a data line: its JSON, or what JSON cannot hold exactly
    pickled by this process's own child into this process's own private folder (0700), the
    file read through :func:`~aw_tui.rundir.trust.open_trusted` (this user's, written by
    no one else) and unpickled by the trusted loader."""
    pickled = data.get(key + "_pickled")
    if isinstance(pickled, str):
        try:
            return load_trusted_bytes(base64.b64decode(pickled))
        except Exception:  # a class gone since: the checkpoint itself says
            return None
    return data.get(key)


class LightData:
    """A child's folder, as the steps of one :class:`LightPipeline` read it: their
    positions by id, and ``data.jsonl`` read by offset once the child has written it.
    The folder is removed (and a child still writing it killed) when no step refers to
    it any more."""

    def __init__(self, folder: str, target: Any, child: subprocess.Popen[bytes] | None) -> None:
        self.folder = folder
        self.target = target
        self.by_id: dict[int, int] | None = None  # only when ids are not positions
        self.count = 0
        self._child = child
        self._offsets: array.array[int] | None = None
        self._handle: Any = None
        self._lock = threading.Lock()
        weakref.finalize(self, _remove, folder, child)

    def position(self, step_id: int) -> int:
        """The position of the step of this id (KeyError when there is none)."""
        if self.by_id is not None:
            return self.by_id[step_id]
        if type(step_id) is int and 0 <= step_id < self.count:
            return step_id
        raise KeyError(f"no step with id {step_id}")

    def data_of(self, step_id: int) -> dict[str, Any]:
        """A step's line of ``data.jsonl`` (waiting for the child to have written it); empty
        when it cannot be read."""
        with self._lock:
            try:
                if self._offsets is None:
                    if self._child is not None:
                        self._child.wait(timeout=DATA_WAIT)
                    offsets: array.array[int] = array.array("q")
                    with open(os.path.join(self.folder, "data.idx"), "rb") as handle:
                        offsets.frombytes(handle.read())
                    fd = open_trusted(os.path.join(self.folder, "data.jsonl"), "light data")
                    self._handle = os.fdopen(fd, "rb")
                    weakref.finalize(self, self._handle.close)
                    self._offsets = offsets
                self._handle.seek(self._offsets[self.position(step_id)])
                found = json.loads(self._handle.readline())
            except (OSError, ValueError, IndexError, KeyError, subprocess.TimeoutExpired,
                    UntrustedFileError):
                return {}  # its kwargs then come from the checkpoint itself
        return found if isinstance(found, dict) else {}

    def full_kwargs(self, step_id: int) -> dict[str, Any]:
        """A step's kwargs that this folder does not give, from the checkpoint itself, its
        journal replayed as the in-process load does (rare: whole checkpoint loaded). One
        that cannot be read now says so in their place."""
        try:
            return dict(load_replayed(self.target.checkpoint).get_step(step_id).func_kwargs)
        except Exception as exc:  # shown in the details, never a traceback
            return {"(kwargs not readable)": f"{type(exc).__name__}: {exc}"}


class LightPipeline:
    """The steps of a big run as :class:`LightStep` s, read from a child's folder.

    It answers what the TUI asks of a pipeline: ``steps``, ``run_steps``, ``run_name``,
    :meth:`get_step`, :meth:`select_steps`. The kwargs and results of a step are read from
    ``data.jsonl`` when asked, once the child has written it (it writes the steps first).
    """

    def __init__(self, data: LightData, previous: LightPipeline | None = None,
                 known: Any = None) -> None:
        self._previous = previous.steps if previous is not None else []
        self._known = known if known is not None else {}
        self.run_name: str | None = None
        self.name: str | None = None
        self.steps: list[LightStep] = []
        self.run_steps: list[LightStep] | None = None
        self.data = data
        self._words: dict[Any, Any] = {None: None}  # strings and states held once

    def finish(self, header: dict[str, Any]) -> None:
        """After the last :meth:`add_steps`: the pipeline's own fields."""
        self.run_name, self.name = header.get("run_name"), header.get("name")
        self.data.count = len(self.steps)
        self._words, self._previous, self._known = {}, [], {}
        run_steps, steps, by_id = header.get("run_steps"), self.steps, self.data.by_id
        if run_steps is None:
            self.run_steps = None
        elif by_id is None:  # ids are positions
            self.run_steps = [steps[i] for i in run_steps if 0 <= i < len(steps)]
        else:
            self.run_steps = [steps[by_id[i]] for i in run_steps if i in by_id]

    def add_steps(self, columns: dict[str, list[Any]]) -> None:
        """Add the steps of one line of the child (:data:`CHUNK` of them, as columns)."""
        steps, data, words = self.steps, self.data, self._words
        previous, known = self._previous, self._known
        for step_id, identity, func, tags, group, fields, state in zip(
                columns["id"], columns["identity"], columns["func"], columns["tags"],
                columns["group"], columns["fields"], columns["state"], strict=True):
            if fields is not None and step_id not in known:  # else the journal says more
                fields[0] = words.setdefault(fields[0], fields[0])
                fields = tuple(fields)
            else:
                fields = None
            fresh = None
            if state is not None:
                key = ("\0state", state[0], *state[1])
                fresh = words.get(key) or words.setdefault(
                    key, StepFreshness("", words.setdefault(state[0], state[0]), state[1]))
            prior = previous[len(steps)] if len(steps) < len(previous) else None
            if (prior is not None and prior.step_id == step_id and prior.identity == identity
                    and prior.func_name == func and prior.tags == tags
                    and prior.group == group):
                # The same step: its object, now read from this folder (a refresh of
                # 100,000 steps makes no second set of them); each field set once.
                step = prior
                step._owner, step.fields, step.fresh, step._kwargs = data, fields, fresh, None
            else:
                if prior is not None and prior.step_id == step_id:
                    identity = prior.identity if prior.identity == identity else identity
                step = LightStep(data, step_id, identity, words.setdefault(func, func),
                                 [words.setdefault(t, t) for t in tags],
                                 words.setdefault(group, group), fields)
                step.fresh = fresh
            if step_id != len(steps) and data.by_id is None:
                data.by_id = {s.step_id: i for i, s in enumerate(steps)}
            if data.by_id is not None:
                data.by_id[step_id] = len(steps)
            steps.append(step)

    def forget_fields(self, known: Any) -> None:
        """Drop the checkpoint's row fields of the steps in ``known`` (the journal's states,
        by step id): their rows show what the journal says (``Session.row_for``)."""
        for step in self.steps:
            if step.fields is not None and step.step_id in known:
                step.fields = None

    def get_step(self, step_id: int) -> LightStep:
        """The step of this id (KeyError when there is none)."""
        return self.steps[self.data.position(step_id)]

    def select_steps(self, run_tags: Any = (), ignore_tags: Any = ()) -> list[LightStep]:
        """The steps a fresh run with these tags would schedule (the pipeline's rule:
        :func:`aw_tui.pipeline.select_by_tags`)."""
        return select_by_tags(self.steps, run_tags, ignore_tags)


class LightStates(Mapping[int, StepFreshness]):
    """step id -> its state now, read from the steps (no dict of 100,000 entries)."""

    def __init__(self, pipeline: LightPipeline) -> None:
        self._pipeline = pipeline

    def __getitem__(self, step_id: int) -> StepFreshness:
        fresh = self._pipeline.get_step(step_id).fresh
        if fresh is None:
            raise KeyError(step_id)
        return fresh

    def __iter__(self) -> Iterator[int]:
        return (s.step_id for s in self._pipeline.steps if s.fresh is not None)

    def __len__(self) -> int:
        return sum(1 for s in self._pipeline.steps if s.fresh is not None)


def _remove(folder: str, child: subprocess.Popen[bytes] | None) -> None:
    if child is not None and child.poll() is None:
        child.kill()
        child.wait()
    shutil.rmtree(folder, ignore_errors=True)


class LightView:
    """What a child computed: the steps, and with ``fold`` their states.

    Attributes
    ----------
    pipeline : LightPipeline
    states : dict
        step id -> StepFreshness (empty without ``fold``).
    removed : list of StepFreshness
    seq : int or None
        The journal ``seq`` the states include.
    stamp : tuple
        :func:`aw_tui.tui.fold.file_stamp` of the project's files as the child read them.
    watched : list of str
        Those files (:func:`aw_tui.tui.fold.watched_files` of the whole project).
    folded : bool
        Whether the states were computed (``fold``).
    """

    def __init__(self, pipeline: LightPipeline, header: dict[str, Any]) -> None:
        self.pipeline = pipeline
        self.states = LightStates(pipeline)
        self.removed = [StepFreshness(r[0], r[1], list(r[2]), r[3], r[4])
                        for r in header.get("removed", [])]
        self.seq: int | None = header.get("seq")
        self.stamp = tuple(tuple(s) for s in header.get("stamp", []))
        self.watched: list[str] = list(header.get("watched", []))
        self.folded = bool(header.get("states"))


#: The child's program. ``python -m`` would put the current folder first on ``sys.path``,
#: where anyone who may write there could plant an ``aw_tui`` package run as the user: the
#: child imports the very ``aw_tui`` this process runs, from its folder, and nothing from the
#: current one.
_BOOT = ("import sys\nif sys.path and sys.path[0] == '':\n    del sys.path[0]\n"
         "sys.path.insert(0, {root!r})\nfrom aw_tui.tui.light import child\nsys.exit(child())")


def _boot() -> str:
    return _BOOT.format(root=os.path.dirname(os.path.dirname(os.path.abspath(aw_tui.__file__))))


#: A child's folder is ``<tmp>/aw-tui-light-<pid of the TUI>-<random>``.
FOLDER_PREFIX = "aw-tui-light-"
_swept: list[bool] = []


def _sweep_once() -> None:
    """Remove, once a process, the folders this user's TUIs left when they were killed
    (a folder is removed with its steps, or at exit; not after a SIGKILL or a hang-up):
    a folder of ours whose TUI's process is gone. Nothing else is touched: only this
    user's own directories (never a link) named as :func:`start_light` names them."""
    if _swept:
        return
    _swept.append(True)
    root = tempfile.gettempdir()
    try:
        names = os.listdir(root)
    except OSError:
        return
    for name in names:
        pid = name[len(FOLDER_PREFIX):].split("-", 1)[0]
        if not name.startswith(FOLDER_PREFIX) or not pid.isdigit() or _alive(int(pid)):
            continue
        path = os.path.join(root, name)
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid():
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # another user's process, or no pid at all: not ours to judge
    return True


class LightChild:
    """A child started (:func:`start_light`), not read yet (:func:`read_light`)."""

    def __init__(self, folder: str, target: Any, process: subprocess.Popen[bytes] | None,
                 error: OSError | None = None) -> None:
        self.folder, self.target, self.process, self.error = folder, target, process, error
        self.unread = weakref.finalize(self, _remove, folder, process)  # never read: ended


def start_light(target: Any, fold: bool, running: Any = (),
                create_paths: bool = False) -> LightChild:
    """Start the child on ``target`` (see :func:`load_light`)."""
    _sweep_once()
    folder = tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-")
    argv = [sys.executable, "-c", _boot(), "--out", folder,
            "--log-dir", target.log_dir or "", "--checkpoint", target.checkpoint or "",
            "--running", ",".join(str(int(i)) for i in running), target.path]
    if fold:
        argv.append("--fold")
    if create_paths:
        argv.append("--create-paths")
    try:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL)
    except OSError as exc:
        return LightChild(folder, target, None, exc)
    return LightChild(folder, target, process)


def load_light(target: Any, fold: bool, running: Any = (), create_paths: bool = False,
               previous: LightPipeline | None = None, known: Any = None) -> LightView:
    """Run the child on ``target`` and read what it wrote.

    Parameters
    ----------
    target : Target
        The session's (its path, run directory and checkpoint are the child's).
    fold : bool
        Also compute the states (the session's ``refresh``), the project file read again.
    running : iterable of int
        The steps running now (the journal's).
    create_paths : bool
        The user agreed to create the project's missing folders.
    previous, known : optional
        See :func:`read_light`.

    Raises
    ------
    ProjectError
        The project file does not load (``exc.stamp``: its files' stamp).
    FoldError
        The project's steps cannot be shown now.
    LightError
        The child failed otherwise (the caller loads in-process: that says why).
    """
    return read_light(start_light(target, fold, running, create_paths), previous, known)


def read_light(started: LightChild, previous: LightPipeline | None = None,
               known: Any = None) -> LightView:
    """Read what a child started by :func:`start_light` writes (see :func:`load_light`):
    the strings and tags of ``previous`` steps kept where equal, no row fields for the
    steps in ``known`` (the journal's, by id)."""
    folder, child = started.folder, started.process
    started.unread.detach()  # the pipeline's data owns the folder from now on
    try:
        if child is None:
            raise LightError(str(started.error))
        pipeline = LightPipeline(LightData(folder, started.target, child), previous, known)
        header = None
        for line in child.stdout or ():  # read as the child writes: a pipe, no file
            said = json.loads(line)
            if "header" in said:
                header = said["header"]
                break
            pipeline.add_steps(said)
        if header is None:
            raise LightError(f"the child ended ({child.wait()}) before its steps were told")
        problem = header.get("project_error")
        if problem is not None:
            error = ProjectError(problem["errors"], problem.get("path"))
            error.stamp = tuple(tuple(s) for s in header.get("stamp", []))  # type: ignore[attr-defined]
            raise error
        if header.get("fold_error") is not None:
            raise FoldError(header["fold_error"])
        pipeline.finish(header)
        return LightView(pipeline, header)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        _remove(folder, child)
        raise LightError(str(exc)) from exc
    except BaseException:
        _remove(folder, child)
        raise


#: Steps a line of the child's output: a line of ~100 KB stays in the C heap's reused memory
#: (4,096 steps, ~400 KB a line, took twice as long, each line a fresh mapping).
CHUNK = 1024

# ------------------------------------------------------------------------------ the child
_OUT: list[Any] = []  # the child's channel to its parent (its stdout when it started)


def _write_steps(pipeline: Any, states: dict[int, StepFreshness] | None) -> None:
    """The steps' columns on stdout, :data:`CHUNK` steps a line (one encoding a line: a
    line a step would cost twice as much to write and to read)."""
    out, steps = _OUT[0], pipeline.steps
    for first in range(0, len(steps), CHUNK):
        out.write(json.dumps(_columns(steps[first:first + CHUNK], states),
                             separators=(",", ":"), default=repr).encode() + b"\n")
    out.flush()


def _columns(steps: list[Any], states: dict[int, StepFreshness] | None) -> dict[str, Any]:
    fresh = (states or {}).get
    return {
        "id": [s.step_id for s in steps],
        "identity": [str(getattr(s, "identity", "") or "") for s in steps],
        "func": [s.func_name for s in steps],
        "tags": [list(s.tags) for s in steps],
        "group": [getattr(s, "group", None) for s in steps],
        "fields": [result_fields(s.results) for s in steps],
        "state": [None if (f := fresh(s.step_id)) is None
                  else [f.state, list(f.reasons), f.finished] for s in steps],
    }


def _write_data(folder: str, pipeline: Any) -> None:
    """``data.jsonl`` (a step's kwargs and results a line) and ``data.idx`` (the lines'
    offsets, 8 bytes each), written after the steps: read only when a step is opened."""
    encode = json.JSONEncoder(separators=(",", ":"), default=repr).encode
    offsets = array.array("q")
    at = 0
    path = os.path.join(folder, "data.jsonl")  # this user's alone, whatever the umask
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as data:
        for step in pipeline.steps:
            line = encode({**_exact("kwargs", step.func_kwargs),
                           **_exact("results", step.results)}).encode() + b"\n"
            offsets.append(at)
            data.write(line)
            at += len(line)
    with open(os.path.join(folder, "data.idx"), "wb") as handle:
        handle.write(offsets.tobytes())


def _exact(key: str, value: Any) -> dict[str, Any]:
    """``{key: value}`` when JSON holds it exactly, else ``{key_pickled: ...}`` (base64 of
    its dill pickle; None when it cannot be pickled)."""
    if value is None or json_exact(value):
        return {key: value}
    try:
        return {key + "_pickled": base64.b64encode(dill.dumps(value)).decode("ascii")}
    except Exception:  # a value dill cannot pickle: the checkpoint has it
        return {key: None}


def _header(pipeline: Any) -> dict[str, Any]:
    run_steps = pipeline.run_steps
    return {"run_name": pipeline.run_name, "name": getattr(pipeline, "name", None),
            "run_steps": None if run_steps is None else [s.step_id for s in run_steps]}


def _done(header: dict[str, Any]) -> None:
    """The last line on stdout: the pipeline's fields, or why there are no steps."""
    _OUT[0].write(json.dumps({"header": header}, default=repr).encode() + b"\n")
    _OUT[0].flush()


def child(argv: list[str] | None = None) -> int:
    """The child process: load (and with ``--fold`` refresh) a session, write the folder."""
    parser = argparse.ArgumentParser(prog="python -m aw_tui.tui.light")
    parser.add_argument("path")
    parser.add_argument("--out", required=True)
    parser.add_argument("--log-dir", default="")
    parser.add_argument("--checkpoint", default="")
    parser.add_argument("--running", default="")
    parser.add_argument("--fold", action="store_true")
    parser.add_argument("--create-paths", action="store_true")
    args = parser.parse_args(argv)
    # The parent reads this process's stdout: what a user's module prints when the project
    # file is read again goes to stderr instead (the parent's /dev/null).
    sys.stdout.flush()
    _OUT.append(os.fdopen(os.dup(1), "wb"))
    os.dup2(2, 1)
    with gc_paused():
        if not args.fold:  # the steps as the checkpoint has them: nothing else imported
            pipeline = load_replayed(args.checkpoint)
            _write_steps(pipeline, None)
            _done(_header(pipeline))
            _write_data(args.out, pipeline)
            return 0
        from aw_tui.tui.session import Session  # imports this module: at its first use

        target = resolve_target(args.path, expand=False)
        target.log_dir = args.log_dir or target.log_dir
        target.checkpoint = args.checkpoint or target.checkpoint
        session = Session(target, light=False)
        session.create_paths = args.create_paths
        session.hold_checkpoint()
        running = {int(i) for i in args.running.split(",") if i}
        try:
            session.refresh(reload_project=True, running=running)
        except ProjectError as exc:
            _done({"project_error": {"errors": exc.errors, "path": exc.path},
                   "stamp": list(getattr(exc, "stamp", ()))})
            return 0
        except FoldError as exc:
            _done({"fold_error": str(exc)})
            return 0
        pipeline = session.pipeline
        header = _header(pipeline)
        header.update(
            states=True, seq=session.fresh_seq, stamp=list(session.project_stamp),
            watched=watched_files(session.target),
            removed=[[r.identity, r.state, list(r.reasons), r.step_id, r.finished]
                     for r in session.removed])
        _write_steps(pipeline, session.freshness)
        _done(header)
        _write_data(args.out, pipeline)
    return 0


if __name__ == "__main__":  # pragma: no cover - run as the child
    sys.exit(child())
