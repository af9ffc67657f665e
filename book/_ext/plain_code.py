"""A chapter's code cells without the build's plumbing, for the notebooks made from it.

The imports of ``glue``, ``glue_figure`` and ``glue_animation`` go; ``glue_figure(name, fig)`` becomes
``plt.show()`` (pyplot is imported where the glue helpers were, if no cell does) and gluing a value or an
animation that a directive shows becomes ``display(value)``; every other ``glue(...)`` goes. In a cell the
page hides (``remove-cell``) the guards of the prose's claims go too: each ``assert`` and each ``if`` that only
raises. What a cell computed only for what went (a statement that only binds names no later cell reads) goes
with it, and a cell left with no code is dropped.
"""

import ast
import re
from dataclasses import dataclass

#: The modules a chapter imports the glue helpers from.
GLUE_MODULES = {"myst_nb", "_ext.glue_helpers"}
GLUE_NAMES = {"glue", "glue_figure", "glue_animation"}
PYPLOT = "import matplotlib.pyplot as plt"


@dataclass
class PlainCode:
    """A code cell made plain: its source (``None`` when dropped), the glued names it shows, the names it reads."""

    source: str | None
    figures: list[str]
    reads: set[str]


def _bodies(stmt: ast.stmt) -> list[list[ast.stmt]]:
    bodies = [getattr(stmt, key) for key in ("body", "orelse", "finalbody") if getattr(stmt, key, None)]
    return bodies + [handler.body for handler in getattr(stmt, "handlers", [])]


def _bound(stmt: ast.stmt) -> set[str]:
    if isinstance(stmt, ast.Import | ast.ImportFrom):
        return {(a.asname or a.name).split(".")[0] for a in stmt.names}
    targets = getattr(stmt, "targets", []) + [getattr(stmt, "target", None)]
    targets += [item.optional_vars for item in getattr(stmt, "items", [])]
    names = {n.id for t in targets if t is not None for n in ast.walk(t) if isinstance(n, ast.Name)}
    return names.union(*(_bound(inner) for body in _bodies(stmt) for inner in body))


def _call(stmt: ast.stmt) -> tuple[str, str | None, ast.expr | None] | None:
    """A statement that calls a glue helper: the function, the glued name, the value."""
    call = stmt.value if isinstance(stmt, ast.Expr) else None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in GLUE_NAMES):
        return None
    args = call.args + [k.value for k in call.keywords if k.arg in ("name", "variable", "value", "fig")]
    name = args[0].value if args and isinstance(args[0], ast.Constant) else None
    return call.func.id, name, args[1] if len(args) > 1 else None


def _is_guard(stmt: ast.AST) -> bool:
    """An ``assert``, or an ``if`` without ``else`` that only raises."""
    if isinstance(stmt, ast.If):
        return not stmt.orelse and all(isinstance(s, ast.Raise) for s in stmt.body)
    return isinstance(stmt, ast.Assert)


