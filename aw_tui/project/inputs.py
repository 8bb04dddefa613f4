"""Input sets (``[inputs.NAME]``): files listed (``items``) or matched (``glob``), their
derived companion fields (``[inputs.NAME.fields]``) and the checks that they exist.
"""

from __future__ import annotations

import fnmatch
import glob
import os
from typing import Any

from aw_tui.project.evaluate import Evaluator
from aw_tui.project.interpolate import InterpolationError, did_you_mean, has_refs, type_name
from aw_tui.project.schema import INPUT_KEYS, NAME_RE
from aw_tui.project.scope import GLOBAL, Item, Scope, Silent


class InputSets:
    """Builds the input sets of a project, each once, when first needed.

    Parameters
    ----------
    evaluator : Evaluator
        Evaluates the templates of the sets; it gets its ``{inputs.NAME}`` values from here.
    check_files : bool
        Check that the files exist (see ``load_project``).

    Attributes
    ----------
    items : dict
        ``name -> list of Item`` of the sets :meth:`load_inputs` built without error.
    """

    def __init__(self, evaluator: Evaluator, check_files: bool) -> None:
        self.evaluator = evaluator
        self.report = evaluator.report
        self.check_files = check_files
        self.items: dict[str, list[Item]] = {}
        evaluator.input_source = self.get_input

    def get_input(self, name: str) -> list[Item]:
        """The items of input set ``name``, built at the first call."""
        evaluator = self.evaluator
        return evaluator.lazy(evaluator.memo, f"inputs.{name}", lambda: self.build_input(name))

    def load_inputs(self) -> dict[str, list[dict[str, Any]]]:
        out = {}
        for name in self.evaluator.inputs_raw:
            if not self.report.check_name(name, f"inputs.{name}", "input set"):
                continue
            try:
                items = self.get_input(name)
            except (Silent, InterpolationError):
                continue
            self.items[name] = items
            # The items' own fields (not copies: 100,000 items would hold them twice).
            out[name] = [item.fields for item in items]
        return out

    def _string_list(self, table: dict[str, Any], key: str, keypath: str,
                     allow_str: bool = False) -> list[str] | None:
        value = table.get(key, [])
        if allow_str and isinstance(value, str):
            return [value]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
        self.report.error(f"{keypath}.{key}", f"{key} must be an array of strings, got "
                          f"{type_name(value)}", f'write {key} = ["...", "..."]')
        return None

    def build_input(self, name: str) -> tuple[list[Item], bool]:
        raw = self.evaluator.inputs_raw[name]
        kp = f"inputs.{name}"
        if not isinstance(raw, dict):
            self.report.error(kp, f"an input set must be a table, got {type_name(raw)}",
                              f"write [inputs.{name}] with items = [...] or glob = \"...\"")
            return [], False
        self.report.unknown_keys(raw, INPUT_KEYS, kp, f"[inputs.{name}]")
        primary = raw.get("field", "image")
        ok = True
        if not isinstance(primary, str) or not NAME_RE.match(primary) or primary == "index":
            self.report.error(f"{kp}.field", f"field must be a field name, got {primary!r}",
                              'write field = "image" (the name the glob match gets)')
            return [], False
        text_fields = self._string_list(raw, "text_fields", kp)
        required = self._string_list(raw, "required", kp)
        derived = raw.get("fields", {})
        if not isinstance(derived, dict):
            self.report.error(f"{kp}.fields", f"fields must be a table, got {type_name(derived)}",
                              f"write [inputs.{name}.fields] with lines such as "
                              'wtmap = "{item.parent}/{item.stem}.wtmap.fits"')
            derived, ok = {}, False
        if text_fields is None or required is None:
            return [], False
        for fname in derived:
            if fname == "index" or not NAME_RE.match(fname):
                self.report.error(f"{kp}.fields.{fname}", f"'{fname}' cannot be a field name",
                                  "use letters, digits and '_' ('index' is reserved)")
                ok = False
        if ("items" in raw) == ("glob" in raw):
            self.report.error(kp, "give either items = [...] or glob = \"...\""
                              + (" (not both)" if "items" in raw else ""),
                              'list the files (items = [{image = "a.fits"}, ...]) or match them '
                              '(glob = "images/*.fits")')
            return [], False
        if "items" in raw:
            items, explicit_ok = self._explicit_items(raw["items"], kp, primary, text_fields)
            ok = ok and explicit_ok
        else:
            items, glob_ok = self._glob_items(raw, kp, primary)
            ok = ok and glob_ok
        if not ok:
            return items, False
        explicit_names = {key for item in items for key in item.fields}
        ok = self._derive_fields(items, derived, kp, text_fields)
        if not ok:
            return items, False
        known = explicit_names | set(derived)
        for fname in required:
            if fname not in known:
                hint = did_you_mean(fname, sorted(known))
                self.report.error(f"{kp}.required", f"required field '{fname}' is not a field of "
                                  f"the set", (hint + " " if hint else "")
                                  + f"define it under [inputs.{name}.fields]; fields: "
                                  + ", ".join(sorted(known)))
                ok = False
        if self.check_files:
            self._check_companions(items, required, kp, derived)
        return items, ok

    def _derive_fields(self, items: list[Item], derived: dict[str, Any], kp: str,
                       text_fields: list[str]) -> bool:
        """Add the ``[inputs.NAME.fields]`` an item does not give, in order; False on errors.

        Each template is compiled once for the whole set.
        """
        if not derived:
            return True
        nodes = {fname: self.evaluator.compile(template, f"{kp}.fields.{fname}")
                 for fname, template in derived.items()}
        text_set = set(text_fields)
        ok = True
        scope = Scope(where=kp)
        for item in items:
            scope.item = item
            for fname, node in nodes.items():
                if fname in item.fields:
                    continue
                value, good = self.evaluator.run(node, scope)
                if type(value) in (dict, list):  # (a file name, the usual field, needs no look)
                    value, good = self.evaluator.bounded(value, good, f"{kp}.fields.{fname}")
                if not good:
                    ok = False
                    continue
                if isinstance(value, str) and fname not in text_set:
                    value = self.evaluator.abspath(value)
                item.fields[fname] = value
        return ok

    def _explicit_items(self, raw_items: Any, kp: str, primary: str,
                        text_fields: list[str]) -> tuple[list[Item], bool]:
        name = kp.split(".", 1)[1]
        if not isinstance(raw_items, list):
            self.report.error(f"{kp}.items", f"items must be an array, got {type_name(raw_items)}",
                              'write items = [{image = "a.fits", wtmap = "a.wtmap.fits"}, ...]')
            return [], False
        if not raw_items:
            self.report.error(f"{kp}.items", "items is empty",
                              "list at least one item, or remove the set and the steps using it")
            return [], False
        items: list[Item] = []
        ok = True
        text_set = set(text_fields)
        good_names: set[str] = set()
        primary_is_text = primary in text_set
        only_primary = frozenset((primary,))
        for index, raw in enumerate(raw_items):
            if isinstance(raw, str):
                if primary_is_text and not has_refs(raw):  # a plain name: nothing to check
                    items.append(Item(name, index, primary, {primary: raw}, only_primary))
                    continue
                raw = {primary: raw}
            elif not isinstance(raw, dict):
                self.report.error(f"{kp}.items[{index}]",
                                  f"an item must be a table or a file name, got {type_name(raw)}",
                                  'write {image = "a.fits", wtmap = "a.wtmap.fits"} or "a.fits"')
                ok = False
                continue
            fields: dict[str, Any] = {}
            for fname, value in raw.items():
                if fname not in good_names:
                    if fname == "index" or not NAME_RE.match(fname):
                        self.report.error(f"{kp}.items[{index}].{fname}",
                                          f"'{fname}' cannot be a field name",
                                          "use letters, digits and '_' ('index' is reserved)")
                        ok = False
                        continue
                    good_names.add(fname)
                if isinstance(value, str) and not has_refs(value) and fname in text_set:
                    fields[fname] = value  # plain text: nothing to do
                    continue
                value, good = self._item_field(value, f"{kp}.items[{index}].{fname}", fname,
                                               primary, fname in text_set)
                if not good:
                    ok = False
                    continue
                fields[fname] = value
            if primary not in fields and ok:
                self.report.error(f"{kp}.items[{index}]", f"item has no '{primary}' field",
                                  f"give {primary} = \"...\" in every item, or set field = \"...\" "
                                  f"in [inputs.{name}] to the name of the main file")
                ok = False
            items.append(Item(name, index, primary, fields, frozenset(fields)))
        return items, ok

    def _item_field(self, value: Any, fkp: str, fname: str, primary: str,
                    is_text: bool) -> tuple[Any, bool]:
        """One field of an explicit item, interpolated (a file: absolute, checked)."""
        if isinstance(value, (dict, list)):
            self.report.error(fkp, f"item fields hold plain values, got {type_name(value)}",
                              "give a file name, a number or a boolean")
            return value, False
        if isinstance(value, str) and has_refs(value):
            value, good = self.evaluator.evaluate(value, fkp, GLOBAL)
            if not good:
                return value, False
        if isinstance(value, str) and not is_text:
            value = self.evaluator.abspath(value)
            if self.check_files and not os.path.exists(value):
                self.report.error(fkp, f"file not found: {value}",
                                  "correct the path (relative paths start at the project "
                                  f"folder {self.evaluator.base_dir})"
                                  + (f", or add '{fname}' to text_fields if it is not a file"
                                     if fname != primary else ""))
        return value, True

    def _glob_items(self, raw: dict[str, Any], kp: str, primary: str) -> tuple[list[Item], bool]:
        name = kp.split(".", 1)[1]
        patterns = self._string_list(raw, "glob", kp, allow_str=True)
        excludes = self._string_list(raw, "exclude", kp, allow_str=True)
        if patterns is None or excludes is None:
            return [], False
        resolved: list[str] = []
        for i, pattern in enumerate(patterns):
            gkp = f"{kp}.glob" + (f"[{i}]" if isinstance(raw.get("glob"), list) else "")
            value, good = self.evaluator.evaluate(pattern, gkp, GLOBAL)
            if not good:
                return [], False
            if not isinstance(value, str):
                self.report.check_type(value, str, gkp)
                return [], False
            resolved.append(self.evaluator.abspath(value))
        abspath = self.evaluator.abspath
        exclude_abs = [abspath(p) if ("/" in p or os.sep in p) else p for p in excludes]
        found: list[str] = []
        seen: set[str] = set()
        matched = 0
        for pattern in resolved:
            for match in sorted(glob.glob(pattern, recursive=True)):
                if not os.path.isfile(match) or match in seen:
                    continue
                matched += 1
                seen.add(match)
                base = os.path.basename(match)
                if any(
                    fnmatch.fnmatch(match if ("/" in ex or os.sep in ex) else base, ex)
                    for ex in exclude_abs
                ):
                    continue
                found.append(os.path.normpath(match))
        found.sort()
        if not found and self.check_files:
            shown = ", ".join(repr(p) for p in patterns)
            if matched:
                self.report.error(f"{kp}.exclude", f"all {matched} files matched by {shown} are "
                                  "excluded", "loosen the exclude patterns")
            else:
                folders = ", ".join(sorted({os.path.dirname(p) for p in resolved}))
                self.report.error(f"{kp}.glob", f"{shown} matched no files (looked in {folders})",
                                  "check the pattern and that the files are there (relative "
                                  "patterns start at the project folder "
                                  f"{self.evaluator.base_dir})")
        return [Item(name, i, primary, {primary: path}) for i, path in enumerate(found)], True

    def _check_companions(self, items: list[Item], required: list[str], kp: str,
                          derived: dict[str, Any]) -> None:
        for fname in required:
            missing = [
                (item, item.fields.get(fname))
                for item in items
                if fname not in item.explicit
                and isinstance(item.fields.get(fname), str)
                and not os.path.exists(item.fields[fname])
            ]
            if not missing:
                continue
            fkp = f"{kp}.fields.{fname}" if fname in derived else f"{kp}.required"
            shown = [f"{path} (for {os.path.basename(str(item.fields.get(item.primary)))})"
                     for item, path in missing[:5]]
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            self.report.error(fkp, f"required '{fname}' not found: " + "; ".join(shown) + more,
                              f"put the {fname} files there, fix the pattern under "
                              f"[{kp}.fields], or remove '{fname}' from required")
