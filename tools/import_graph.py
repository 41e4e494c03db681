"""The import graph of the fastssim package: every ``import`` statement, those inside functions
included, between fastssim's own modules.

Prints the number of modules and arrows, the floors (a module's floor is one more than the highest
floor it imports; modules of one import cycle share one), the cycles, the arrows that point from a
lower layer of the layout to a higher one, and the largest modules. ``--check`` exits 1 when there
is a cycle, an upward arrow or a module over ``--max-lines`` lines.

    python tools/import_graph.py [--check] [--json FILE]
"""

import argparse
import ast
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "fastssim"

#: Layers of the layout, lowest first: a module may import its own layer and those below it.
LAYERS = [
    ("base", ("fastssim._version", "fastssim.config", "fastssim._deprecation")),
    ("io", ("fastssim.io",)),
    ("kernels", ("fastssim.kernels",)),
    ("conventions", ("fastssim.conventions",)),
    ("metrics", ("fastssim.metrics",)),
    ("integrations", ("fastssim.integrations", "fastssim.compat")),
    ("batch", ("fastssim.batch",)),
    ("report", ("fastssim.report",)),
    ("cli", ("fastssim.cli",)),
]


def module_name(path):
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer(mod):
    """The index of ``mod``'s layer, or None for a module outside the layout (a top-level alias)."""
    for i, (_, prefixes) in enumerate(LAYERS):
        if any(mod == p or mod.startswith(p + ".") for p in prefixes):
            return i
    return None


def imports(path, mod, modules):
    """The fastssim modules ``path`` (module ``mod``) imports, anywhere in its body."""
    tree = ast.parse(path.read_text(), str(path))
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    out = set()

    def resolve(name):
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("fastssim"):
                    out.add(resolve(a.name))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.startswith("fastssim"):
                target = node.module
            else:
                continue
            for a in node.names:  # `from . import x` imports the submodule x when there is one
                sub = f"{target}.{a.name}"
                out.add(sub if sub in modules else resolve(target))
    out.discard(None)
    out.discard(mod)
    return out


def graph():
    files = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}
    edges = {m: imports(p, m, files) for m, p in files.items()}
    lines = {m: len(p.read_text().splitlines()) for m, p in files.items()}
    return edges, lines


def cycles(edges):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
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
            out.append(sorted(comp))

    for v in edges:
        if v not in index:
            visit(v)
    return [c for c in out if len(c) > 1]


def floors(edges, comps):
    """Floor of each module: 0 for one that imports no fastssim module; a cycle is one room."""
    room = {m: m for m in edges}
    for c in comps:
        for m in c:
            room[m] = c[0]
    memo = {}

    def floor(r):
        if r not in memo:
            memo[r] = 0
            members = [m for m in edges if room[m] == r]
            memo[r] = max((floor(room[w]) + 1 for m in members for w in edges[m] if room[w] != r), default=0)
        return memo[r]

    return {m: floor(room[m]) for m in edges}


def package_floors(edges):
    """Floors of the packages (``fastssim.X``, the rooms of the layout): a package's floor is one
    more than the highest floor of a package it imports."""
    def room(m):
        parts = m.split(".")
        return ".".join(parts[:2]) if len(parts) > 1 else m

    pe = {}
    for m, ws in edges.items():
        pe.setdefault(room(m), set()).update(room(w) for w in ws if room(w) != room(m))
    memo = {}

    def floor(r, seen=()):
        if r not in memo:
            if r in seen:  # a cycle between packages
                return 0
            memo[r] = max((floor(w, seen + (r,)) + 1 for w in pe.get(r, ())), default=0)
        return memo[r]

    return {r: floor(r) for r in pe}


def upward(edges):
    """Arrows from a lower layer to a higher one."""
    out = []
    for m, ws in edges.items():
        for w in ws:
            a, b = layer(m), layer(w)
            if a is not None and b is not None and b > a:
                out.append((m, w))
    return sorted(out)


def report(max_lines=400):
    edges, lines = graph()
    comps = cycles(edges)
    fl = floors(edges, comps)
    big = sorted(((n, m) for m, n in lines.items()), reverse=True)
    pf = package_floors(edges)
    return {
        "package_floors": max(pf.values()) + 1,
        "package_floor_of": dict(sorted(pf.items(), key=lambda kv: kv[1])),
        "modules": len(edges),
        "arrows": sum(len(w) for w in edges.values()),
        "floors": max(fl.values()) + 1,
        "cycles": comps,
        "upward": upward(edges),
        "largest": [[m, n] for n, m in big[:5]],
        "over_limit": [[m, n] for n, m in big if n > max_lines],
        "outside_layout": sorted(m for m in edges if layer(m) is None and m != "fastssim"),
        "floor_of": fl,
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--max-lines", type=int, default=400)
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    r = report(a.max_lines)
    print(f"{r['modules']} modules, {r['arrows']} arrows, {r['floors']} floors of modules; "
          f"{r['package_floors']} floors of packages:")
    for floor in range(r["package_floors"]):
        print(f"  {floor}: " + ", ".join(p for p, f in r["package_floor_of"].items() if f == floor))
    print(f"cycles ({len(r['cycles'])}):", *(" <-> ".join(c) for c in r["cycles"]), sep="\n  ")
    print(f"upward arrows ({len(r['upward'])}):", *(f"{m} -> {w}" for m, w in r["upward"]), sep="\n  ")
    print("largest:", ", ".join(f"{m} ({n})" for m, n in r["largest"]))
    print(f"over {a.max_lines} lines:", ", ".join(f"{m} ({n})" for m, n in r["over_limit"]) or "none")
    if a.json:
        Path(a.json).write_text(json.dumps(r, indent=1))
    if a.check and (r["cycles"] or r["upward"] or r["over_limit"]):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
