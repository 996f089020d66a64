#!/usr/bin/python3
"""Fails on an #include that goes up or across kvtier's layers (docs/ARCHITECTURE.md, "Layers").

The layers are defined once, in CMakeLists.txt (kvtier_layer), which writes them to
<build>/layers.txt as lines "<layer>: <directories under src/> | <layers it depends on>". A file
under src/<dir>/ may include "<other>/..." only when <other> belongs to its own layer or to one
its layer depends on, directly or through others. Every directory under src/ must belong to a
layer, and the layers must not depend on each other in a cycle. Public headers (include/kvtier/)
may include only each other, and the client's (client.h, kvtier.h) never the engine's (store.h,
config.h).

  check-layers.py <build dir> [--src DIR]   check src/ (or DIR) against <build dir>/layers.txt
  check-layers.py <build dir> --self-test   also show the check fails on an upward include
"""
import argparse
import pathlib
import re
import shutil
import sys
import tempfile

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"/]+)/[^"]*"', re.MULTILINE)
# Paths that climb out of a folder or name src/ could reach any layer unseen: none are allowed.
SIDE_DOOR = re.compile(r'^\s*#\s*include\s+[<"]((?:\.\./|src/|/)[^">]*)[">]', re.MULTILINE)
SOURCE_SUFFIXES = {".h", ".cpp", ".inc"}


def read_layers(path):
    """{layer: (dirs, depends)} from layers.txt."""
    layers = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, rest = line.split(":", 1)
        dirs, depends = rest.split("|", 1)
        layers[name.strip()] = (dirs.split(), depends.split())
    return layers


def closure(layers, name, errors, path=()):
    """Every layer `name` may use: itself and what it depends on, transitively."""
    if name in path:
        errors.append("the layers depend on each other in a cycle: " + " -> ".join(path + (name,)))
        return set()
    if name not in layers:
        errors.append(f"layer {path[-1]} depends on {name}, which is not a layer")
        return set()
    seen = {name}
    for dep in layers[name][1]:
        seen |= closure(layers, dep, errors, path + (name,))
    return seen


def check(src, layers):
    """The violations in `src` (a src/ tree), each a line."""
    errors = []
    layers_of_dir = {}
    for name, (dirs, _) in layers.items():
        for d in dirs:
            layers_of_dir.setdefault(d, set()).add(name)
    allowed = {}  # dir -> the directories its files may include
    for d, names in layers_of_dir.items():
        usable = set()
        for name in names:
            usable |= closure(layers, name, errors)
        allowed[d] = {x for u in usable for x in layers[u][0]}
    for d in sorted(p.name for p in src.iterdir() if p.is_dir()):
        if d not in layers_of_dir:
            errors.append(f"src/{d}/ belongs to no layer (add it to a kvtier_layer in CMakeLists.txt)")
    for f in sorted(src.rglob("*")):
        if f.suffix not in SOURCE_SUFFIXES or not f.is_file():
            continue
        d = f.relative_to(src).parts[0]
        if d not in allowed:
            continue
        text = f.read_text(errors="replace")
        for m in SIDE_DOOR.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            errors.append(f"{f.relative_to(src.parent)}:{line}: includes \"{m.group(1)}\": name "
                          "headers from src/ as \"<folder>/<file>.h\"")
        for m in INCLUDE.finditer(text):
            target = m.group(1)
            if target == "kvtier" or target in allowed[d]:
                continue
            line = text.count("\n", 0, m.start()) + 1
            rel = f.relative_to(src.parent)
            if target in layers_of_dir:
                errors.append(f"{rel}:{line}: includes {m.group(0).split()[-1]}: layer "
                              f"{'/'.join(sorted(layers_of_dir[d]))} does not depend on "
                              f"{'/'.join(sorted(layers_of_dir[target]))}")
            elif (src / target).is_dir():
                errors.append(f"{rel}:{line}: includes from src/{target}/, which belongs to no layer")
    return errors


# What a client program sees stops here: the client's headers never bring the engine's.
CLIENT_HEADERS = ("client.h", "kvtier.h")
ENGINE_HEADERS = ("store.h", "config.h")
PUBLIC_INCLUDE = re.compile(r'^\s*#\s*include\s+"kvtier/([^"]+)"', re.MULTILINE)


def public_closure(include, header):
    """Every public header `header` includes, transitively."""
    seen, todo = set(), [header]
    while todo:
        h = todo.pop()
        if h in seen or not (include / "kvtier" / h).is_file():
            continue
        seen.add(h)
        todo += PUBLIC_INCLUDE.findall((include / "kvtier" / h).read_text())
    return seen


def check_public_headers(include):
    errors = []
    for f in sorted((include / "kvtier").glob("*.h")):
        for m in INCLUDE.finditer(f.read_text()):
            if m.group(1) != "kvtier":
                errors.append(f"{f.relative_to(include.parent)}: public header includes "
                              f"{m.group(0).split()[-1]}, which users do not have")
    for h in CLIENT_HEADERS:
        for engine in sorted(public_closure(include, h) & set(ENGINE_HEADERS)):
            errors.append(f"include/kvtier/{h} brings kvtier/{engine}: a client program would see "
                          "the engine (use kvtier/types.h)")
    return errors


def self_test(src, layers):
    """The check fails once shared/ includes server/ (an upward include), directly or by a path
    that climbs out of its folder."""
    failures = []
    for line in ('#include "server/server.h"', '#include "../server/server.h"'):
        with tempfile.TemporaryDirectory() as tmp:
            copy = pathlib.Path(tmp) / "src"
            shutil.copytree(src, copy)
            victim = copy / "shared" / "outbox.h"
            victim.write_text(victim.read_text() + "\n" + line + "\n")
            errors = check(copy, layers)
        caught = [e for e in errors if "shared/outbox.h" in e and "server/server.h" in e]
        if caught:
            print("check-layers self-test: refused as it should be:", caught[0])
        else:
            failures.append(f"self-test: {line} in shared/outbox.h was not reported")
    return failures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build_dir", type=pathlib.Path)
    parser.add_argument("--src", type=pathlib.Path)
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    root = pathlib.Path(__file__).resolve().parent.parent
    src = args.src or root / "src"
    layers_file = args.build_dir / "layers.txt"
    if not layers_file.is_file():
        print(f"check-layers: no {layers_file}: configure the build first", file=sys.stderr)
        return 2
    layers = read_layers(layers_file)
    errors = check(src, layers) + check_public_headers(root / "include")
    if args.self_test:
        errors += self_test(src, layers)
    for e in errors:
        print("check-layers:", e, file=sys.stderr)
    if not errors:
        print(f"check-layers: {len(layers)} layers, no include goes up or across")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
