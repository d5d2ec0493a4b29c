"""The layout's rules, measured from the code's own imports (every import statement at any
depth, except under `if TYPE_CHECKING:`):

- imports run one way, down this list of layers (a module may import its own layer and the
  ones below it):
      cli -> api -> run -> trace -> syscalls handlers -> syscalls dispatch/registry/abi
          -> usermode.kernel -> usermode.{engine, loop, host, arch} -> loaders
  `syscalls.tables` (generated data) and `usermode.uapi` (Linux's constants) import nothing
  of ours, and anything may import them;
- the product modules form no import cycle;
- at most 8 modules lie flat in `usermode/` besides `__init__`, `__main__` and `api`;
- no product module exceeds 600 lines (generated tables aside);
- each constant is stated once: no upper-case name is bound to a number in two modules
  (the per-arch data modules, which share one schema, aside).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("usermode", "syscalls", "loaders")

# (layer name, module prefixes); a module belongs to the first layer with a matching prefix
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("cli", ("usermode.cli", "usermode.__main__")),
    ("api", ("usermode.api", "usermode.__init__")),
    ("run", ("usermode.run",)),
    ("trace", ("usermode.trace", "usermode.gdb")),
    ("handlers", ("syscalls.linux",)),
    ("table", ("syscalls.dispatch", "syscalls.registry", "syscalls.abi", "syscalls.__init__")),
    ("kernel", ("usermode.kernel",)),
    ("machine", ("usermode.engine", "usermode.loop", "usermode.host", "usermode.arch")),
    ("loaders", ("loaders",)),
    ("data", ("syscalls.tables", "usermode.uapi")),
)
RANK = {name: i for i, (name, _) in enumerate(LAYERS)}
FLAT_ALLOWED = 8
MAX_LINES = 600


def module_name(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    return ".".join(rel.parts)


def product_modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for pkg in PACKAGES:
        for p in sorted((REPO / pkg).rglob("*.py")):
            out[module_name(p)] = p
    return out


def layer_of(mod: str) -> str:
    for name, prefixes in LAYERS:
        for pre in prefixes:
            if mod == pre or mod.startswith(pre + "."):
                return name
    raise AssertionError(f"{mod}: in no layer (add it to LAYERS in {__file__})")


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def imports_of(mod: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The product modules `mod` imports (a `from pkg import name` of a submodule counts as
    that submodule)."""
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    pkg = mod if path.name == "__init__.py" else mod.rpartition(".")[0]

    def resolve(name: str) -> str | None:
        while name:
            if name in known:
                return name
            if name + ".__init__" in known:
                return name + ".__init__"
            name = name.rpartition(".")[0]
        return None

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for sub in child.orelse:
                    visit(sub)
                continue
            if isinstance(child, ast.Import):
                for a in child.names:
                    r = resolve(a.name)
                    if r:
                        found.add(r)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = pkg.split(".")
                    up = parts[:len(parts) - (child.level - 1)]
                    base = ".".join(up + ([base] if base else []))
                for a in child.names:
                    r = resolve(f"{base}.{a.name}") if f"{base}.{a.name}" in known or \
                        f"{base}.{a.name}.__init__" in known else resolve(base)
                    if r:
                        found.add(r)
            visit(child)

    visit(tree)
    found.discard(mod)
    return found


def graph() -> dict[str, set[str]]:
    known = product_modules()
    return {m: imports_of(m, p, known) for m, p in known.items()}


def upward_imports(g: dict[str, set[str]]) -> list[str]:
    bad = []
    for m, deps in sorted(g.items()):
        lm = layer_of(m)
        for d in sorted(deps):
            ld = layer_of(d)
            if ld == "data":
                continue
            if lm == "data" or RANK[ld] < RANK[lm]:
                bad.append(f"{m} ({lm}) imports {d} ({ld})")
    return bad


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]
    sys.setrecursionlimit(10000)

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            strong(v)
    return out


def flat_modules() -> list[str]:
    return sorted(p.name for p in (REPO / "usermode").glob("*.py")
                  if p.name not in ("__init__.py", "__main__.py", "api.py"))


def oversized() -> list[str]:
    out = []
    for m, p in product_modules().items():
        text = p.read_text()
        if "generated" in text[:400].lower():
            continue
        n = text.count("\n")
        if n > MAX_LINES:
            out.append(f"{m}: {n} lines")
    return out


def _per_arch(mod: str) -> bool:
    parts = mod.split(".")
    return (parts[:2] == ["usermode", "arch"] and len(parts) >= 3 and parts[2] not in (
        "__init__", "sigframe")) or (parts[:2] == ["syscalls", "abi"] and len(parts) == 3
                                     and parts[2] not in ("__init__", "structs", "numbering",
                                                          "generic"))


def duplicated_constants() -> dict[str, list[str]]:
    """Upper-case names bound to a number (a literal or arithmetic on literals) at module
    level in more than one product module."""
    seen: dict[str, list[str]] = {}
    for mod, path in product_modules().items():
        if mod.startswith("syscalls.tables") or _per_arch(mod):
            continue
        for node in ast.parse(path.read_text()).body:
            if not isinstance(node, ast.Assign):
                continue
            for target in node.targets:
                pairs: list[tuple[ast.expr, ast.expr]] = []
                if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                    pairs = list(zip(target.elts, node.value.elts, strict=False))
                else:
                    pairs = [(target, node.value)]
                for name, value in pairs:
                    number = isinstance(value, (ast.UnaryOp, ast.BinOp)) or (
                        isinstance(value, ast.Constant) and type(value.value) is int)
                    if isinstance(name, ast.Name) and name.id.isupper() and number:
                        seen.setdefault(name.id, []).append(mod)
    return {k: v for k, v in seen.items() if len(set(v)) > 1}


def test_imports_run_down_the_layers() -> None:
    bad = upward_imports(graph())
    assert not bad, "\n".join(bad)


def test_no_import_cycle() -> None:
    found = cycles(graph())
    assert not found, "\n".join(" <-> ".join(c) for c in found)


def test_few_flat_modules() -> None:
    flat = flat_modules()
    assert len(flat) <= FLAT_ALLOWED, flat


def test_modules_stay_small() -> None:
    big = oversized()
    assert not big, "\n".join(big)


def test_each_constant_once() -> None:
    dups = duplicated_constants()
    assert not dups, "\n".join(f"{k}: {v}" for k, v in sorted(dups.items()))


if __name__ == "__main__":  # a report: python tests/unit/test_layers.py
    g = graph()
    print("upward imports:", *upward_imports(g), sep="\n  ")
    print("cycles:", *(" <-> ".join(c) for c in cycles(g)), sep="\n  ")
    print("flat modules:", flat_modules())
    print("oversized:", oversized())
    print("constants stated twice:", duplicated_constants())
