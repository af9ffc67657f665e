"""A chapter's code cells without the glue plumbing, for the notebooks made from it.

The imports of ``glue`` and ``glue_figure`` go; ``glue_figure(name, fig)`` becomes
``plt.show()`` and gluing a value that a directive shows becomes ``display(value)``; every other
``glue(...)`` goes, and so does what a cell computed only for it (a statement that only binds
names no later cell reads). A cell left with no code is dropped: in a chapter, the cells tagged
``remove-cell`` that glue numbers into the prose.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass

#: The modules a chapter imports ``glue`` and ``glue_figure`` from.
GLUE_MODULES = {"myst_nb", "glue_helpers", "_ext.glue_helpers"}
GLUE_NAMES = {"glue", "glue_figure"}


@dataclass
class PlainCode:
    """A code cell made plain: its new source (``None`` when dropped), the glued names it shows, the names it reads."""

    source: str | None
    figures: list[str]
    reads: set[str]
    shows_pyplot: bool = False  # it calls plt.show()
    glue_import_at: int | None = None  # the line (0-based) of the glue import it had


def _names_read(node: ast.AST | Iterable[ast.AST]) -> set[str]:
    nodes = [node] if isinstance(node, ast.AST) else list(node)
    return {n.id for top in nodes for n in ast.walk(top) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _bound(stmt: ast.stmt) -> set[str]:
    """The names a statement binds."""
    targets: list[ast.AST] = []
    if isinstance(stmt, ast.Assign):
        targets = list(stmt.targets)
    elif isinstance(stmt, ast.AnnAssign | ast.AugAssign | ast.For | ast.AsyncFor):
        targets = [stmt.target]
    elif isinstance(stmt, ast.With | ast.AsyncWith):
        targets = [item.optional_vars for item in stmt.items if item.optional_vars is not None]
    elif isinstance(stmt, ast.Import | ast.ImportFrom):
        return {(a.asname or a.name).split(".")[0] for a in stmt.names}
    names = {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    for body in _bodies(stmt):
        for inner in body:
            names |= _bound(inner)
    return names


def _bodies(stmt: ast.stmt) -> list[list[ast.stmt]]:
    bodies = [getattr(stmt, key) for key in ("body", "orelse", "finalbody") if getattr(stmt, key, None)]
    if isinstance(stmt, ast.Try):
        bodies += [handler.body for handler in stmt.handlers]
    return bodies


def _call_to(stmt: ast.stmt, name: str) -> ast.Call | None:
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        func = stmt.value.func
        if isinstance(func, ast.Name) and func.id == name:
            return stmt.value
    return None


def _glue_name(call: ast.Call) -> str | None:
    first = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "name"), None)
    return first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None


def _glued_value(call: ast.Call) -> ast.expr:
    if len(call.args) > 1:
        return call.args[1]
    return next(k.value for k in call.keywords if k.arg in ("variable", "value", "fig"))


def _imports_glue(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.ImportFrom) and (
        stmt.module in GLUE_MODULES or any(alias.name in GLUE_NAMES for alias in stmt.names)
    )


class _CodeEdit:
    """Line edits on one cell's source, found from its syntax tree."""

    def __init__(self, source: str, block_names: set[str]):
        self.source = source
        self.lines = source.split("\n")
        self.block_names = block_names
        self.tree = ast.parse(source)
        self.replace: dict[int, tuple[int, list[str]]] = {}  # first line (0-based) -> (last line, new lines)
        self.first_line: dict[int, int] = {}  # id of a removed statement -> the first line it takes along
        self.plain = PlainCode(None, [], set())
        self.glue_calls_removed = False

    def _own_lines(self, stmt: ast.stmt) -> str:
        """The indentation of a statement that has its lines to itself."""
        first, last = self.lines[stmt.lineno - 1], self.lines[stmt.end_lineno - 1]
        rest = last[stmt.end_col_offset :].strip()
        if first[: stmt.col_offset].strip() or (rest and not rest.startswith("#")):
            raise ValueError(f"line {stmt.lineno}: give each glue statement a line of its own:\n{self.source}")
        return first[: stmt.col_offset]

    def _remove(self, stmt: ast.stmt) -> None:
        indent = self._own_lines(stmt)
        first = stmt.lineno - 1
        while first > 0 and self.lines[first - 1].startswith(indent + "#"):  # its comment goes with it
            first -= 1
        self.replace[first] = (stmt.end_lineno - 1, [])
        self.first_line[id(stmt)] = first

    def _substitute(self, stmt: ast.stmt, text: str) -> None:
        first = self.first_line.pop(id(stmt), stmt.lineno - 1)
        self.replace[first] = (stmt.end_lineno - 1, [self._own_lines(stmt) + text])

    def unglue(self, body: list[ast.stmt]) -> bool:
        """Remove or replace the glue in ``body`` (recursively); return whether all of ``body`` went."""
        for stmt in body:
            if _imports_glue(stmt):
                kept = [a for a in stmt.names if a.name not in GLUE_NAMES] if stmt.module not in GLUE_MODULES else []
                if kept:
                    self._substitute(stmt, ast.unparse(ast.ImportFrom(stmt.module, kept, stmt.level)))
                else:
                    if self.plain.glue_import_at is None:
                        self.plain.glue_import_at = stmt.lineno - 1
                    self._remove(stmt)
            elif (call := _call_to(stmt, "glue_figure")) is not None:
                self._substitute(stmt, "plt.show()")
                self.plain.figures.append(_glue_name(call) or "figure")
                self.plain.shows_pyplot = True
            elif (call := _call_to(stmt, "glue")) is not None:
                name = _glue_name(call)
                if name in self.block_names:
                    self._substitute(stmt, f"display({ast.get_source_segment(self.source, _glued_value(call))})")
                    self.plain.figures.append(name)
                else:
                    self._remove(stmt)
                    self.glue_calls_removed = True
            elif bodies := _bodies(stmt):
                emptied = [self.unglue(b) for b in bodies]
                if all(emptied):
                    self._remove(stmt)
                else:
                    for b, gone in zip(bodies, emptied):
                        if gone:
                            self._substitute(b[0], "pass")
        return all(id(stmt) in self.first_line for stmt in body)

    def kept(self, body: list[ast.stmt]) -> list[ast.stmt]:
        return [s for s in body if id(s) not in self.first_line]

    def pure_binding(self, stmt: ast.stmt) -> bool:
        """Whether a statement only binds names (nothing shown, nothing called for its effect)."""
        if isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign | ast.Import | ast.ImportFrom):
            return True
        if isinstance(stmt, ast.For | ast.With | ast.If):
            return all(self.pure_binding(s) for b in _bodies(stmt) for s in self.kept(b))
        return False

    def reads(self, stmt: ast.stmt) -> set[str]:
        """The names a kept statement reads, leaving out its removed parts."""
        names: set[str] = set()
        for child in ast.iter_child_nodes(stmt):
            if isinstance(child, ast.stmt):
                if id(child) not in self.first_line:
                    names |= self.reads(child)
            else:
                names |= _names_read(child)
        return names

    def drop_dead(self, live: set[str]) -> set[str]:
        """Remove the top-level assignments that only fed the removed glue; return what the rest reads."""
        reads: set[str] = set()
        for stmt in reversed(self.kept(self.tree.body)):
            if self.glue_calls_removed and self.pure_binding(stmt) and not _bound(stmt) & (live | reads):
                self._remove(stmt)
                continue
            reads |= self.reads(stmt)
        return reads

    def result(self) -> str | None:
        out: list[str] = []
        i = 0
        while i < len(self.lines):
            if i in self.replace:
                last, new = self.replace[i]
                out += new
                i = last + 1
            else:
                out.append(self.lines[i])
                i += 1
        text = re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip("\n")
        code = [line for line in text.split("\n") if line.strip() and not line.lstrip().startswith("#")]
        return text if code else None


def plain_code(source: str, live_after: set[str], block_names: set[str]) -> PlainCode:
    """One code cell made plain (see the module's docstring); ``live_after``: the names later cells read."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython syntax (a magic): no glue to find, and it may read any name it mentions
        if re.search(r"\bglue(_figure)?\b", source):
            raise
        return PlainCode(source, [], set(re.findall(r"[A-Za-z_]\w*", source)))
    if not any(_imports_glue(n) or isinstance(n, ast.Name) and n.id in GLUE_NAMES for n in ast.walk(tree)):
        return PlainCode(source, [], _names_read(tree))
    edit = _CodeEdit(source, block_names)
    edit.unglue(edit.tree.body)
    reads = edit.drop_dead(live_after)
    edit.plain.source = edit.result()
    edit.plain.reads = reads if edit.plain.source is not None else set()
    return edit.plain