class _Edit:
    """Line edits on one cell's source, found from its syntax tree."""

    def __init__(self, source: str, block_names: set[str], guards: bool):
        self.source, self.lines, self.tree = source, source.split("\n"), ast.parse(source)
        self.block_names, self.guards = block_names, guards
        self.new: dict[int, str | None] = {}  # line (0-based) -> its new text, None to remove it
        self.gone: set[int] = set()  # the ids of the statements removed
        self.removed_work = False  # a glue call or a guard went: what only it read may go too
        self.imported_glue: int | None = None  # the line of the glue import
        self.shows_pyplot = False  # a figure's plt.show() came in
        self.figures: list[str] = []  # the glued names the cell shows

    def _indent(self, stmt: ast.stmt) -> str:
        """The indentation of a statement that has its lines to itself."""
        first, rest = self.lines[stmt.lineno - 1], self.lines[stmt.end_lineno - 1][stmt.end_col_offset :].strip()
        if first[: stmt.col_offset].strip() or (rest and not rest.startswith("#")):
            raise ValueError(
                f"line {stmt.lineno}: give each glue statement (or guard) a line of its own:\n{self.source}"
            )
        return first[: stmt.col_offset]

    def remove(self, stmt: ast.stmt) -> None:
        """Remove a statement with the comment lines right above it."""
        indent, first = self._indent(stmt), stmt.lineno - 1
        while first > 0 and self.lines[first - 1].startswith(indent + "#"):
            first -= 1
        self.new.update(dict.fromkeys(range(first, stmt.end_lineno)))
        self.gone.add(id(stmt))

    def replace(self, stmt: ast.stmt, text: str) -> None:
        self.new.update(dict.fromkeys(range(stmt.lineno, stmt.end_lineno)))
        self.new[stmt.lineno - 1] = self._indent(stmt) + text
        self.gone.discard(id(stmt))

    def unglue(self, body: list[ast.stmt]) -> bool:
        """Remove or replace the plumbing in ``body`` (recursively); return whether all of ``body`` went."""
        for stmt in body:
            glued = _call(stmt)
            if isinstance(stmt, ast.ImportFrom) and (
                stmt.module in GLUE_MODULES or {a.name for a in stmt.names} & GLUE_NAMES
            ):
                kept = [] if stmt.module in GLUE_MODULES else [a for a in stmt.names if a.name not in GLUE_NAMES]
                if kept:
                    self.replace(stmt, ast.unparse(ast.ImportFrom(stmt.module, kept, stmt.level)))
                else:
                    self.imported_glue = stmt.lineno - 1 if self.imported_glue is None else self.imported_glue
                    self.remove(stmt)
            elif glued and glued[0] == "glue_figure":
                self.replace(stmt, "plt.show()")
                self.shows_pyplot = True
                self.figures.append(glued[1] or "figure")
            elif glued and glued[1] in self.block_names:
                self.replace(stmt, f"display({ast.get_source_segment(self.source, glued[2])})")
                self.figures.append(glued[1])
            elif glued or (self.guards and _is_guard(stmt)):
                self.remove(stmt)
                self.removed_work = True
            elif bodies := _bodies(stmt):
                emptied = [b for b in bodies if self.unglue(b)]
                if len(emptied) == len(bodies):
                    self.remove(stmt)
                else:
                    for b in emptied:
                        self.replace(b[0], "pass")
        return all(id(stmt) in self.gone for stmt in body)

    def kept(self, body: list[ast.stmt]) -> list[ast.stmt]:
        return [s for s in body if id(s) not in self.gone]

    def only_binds(self, stmt: ast.stmt) -> bool:
        """Whether a statement only binds names (nothing shown, nothing called for its effect)."""
        if isinstance(stmt, ast.For | ast.With | ast.If):
            return all(self.only_binds(s) for b in _bodies(stmt) for s in self.kept(b))
        return isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign | ast.Import | ast.ImportFrom)

    def reads(self, stmt: ast.stmt) -> set[str]:
        """The names a kept statement reads, leaving out its removed parts."""
        names: set[str] = set()
        for child in ast.iter_child_nodes(stmt):
            if not isinstance(child, ast.stmt):
                names |= {n.id for n in ast.walk(child) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
            elif id(child) not in self.gone:
                names |= self.reads(child)
        return names

    def result(self, live: set[str]) -> str | None:
        """The new source; ``live``: the names read after the glue import, where pyplot may have to come in."""
        if self.imported_glue is not None and "plt" in live and "plt" not in set().union(*map(_bound, self.tree.body)):
            # before the first ``import`` that sorts after it, else where the glue import was
            later = [s for s in self.tree.body if isinstance(s, ast.Import) and s.names[0].name > "matplotlib.pyplot"]
            at = later[0].lineno - 1 if later else self.imported_glue
            self.new[at] = "\n".join(filter(None, [PYPLOT, self.new.get(at, self.lines[at])]))
        if not self.new:
            return self.source
        kept = [self.new.get(i, line) for i, line in enumerate(self.lines)]
        text = re.sub(r"\n{3,}", "\n\n", "\n".join(line for line in kept if line is not None)).strip("\n")
        return text if any(line.strip() and not line.lstrip().startswith("#") for line in text.split("\n")) else None


def plain_code(source: str, live_after: set[str], block_names: set[str], guards: bool = False) -> PlainCode:
    """One code cell made plain (see the module's docstring); ``live_after``: the names later cells read;
    ``guards``: whether the cell's guards go (a cell the page hides). A cell must be Python: no magics."""
    edit = _Edit(source, block_names, guards)
    edit.unglue(edit.tree.body)
    reads = {"plt"} if edit.shows_pyplot else set()
    for stmt in reversed(edit.kept(edit.tree.body)):  # the top-level statements that only bound names for what went go
        if edit.removed_work and edit.only_binds(stmt) and not _bound(stmt) & (live_after | reads):
            edit.remove(stmt)
        else:
            reads |= edit.reads(stmt)
    plain = edit.result(live_after | reads)
    return PlainCode(plain, edit.figures, reads if plain is not None else set())
