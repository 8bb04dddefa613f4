"""The ``[[steps]]`` of a project: each table checked, its function found, and expanded into
one :class:`~aw_tui.project.model.ExpandedStep` per item of its ``foreach`` input set (or one).
"""

from __future__ import annotations

import inspect
import os
from typing import Any

from aw_tui.astromatic.fields import summary_fields
from aw_tui.engine.checks import CheckError, parse_checks
from aw_tui.engine.steps import check_timeout
from aw_tui.project.evaluate import Evaluator
from aw_tui.project.funcref import BUILTIN_FUNCS, FuncRef, FuncRefError
from aw_tui.project.inputs import InputSets
from aw_tui.project.interpolate import InterpolationError, Ref, did_you_mean, stringify, type_name
from aw_tui.project.limits import check_step_name
from aw_tui.project.model import ExpandedStep
from aw_tui.project.overrides import ITEMS_KEY, check_overrides, deep_merge
from aw_tui.project.schema import NAME_RE, RESERVED_KWARGS, STEP_KEYS
from aw_tui.project.scope import GLOBAL, Item, Run, Scope, Silent


class StepLoader:
    """Checks and expands the ``[[steps]]`` tables, in order.

    Parameters
    ----------
    evaluator : Evaluator
        Evaluates the steps' values; the steps expanded without error are recorded in its
        ``step_records`` for the ``{steps.NAME...}`` references of later steps.
    inputs : InputSets
        The input sets ``foreach`` names.
    check_files : bool
        Check that the input files exist (see ``load_project``).

    Attributes
    ----------
    func_files : set of str
        The ``file.py`` files the step functions come from.
    """

    def __init__(self, evaluator: Evaluator, inputs: InputSets, check_files: bool) -> None:
        self.evaluator = evaluator
        self.report = evaluator.report
        self.inputs = inputs
        self.check_files = check_files
        self.func_files: set[str] = set()

    def load_steps(self, raw: Any) -> list[ExpandedStep]:
        """Every step of the ``steps`` array ``raw`` (None: the file has none), expanded."""
        if raw is None:
            self.report.error("", "the project has no steps",
                              'add at least one [[steps]] table with func = "..."')
            return []
        if isinstance(raw, dict):
            self.report.error("steps", "steps must be an array of tables, got a single table",
                              "write [[steps]] (double brackets) before each step")
            return []
        if not isinstance(raw, list) or not raw:
            self.report.error("steps", f"steps must be an array of tables, got {type_name(raw)}",
                              'add [[steps]] tables with func = "..."')
            return []
        for position, entry in enumerate(raw):
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                name = entry["name"]
                if name in self.evaluator.step_names:
                    self.report.error(f"steps[{position}].name",
                                      f"step name '{name}' is already used by "
                                      f"steps[{self.evaluator.step_names[name]}]",
                                      "give every step a different name")
                else:
                    self.evaluator.step_names[name] = position
        expanded: list[ExpandedStep] = []
        for position, entry in enumerate(raw):
            expanded.extend(self.load_step(position, entry, len(expanded)))
        return expanded

    def _flag(self, entry: dict[str, Any], key: str, kp: str, default: bool) -> bool:
        if key not in entry:
            return default
        value, ok = self.evaluator.evaluate(entry[key], f"{kp}.{key}", GLOBAL)
        if ok and self.report.check_type(value, bool, f"{kp}.{key}"):
            return value
        return default

    def _quality(self, entry: dict[str, Any], kp: str,
                 ref: FuncRef | None) -> tuple[float | None, list[str], str]:
        """The entry's ``timeout``, ``checks`` and ``check_severity``, checked."""
        timeout = None
        if "timeout" in entry:
            try:
                timeout = check_timeout(entry["timeout"])
            except ValueError as exc:
                self.report.error(f"{kp}.timeout", str(exc).split(": ")[0],
                                  "give the seconds as a positive number (timeout = 600), "
                                  "or leave it out for no limit")
        severity = entry.get("check_severity", "error")
        raw = entry.get("checks", [])
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list) or not all(isinstance(c, str) for c in raw):
            self.report.error(f"{kp}.checks", f"checks must be an array of strings, got "
                              f"{type_name(raw)}", 'write checks = ["fwhm_mean < 3.5"]')
            return timeout, [], "error"
        try:
            parsed = parse_checks(raw, severity if isinstance(severity, str) else repr(severity))
        except CheckError as exc:
            key = "check_severity" if "check_severity" in str(exc) else "checks"
            self.report.error(f"{kp}.{key}", str(exc),
                              'write checks = ["fwhm_mean < 3.5"] and check_severity = '
                              '"error" or "warn" (docs/checks.md)')
            return timeout, [], "error"
        known = summary_fields(ref.label) if ref is not None and ref.kind == "builtin" else None
        for check in parsed:
            name = check.field.split(".")[0]
            if known is not None and name not in known:
                hint = did_you_mean(name, list(known))
                self.report.error(f"{kp}.checks", f"check {check.text!r}: {ref.label} has no "
                                  f"summary field {name!r}",
                                  (hint + " " if hint else "") + f"{ref.label}'s fields: "
                                  + ", ".join(known) + " (docs/checks.md)")
        return timeout, list(raw), severity

    def _resolve_func(self, entry: dict[str, Any], kp: str) -> tuple[FuncRef | None, Any]:
        if "func" not in entry:
            self.report.error(kp, "step has no func",
                              'add func = "sextractor" (built-ins: ' + ", ".join(BUILTIN_FUNCS)
                              + "), func = \"module:function\" or func = \"file.py:function\"")
            return None, None
        spec = entry["func"]
        if not isinstance(spec, str):
            self.report.check_type(spec, str, f"{kp}.func")
            return None, None
        try:
            ref = FuncRef(spec, self.evaluator.base_dir)
        except FuncRefError as exc:
            self.report.error(f"{kp}.func", exc.message, exc.hint)
            return None, None
        if ref.kind == "file" and os.path.isfile(ref.target):
            self.func_files.add(ref.target)
        try:
            func = ref.resolve()
        except FuncRefError as exc:
            if ref.kind == "builtin":
                return ref, None  # resolved lazily when the step runs
            message = exc.message
            if ref.kind == "module" and ":" not in spec:
                message += (" (not a built-in name either: built-ins are "
                            + ", ".join(BUILTIN_FUNCS) + ")")
            self.report.error(f"{kp}.func", message, exc.hint)
            return None, None
        return ref, func

    def _check_signature(self, ref: FuncRef, func: Any, kwargs: dict[str, Any],
                         kp: str, required: bool = True) -> None:
        """Check ``kwargs`` (at ``kp.kwargs``) against the function's signature: unknown
        arguments and, when ``required``, missing ones."""
        for key in kwargs:
            if key in RESERVED_KWARGS:
                self.report.error(f"{kp}.kwargs.{key}", f"'{key}' is passed by the pipeline itself",
                                  f"remove {key} from the kwargs")
        if func is None:
            return
        try:
            params = inspect.signature(func).parameters
        except (TypeError, ValueError):
            return
        kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        names = [n for n, p in params.items() if p.kind in kinds]
        takes_any = any(p.kind == inspect.Parameter.VAR_KEYWORD for p in params.values())
        if not takes_any:
            for key in kwargs:
                if key in names or key in RESERVED_KWARGS:
                    continue
                hint = did_you_mean(key, names)
                self.report.error(f"{kp}.kwargs.{key}", f"{ref.label} takes no argument '{key}'",
                                  (hint + " " if hint else "") + f"{ref.label} takes: "
                                  + ", ".join(n for n in names if n not in RESERVED_KWARGS))
        for pname in names if required else ():
            param = params[pname]
            if (param.default is inspect.Parameter.empty and pname not in kwargs
                    and pname not in RESERVED_KWARGS):
                self.report.error(f"{kp}.kwargs", f"{ref.label} needs the argument '{pname}'",
                                  f"add {pname} = ... to this step's kwargs")

    def _expand(self, items: list[Item | None], kp: str, position: int,
                raws: tuple[list[str], dict[str, Any], dict[str, Any]],
                overrides: dict[int, dict[str, Any]] | None = None,
                ) -> tuple[list[tuple[Item | None, list[str], dict[str, Any], dict[str, Any]]],
                           bool]:
        """Evaluate a step's ``(tags, kwargs, outputs)`` tables for each item.

        Each is compiled once; one scope is reused, with a fresh outputs memo per item.
        ``overrides`` (item index -> the member's ``items.KEY.kwargs`` as written, with its
        key path) are evaluated in the member's scope and merged over its kwargs
        (:func:`~aw_tui.project.overrides.deep_merge`).

        Returns
        -------
        list of (item, tags, kwargs, outputs)
            For the items whose tags and kwargs have no error, in order.
        bool
            No error at all.
        """
        tags_raw, kwargs_raw, outputs_raw = raws
        outputs_kp = f"{kp}.outputs"
        outputs_nodes = {oname: self.evaluator.compile(value, f"{outputs_kp}.{oname}")
                         for oname, value in outputs_raw.items()}
        output_refs = {oname: Ref("outputs", (oname,), f"outputs.{oname}")
                       for oname in outputs_raw if NAME_RE.match(oname)}
        tags_node = self.evaluator.compile(tags_raw, f"{kp}.tags")
        kwargs_node = self.evaluator.compile(kwargs_raw, f"{kp}.kwargs")
        override_nodes = {index: self.evaluator.compile(raw, where)
                          for index, (where, raw) in (overrides or {}).items()}
        scope = Scope(where=kp, entry=position, outputs_raw=outputs_raw,
                      outputs_kp=outputs_kp, outputs_nodes=outputs_nodes)
        run = Run(scope)
        expanded = []
        ok = True
        for item in items:
            scope.item = item
            outputs: dict[str, Any] = {}
            if outputs_raw:
                scope.memo = {}
                outputs, outputs_ok = self._step_outputs(output_refs, scope)
                ok = ok and outputs_ok
            run.ok = True
            tags = tags_node(run)
            kwargs = kwargs_node(run)
            override = override_nodes.get(item.index) if item is not None else None
            if override is not None:
                kwargs = deep_merge(kwargs, override(run))
            if not run.ok:
                ok = False
                continue
            try:
                tags = [t if isinstance(t, str) else stringify(t) for t in tags]
            except InterpolationError:  # a tag that is a table: report which
                self._report_tags(tags, kp)
                ok = False
                continue
            expanded.append((item, tags, kwargs, outputs))
        return expanded, ok

    def _report_tags(self, tags: list[Any], kp: str) -> None:
        """Report the tags that cannot be made text (tables)."""
        for index, tag in enumerate(tags):
            try:
                stringify(tag)
            except InterpolationError as exc:
                self.report.error(f"{kp}.tags[{index}]", f"a tag must be text: {exc.message}",
                                  "refer to a text or a number, e.g. {item.stem}")

    def _step_outputs(self, refs: dict[str, Ref], scope: Scope) -> tuple[dict[str, Any], bool]:
        """The ``outputs`` of one expanded step (``refs``: those with a usable name)."""
        assert scope.outputs_raw is not None
        outputs: dict[str, Any] = {}
        ok = True
        for oname in scope.outputs_raw:
            ref = refs.get(oname)
            if ref is None:
                self.report.check_name(oname, f"{scope.outputs_kp}.{oname}", "output")
                ok = False
                continue
            try:
                outputs[oname] = self.evaluator.resolve(ref, scope)
            except Silent:
                ok = False
            except InterpolationError as exc:  # pragma: no cover - defensive
                self.report.error(f"{scope.outputs_kp}.{oname}", exc.message, exc.hint)
                ok = False
        return outputs, ok

    def load_step(self, position: int, entry: Any, first_index: int) -> list[ExpandedStep]:
        kp = f"steps[{position}]"
        if not isinstance(entry, dict):
            self.report.error(kp, f"a step must be a table, got {type_name(entry)}",
                              "write each step as a [[steps]] table")
            return []
        name = entry.get("name")
        if isinstance(name, str) and self.evaluator.step_names.get(name, position) != position:
            name = None  # a duplicate name, reported already
        errors_before = len(self.report.errors)

        def failed() -> list[ExpandedStep]:
            if isinstance(name, str):
                self.evaluator.failed_steps.add(name)
            return []

        self.report.unknown_keys(entry, STEP_KEYS, kp, "a [[steps]] table")
        if name is not None and (not isinstance(name, str)
                                 or not check_step_name(name, f"{kp}.name", self.report)):
            if not isinstance(name, str):
                self.report.check_type(name, str, f"{kp}.name")
            name = None
        ref, func = self._resolve_func(entry, kp)
        tags_raw = entry.get("tags", [])
        if not isinstance(tags_raw, list) or not all(isinstance(t, str) for t in tags_raw):
            self.report.error(f"{kp}.tags", f"tags must be an array of strings, got "
                              f"{type_name(tags_raw)} ({tags_raw!r})",
                              'write tags = ["step1", "SExtractor"]')
            tags_raw = None
        ignore_errors = self._flag(entry, "ignore_errors", kp, False)
        ignore_exceptions = self._flag(entry, "ignore_exceptions", kp, False)
        timeout, checks, severity = self._quality(entry, kp, ref)
        foreach = entry.get("foreach")
        independent = self._flag(entry, "independent", kp, foreach is not None)
        group = entry.get("group")
        if group is not None and not isinstance(group, str):
            self.report.check_type(group, str, f"{kp}.group")
            group = None
        kwargs_raw = entry.get("kwargs", {})
        if not isinstance(kwargs_raw, dict):
            self.report.error(f"{kp}.kwargs",
                              f"kwargs must be a table, got {type_name(kwargs_raw)}",
                              "write [steps.kwargs] after the [[steps]] line, with key = value "
                              "lines")
            kwargs_raw = None
        outputs_raw = entry.get("outputs", {})
        if not isinstance(outputs_raw, dict):
            self.report.error(f"{kp}.outputs",
                              f"outputs must be a table, got {type_name(outputs_raw)}",
                              'write outputs = { catalog = "{paths.temp}/{item.stem}.cat" }')
            outputs_raw = None
        items: list[Item | None] = [None]
        if foreach is not None:
            if not isinstance(foreach, str):
                self.report.check_type(foreach, str, f"{kp}.foreach")
                return failed()
            if foreach not in self.evaluator.inputs_raw:
                hint = did_you_mean(foreach, list(self.evaluator.inputs_raw))
                self.report.error(f"{kp}.foreach", f"no input set named '{foreach}'",
                                  (hint + " " if hint else "")
                                  + f"declare [inputs.{foreach}] (input sets: "
                                  + (", ".join(self.evaluator.inputs_raw) or "none") + ")")
                return failed()
            try:
                items = list(self.inputs.get_input(foreach))
            except (Silent, InterpolationError):
                return failed()
            if not items:
                if self.check_files:
                    self.report.error(f"{kp}.foreach", f"input set '{foreach}' is empty",
                                      f"put files where [inputs.{foreach}] looks for them")
                return failed() if self.check_files else []
        if ref is None or tags_raw is None or kwargs_raw is None or outputs_raw is None:
            return failed()
        self._check_signature(ref, func, kwargs_raw, kp)
        keys = item_keys([i for i in items if i is not None])
        overrides = check_overrides(entry, kp, self.report,
                                    list(keys.values()) if foreach is not None else None,
                                    name)
        for key, raw in overrides.items():
            self._check_signature(ref, func, raw, f"{kp}.{ITEMS_KEY}.{key}", required=False)
        by_index = {index: (f"{kp}.{ITEMS_KEY}.{key}.kwargs", overrides[key])
                    for index, key in keys.items() if key in overrides}
        if foreach is not None:
            group = group or name or kp
        elif independent:
            group = group or name
        else:
            group = None
        steps: list[ExpandedStep] = []
        expanded, ok = self._expand(items, kp, position, (tags_raw, kwargs_raw, outputs_raw),
                                    by_index)
        group = group if independent else None
        for item, tags, kwargs, outputs in expanded:
            # Positional (twice as quick as keywords for 50,000 steps), in the field order:
            # index, entry, name, item, func, tags, ignore_errors, ignore_exceptions,
            # independent, group, kwargs, outputs.
            steps.append(ExpandedStep(
                first_index + len(steps), position, name,
                item.index if item is not None else None, ref, tags,
                ignore_errors, ignore_exceptions, independent, group, kwargs, outputs,
                timeout, checks, severity, keys[item.index] if item is not None else None,
            ))
        if not ok or len(self.report.errors) > errors_before:
            return failed()
        if name is not None:
            records = [{"outputs": s.outputs, "kwargs": s.kwargs, "tags": s.tags} for s in steps]
            self.evaluator.step_records[name] = records if foreach is not None else records[0]
        return steps


