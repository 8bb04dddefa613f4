"""Evaluating the values of a project file: ``{...}`` references, compiled once and run many
times (once per item of a ``foreach`` step), with circular references detected.

:class:`Evaluator` knows what a reference can name: ``[paths]`` and ``[vars]`` (which it
evaluates itself, once each), ``env``, the input sets (through the ``input_source`` the
:class:`~aw_tui.project.inputs.InputSets` give it), the items, this step's ``outputs`` and the
records of the earlier named steps (filled by :class:`~aw_tui.project.steps.StepLoader`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from aw_tui.project.errors import Reporter
from aw_tui.project.interpolate import (
    Expr,
    InterpolationError,
    Ref,
    bind_template,
    compile_template,
    did_you_mean,
    navigate,
)
from aw_tui.project.limits import MAX_NESTING, MAX_REFERENCE_DEPTH, too_deep
from aw_tui.project.schema import DOCS, ROOTS
from aw_tui.project.scope import BUSY, FAILED, GLOBAL, MISSING, Item, Node, Run, Scope, Silent

#: Roots of references whose value does not depend on where they are (see ``resolve``).
SAME_EVERYWHERE = frozenset(("paths", "vars", "inputs"))
#: ``os.path.normpath`` only removes ``//``, ``.``, ``..`` and a trailing ``/`` on POSIX.
POSIX_PATHS = os.sep == "/" and os.altsep is None


def is_normal_abspath(path: str) -> bool:
    """Whether ``path`` is absolute and normalized already (POSIX only; False if unsure).

    Such a path has no ``//``, no component starting with ``.`` and no trailing ``/``: then
    ``os.path.normpath(os.path.expanduser(path))`` is ``path``.
    """
    return (POSIX_PATHS and path[:1] == "/" and path[-1:] != "/"
            and "//" not in path and "/." not in path)


def plain_item_key(parts: Sequence[str | Expr]) -> str | None:
    """KEY when a parsed template is only ``{item.KEY}`` (no filters, KEY not ``index``)."""
    if len(parts) != 1 or not isinstance(parts[0], Expr) or parts[0].filters:
        return None
    accessors = parts[0].ref.accessors
    if parts[0].ref.root != "item" or len(accessors) != 1 or accessors[0] == "index":
        return None
    return accessors[0] if isinstance(accessors[0], str) else None



class Evaluator:
    """Evaluates the values of one project file, reporting problems to ``report``.

    Parameters
    ----------
    report : Reporter
        Where problems go.
    base_dir : str
        The project's folder: relative paths are relative to it.

    Attributes
    ----------
    paths_raw, vars_raw, inputs_raw : dict
        The ``[paths]``, ``[vars]`` and ``[inputs]`` tables as written (set by the loader).
    memo : dict
        The named values computed so far (``paths.X``, ``vars.X``, ``inputs.X``).
    input_source : callable or None
        ``name -> list of Item``: the items of an input set (set by ``InputSets``).
    step_names : dict
        ``name -> position`` of the named ``[[steps]]`` tables.
    step_records : dict
        ``name -> {outputs, kwargs, tags}`` (a list of them for a ``foreach`` step) of the
        steps expanded without error.
    failed_steps : set
        Names of the steps that have errors (references to them are not reported again).
    """

    def __init__(self, report: Reporter, base_dir: str) -> None:
        self.report = report
        self.base_dir = base_dir
        self.memo: dict[str, Any] = {}
        self._known: dict[Ref, Any] = {}
        self._busy: list[str] = []
        self._too_deep: dict[Ref, bool] = {}
        self.paths_raw: dict[str, Any] = {}
        self.vars_raw: dict[str, Any] = {}
        self.inputs_raw: dict[str, Any] = {}
        self.input_source: Callable[[str], list[Item]] | None = None
        self.step_names: dict[str, int] = {}
        self.step_records: dict[str, Any] = {}
        self.failed_steps: set[str] = set()

    # -- evaluation ------------------------------------------------------------------------
    def evaluate(self, raw: Any, keypath: str, scope: Scope) -> tuple[Any, bool]:
        """Interpolate every string in ``raw``; returns (value, no error)."""
        return self.run(self.compile(raw, keypath), scope)

    def run(self, node: Node, scope: Scope) -> tuple[Any, bool]:
        """Evaluate a compiled value in ``scope``; returns (value, no error).

        Problems are reported at the key path of the string they are in; that string is then
        its value, as written.
        """
        run = Run(scope)
        return node(run), run.ok

    def compile(self, raw: Any, keypath: str) -> Node:
        """Prepare ``raw`` (at ``keypath``) to be evaluated many times by :meth:`run`.

        Each template is parsed once and each key path made once; the tables and arrays of the
        value are new at every evaluation, as if ``raw`` were walked each time.
        """
        return self.compile_value(raw, keypath)[0]

    def compile_value(self, raw: Any, keypath: str) -> tuple[Node, bool]:
        """:meth:`compile`, and whether the node gives ``raw`` itself (a constant)."""
        if isinstance(raw, str):
            return self.compile_text(raw, keypath)
        if isinstance(raw, dict):
            entries = [(key, *self.compile_value(value, f"{keypath}.{key}"))
                       for key, value in raw.items()]
            if all(constant for _, _, constant in entries):
                return (lambda run: dict(raw)), False
            pairs = [(key, node) for key, node, _ in entries]
            return (lambda run: {key: node(run) for key, node in pairs}), False
        if isinstance(raw, list):
            compiled = [self.compile_value(value, f"{keypath}[{i}]") for i, value in enumerate(raw)]
            if all(constant for _, constant in compiled):
                return (lambda run: list(raw)), False
            nodes = [node for node, _ in compiled]
            return (lambda run: [node(run) for node in nodes]), False
        return (lambda run: raw), True

    def compile_text(self, raw: str, keypath: str) -> tuple[Node, bool]:
        """:meth:`compile_value` of a string: itself without braces, else its template.

        A problem (unparsable template, bad reference) is reported at ``keypath`` each time
        the node runs (once in the errors: they are deduplicated), and the node then gives the
        string as written, like the old per-item walk.
        """
        try:
            parts = compile_template(raw)
        except InterpolationError as exc:
            message, hint = exc.message, exc.hint

            def broken(run: Run) -> Any:
                self.report.error(keypath, message, hint)
                run.ok = False
                return raw

            return broken, False
        if parts is None:
            return (lambda run: raw), True
        evaluate = bind_template(parts, self._getter)

        def template(run: Run) -> Any:
            try:
                return evaluate(run)
            except InterpolationError as exc:
                self.report.error(keypath, exc.message, exc.hint)
            except Silent:
                pass
            run.ok = False
            return raw

        key = plain_item_key(parts)
        if key is None:
            return template, False

        def item_text(run: Run) -> Any:
            # "{item.KEY}" of a text field: the text itself (all else: the general way).
            item = run.scope.item
            if item is not None:
                value = item.fields.get(key)
                if type(value) is str:
                    return value
            return template(run)

        return item_text, False

    def _getter(self, ref: Ref) -> Callable[[Run], Any]:
        """How a compiled template gets the value of ``ref``: :meth:`resolve` in the run's
        scope, with shortcuts for ``{item.KEY...}`` and for values already known."""
        if ref.root == "item" and ref.accessors and isinstance(ref.accessors[0], str):
            return self._item_getter(ref)
        if ref.root == "outputs" and ref.accessors and isinstance(ref.accessors[0], str):
            return self._output_getter(ref)
        if ref.root in SAME_EVERYWHERE:
            known: list[Any] = []  # the value, once resolve gave it (see resolve)

            def known_value(run: Run) -> Any:
                if not known:
                    known.append(self.resolve(ref, run.scope))
                return known[0]

            return known_value
        return lambda run: self.resolve(ref, run.scope)

    def _output_getter(self, ref: Ref) -> Callable[[Run], Any]:
        """The getter of ``{outputs.NAME...}``: the value in the scope's memo once computed
        (as :meth:`resolve` gives it then), else through ``resolve``."""
        rest = ref.accessors[1:]
        label = f"outputs.{ref.accessors[0]}"

        def output_value(run: Run) -> Any:
            value = run.scope.memo.get(label, MISSING)
            if value is MISSING or value is BUSY or value is FAILED:
                return self.resolve(ref, run.scope)
            return navigate(value, rest, ref.text, label) if rest else value

        return output_value

    def _item_getter(self, ref: Ref) -> Callable[[Run], Any]:
        """The getter of ``{item.KEY...}``: what :meth:`_resolve_item` gives, computed from
        the item's ``lookup`` directly (through ``resolve`` when it fails, for its error)."""
        key, rest = ref.accessors[0], ref.accessors[1:]
        assert isinstance(key, str)
        done = f"item.{key}"

        def item_value(run: Run) -> Any:
            item = run.scope.item
            if item is not None:
                value = item.lookup(key)
                if value is not MISSING:
                    return navigate(value, rest, ref.text, done) if rest else value
            return self.resolve(ref, run.scope)

        return item_value

    def lazy(self, memo: dict[str, Any], label: str,
             compute: Callable[[], tuple[Any, bool]]) -> Any:
        """Compute a named value once, detecting circular references."""
        state = memo.get(label, MISSING)
        if state is BUSY:
            chain = [*self._busy[self._busy.index(label):], label]
            raise InterpolationError(
                "circular reference: " + " -> ".join(chain),
                "break the loop: one of these values must not refer back to the others",
            )
        if state is FAILED:
            raise Silent
        if state is not MISSING:
            return state
        if len(self._busy) >= MAX_REFERENCE_DEPTH:
            chain = [*self._busy, label]
            shown = chain if len(chain) <= 7 else [*chain[:3], "...", *chain[-3:]]
            raise InterpolationError(
                f"references go more than {MAX_REFERENCE_DEPTH} deep: " + " -> ".join(shown),
                f"refer to the value needed directly: at most {MAX_REFERENCE_DEPTH} references "
                f"in a row (see 'Limits' in {DOCS})",
            )
        memo[label] = BUSY
        self._busy.append(label)
        try:
            value, ok = compute()
        except BaseException:
            memo[label] = FAILED
            raise
        finally:
            self._busy.pop()
        if not ok:
            memo[label] = FAILED
            raise Silent
        memo[label] = value
        return value

    def resolve(self, ref: Ref, scope: Scope) -> Any:
        """The value of a reference in ``scope``.

        A reference to ``paths``, ``vars`` or ``inputs`` has the same value everywhere once
        known, so that is kept (the users of a value copy it or make text of it, never change
        it); a failed one is tried again, to report its problem where it is used.
        """
        root = ref.root
        if root == "item":
            return self._resolve_item(ref, scope)
        if root in SAME_EVERYWHERE:
            value = self._known.get(ref, MISSING)
            if value is MISSING:
                value = self._known[ref] = self._resolve(ref, scope)
            return value
        return self._resolve(ref, scope)

    def _resolve(self, ref: Ref, scope: Scope) -> Any:
        root, accessors = ref.root, ref.accessors
        if root not in ROOTS:
            hint = did_you_mean(root, ROOTS)
            raise InterpolationError(
                f"unknown reference {{{ref.text}}}",
                (hint + " " if hint else "")
                + "references start with " + ", ".join(f"{r}." for r in ROOTS)
                + " (write '{{' and '}}' for literal braces)",
            )
        if not accessors or not isinstance(accessors[0], str):
            raise InterpolationError(
                f"{{{ref.text}}} needs a name after '{root}.'",
                {
                    "paths": "write {paths.NAME} with a NAME from [paths]",
                    "vars": "write {vars.NAME} with a NAME from [vars]",
                    "env": "write {env.NAME} with an environment variable NAME",
                    "inputs": "write {inputs.SET[*].FIELD} with an input set SET",
                    "steps": "write {steps.NAME.outputs.KEY} with an earlier step's name",
                    "outputs": "write {outputs.KEY} with a KEY of this step's outputs",
                }[root],
            )
        name, rest = accessors[0], accessors[1:]
        if root == "paths":
            self._need(name, self.paths_raw, ref, "paths", "[paths]")
            value = self.get_path(name)
        elif root == "vars":
            self._need(name, self.vars_raw, ref, "vars", "[vars]")
            value = self.get_var(name)
        elif root == "env":
            if name not in os.environ:
                raise InterpolationError(
                    f"environment variable '{name}' is not set, in {{{ref.text}}}",
                    f"set it before running (export {name}=...) or use a [vars] value",
                )
            value = os.environ[name]
        elif root == "inputs":
            self._need(name, self.inputs_raw, ref, "inputs", "an [inputs.NAME] table")
            value = [dict(item.fields) for item in self.get_input(name)]
        elif root == "steps":
            value = self._resolve_step(name, ref, scope)
        else:  # outputs
            if scope.outputs_raw is None:
                raise InterpolationError(
                    f"{{{ref.text}}}: 'outputs' only exists inside a [[steps]] table",
                    "use {steps.NAME.outputs.KEY} for another step's outputs, or a [vars] "
                    "value",
                )
            self._need(name, scope.outputs_raw, ref, "outputs", "this step's outputs table")
            value = self.lazy(scope.memo, f"outputs.{name}",
                              lambda: self._evaluate_output(name, scope))
        if rest:
            value = navigate(value, rest, ref.text, f"{root}.{name}")
        if root == "steps":
            return self._not_too_deep(ref, value)
        return value

    def _not_too_deep(self, ref: Ref, value: Any) -> Any:
        """``value`` (of ``{steps...}``, the same everywhere), unless it nests too deep (looked
        at once per reference)."""
        deep = self._too_deep.get(ref)
        if deep is None:
            deep = self._too_deep[ref] = too_deep(value)
        if deep:
            raise InterpolationError(
                f"{{{ref.text}}} gives a value that nests more than {MAX_NESTING} deep",
                f"refer to a part of it (see 'Limits' in {DOCS})",
            )
        return value

    def bounded(self, value: Any, ok: bool, keypath: str) -> tuple[Any, bool]:
        """``(value, ok)``, reporting a value that nests more than ``MAX_NESTING`` deep."""
        if ok and type(value) in (dict, list) and too_deep(value):
            self.report.error(keypath, f"its value nests more than {MAX_NESTING} deep",
                              f"flatten it, or refer to a part of it (see 'Limits' in {DOCS})")
            return value, False
        return value, ok

    def _evaluate_output(self, name: str, scope: Scope) -> tuple[Any, bool]:
        """The value of ``outputs.NAME`` in a step's scope (compiled once per step)."""
        assert scope.outputs_nodes is not None
        value, ok = self.run(scope.outputs_nodes[name], scope)
        if type(value) in (dict, list):  # (text, the usual output, needs no look)
            return self.bounded(value, ok, f"{scope.outputs_kp}.{name}")
        return value, ok

    def _need(self, name: str, table: dict[str, Any], ref: Ref, root: str, where: str) -> None:
        if name in table:
            return
        hint = did_you_mean(name, list(table), prefix=f"{root}.")
        known = ", ".join(table) or "none"
        raise InterpolationError(
            f"{{{ref.text}}} refers to '{root}.{name}', which is not defined",
            (hint if hint else f"define '{name}' in {where} or fix the name")
            + f" ({root} defined: {known})",
        )

    def _resolve_item(self, ref: Ref, scope: Scope) -> Any:
        if scope.item is None:
            raise InterpolationError(
                f"{{{ref.text}}}: 'item' only exists in a foreach step or in "
                "[inputs.NAME.fields]",
                'add foreach = "SET" to this step, or use {inputs.SET[0].FIELD}',
            )
        accessors = ref.accessors
        if not accessors:
            return dict(scope.item.fields)
        first = accessors[0]
        if not isinstance(first, str):
            return navigate(scope.item.view(), accessors, ref.text, "item")
        value = scope.item.lookup(first)
        if value is MISSING:
            self._no_item_field(ref, scope.item, first)
        if len(accessors) == 1:
            return value
        return navigate(value, accessors[1:], ref.text, f"item.{first}")

    @staticmethod
    def _no_item_field(ref: Ref, item: Item, first: str) -> NoReturn:
        """Raise the error of ``{item.FIRST...}`` naming a field the item does not have."""
        view = item.view()
        hint = did_you_mean(first, list(view), prefix="item.")
        fields = ", ".join(item.fields)
        raise InterpolationError(
            f"{{{ref.text}}}: items of input set '{item.set_name}' have no field '{first}'",
            (hint + " " if hint else "")
            + f"fields: {fields} (plus index, path, name, stem, parent, suffix of "
            f"'{item.primary}'); add it to the items or under [inputs.{item.set_name}.fields]",
        )

    def _resolve_step(self, name: str, ref: Ref, scope: Scope) -> Any:
        if scope.entry is None:
            raise InterpolationError(
                f"{{{ref.text}}}: 'steps' can only be used inside a [[steps]] table",
                "refer to steps from the kwargs or outputs of a later step",
            )
        if name not in self.step_names:
            hint = did_you_mean(name, list(self.step_names), prefix="steps.")
            raise InterpolationError(
                f"{{{ref.text}}}: no step is named '{name}'",
                (hint + " " if hint else "")
                + f'give that step name = "{name}" (named steps: '
                + (", ".join(self.step_names) or "none") + ")",
            )
        position = self.step_names[name]
        if position >= scope.entry:
            raise InterpolationError(
                f"{{{ref.text}}}: step '{name}' is steps[{position}], not before this step",
                "a step can only use the outputs and kwargs of the steps before it",
            )
        if name in self.failed_steps or name not in self.step_records:
            raise Silent
        return self.step_records[name]

    def abspath(self, value: str) -> str:
        """``value`` made absolute (relative to the project's folder) and normalized."""
        if is_normal_abspath(value):
            return value
        path = os.path.expanduser(value)
        if not os.path.isabs(path):
            path = os.path.join(self.base_dir, path)
        return os.path.normpath(path)

    def get_path(self, name: str) -> str:
        def compute() -> tuple[Any, bool]:
            raw = self.paths_raw[name]
            keypath = f"paths.{name}"
            if not isinstance(raw, str):
                self.report.check_type(raw, str, keypath)
                return None, False
            value, ok = self.evaluate(raw, keypath, GLOBAL)
            if not ok:
                return None, False
            if not isinstance(value, str) or not value.strip():
                self.report.error(keypath, f"a path must be non-empty text, got {value!r}",
                                  'write a folder, e.g. temp = "work/temp"')
                return None, False
            return self.abspath(value), True

        return self.lazy(self.memo, f"paths.{name}", compute)

    def get_var(self, name: str) -> Any:
        return self.lazy(
            self.memo,
            f"vars.{name}",
            lambda: self.bounded(*self.evaluate(self.vars_raw[name], f"vars.{name}", GLOBAL),
                                 f"vars.{name}"),
        )

    def get_input(self, name: str) -> list[Item]:
        """The items of input set ``name`` (built once, by the ``input_source``)."""
        assert self.input_source is not None, "InputSets sets the input source"
        return self.input_source(name)
