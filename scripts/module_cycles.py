#!/usr/bin/env python3
"""Prints the cycles of gantry's file-level import graph (edges: `use crate::…` and `super::…`
paths, and `crate::a::b` paths written inline). Exit 1 when a cycle exists. Used by the test suite."""
import os, re, sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")

def files():
    out = {}
    for d, _, fs in os.walk(ROOT):
        for f in fs:
            if f.endswith(".rs"):
                p = os.path.relpath(os.path.join(d, f), ROOT)
                mod = p[:-3].replace(os.sep, "::")
                if mod.endswith("::mod"):
                    mod = mod[: -len("::mod")]
                if mod in ("lib", "main"):
                    continue
                out[mod] = os.path.join(d, f)
    return out

def strip_tests(text):
    # the unit tests of a file may reach anywhere
    i = text.find("#[cfg(test)]")
    return text if i < 0 else text[:i]

def target(mods, parts):
    # the longest prefix of parts naming a file
    for k in range(len(parts), 0, -1):
        m = "::".join(parts[:k])
        if m in mods:
            return m
    return None

def edges(mods):
    g = {m: set() for m in mods}
    for m, path in mods.items():
        text = strip_tests(open(path).read())
        here = m.split("::")
        is_dir = path.endswith("mod.rs")
        for raw in re.findall(r"\b((?:crate|super)(?:::\w+)+)", text):
            parts = raw.split("::")
            if parts[0] == "crate":
                parts = parts[1:]
            else:
                base = here if is_dir else here[:-1]
                while parts and parts[0] == "super":
                    parts = parts[1:]
                    base = base[:-1] if parts and parts[0] == "super" else base
                parts = base + parts
            # `use crate::x::{a, b}` braces: take the prefix
            t = target(mods, parts)
            if t and t != m:
                g[m].add(t)
        for brace in re.findall(r"use\s+((?:crate|super)(?:::\w+)*)::\{([^}]*)\}", text):
            prefix = brace[0].split("::")
            if prefix[0] == "crate":
                prefix = prefix[1:]
            else:
                base = here if is_dir else here[:-1]
                prefix = base + prefix[1:]
            for item in brace[1].split(","):
                item = item.strip().split(" as ")[0].split("::")[0].strip()
                if item and item != "self":
                    t = target(mods, prefix + [item])
                    if t and t != m:
                        g[m].add(t)
    return g

def sccs(g):
    index, low, stack, on, out, i = {}, {}, [], set(), [], [0]
    def visit(v):
        index[v] = low[v] = i[0]; i[0] += 1
        stack.append(v); on.add(v)
        for w in g[v]:
            if w not in index:
                visit(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))
    sys.setrecursionlimit(10000)
    for v in g:
        if v not in index:
            visit(v)
    return out

if __name__ == "__main__":
    g = edges(files())
    cyc = sccs(g)
    for c in cyc:
        print(f"cycle of {len(c)} files: " + ", ".join(c))
        for a in c:
            print(f"  {a} -> " + ", ".join(sorted(x for x in g[a] if x in c)))
    print(f"{len(g)} files, {sum(len(v) for v in g.values())} edges, {len(cyc)} cycles")
    sys.exit(1 if cyc else 0)