def item_key(item: Item) -> str:
    """The key that names ``item`` in a step's identity (``detect[206401]``).

    Its ``key`` field when it has one, else the file name of its main field without the
    folder and the ``.fits``/``.fz``/``.gz`` endings (``images/206401.fits`` -> ``206401``),
    else its position in the set.
    """
    explicit = item.fields.get("key")
    if isinstance(explicit, (str, int)) and not isinstance(explicit, bool) and str(explicit):
        return str(explicit)
    main = item.fields.get(item.primary)
    if isinstance(main, str) and main:
        name = os.path.basename(main.rstrip("/"))
        for ending in (".gz", ".fz", ".bz2"):
            name = name[: -len(ending)] if name.endswith(ending) else name
        stem, dot, _ = name.rpartition(".")
        return stem if dot and stem else name
    return str(item.index)


def item_keys(items: list[Item]) -> dict[int, str]:
    """:func:`item_key` of each item by its index, made unique (``name#2``, ``name#3`` for
    the second and third items that share a key)."""
    keys: dict[int, str] = {}
    seen: dict[str, int] = {}
    for item in items:
        key = item_key(item)
        count = seen.get(key, 0) + 1
        seen[key] = count
        keys[item.index] = key if count == 1 else f"{key}#{count}"
    return keys
