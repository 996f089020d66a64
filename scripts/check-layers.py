#!/usr/bin/python3
"""Fails on a dependency that goes up or across kvtier's layers (docs/ARCHITECTURE.md, "Layers").

The layers are defined once, in CMakeLists.txt (kvtier_layer), which writes them to
<build>/layers.txt as lines "<layer>: <folders under src/> | <layers it depends on>". A layer may
use its own folders and those of the layers it depends on, directly or through others.

What is checked, against a built tree:
  - every header the compiler read for each layer's objects (the .o.d dependency files the build
    wrote: what was really included, whatever the #include spelled: <>, "..", macros, links);
    public headers belong to layers too (PUBLIC_HEADERS: store.h is the engine's, client.h the
    client's), so a layer below the engine cannot include store.h, nor the client config.h;
  - every header in src/, compiled or not, for #include "folder/..." lines naming another layer,
    and for includes that climb out of a folder ("../", "src/", absolute paths);
  - every folder under src/ belongs to a layer; no cycle among the layers.

  check-layers.py <build dir>               check src/ against <build dir>
  check-layers.py <build dir> --self-test   also compile upward includes of every spelling in a
                                            copy of src/ and show each is refused
"""
import argparse
import json
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent  # the source tree; main() takes the build's
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"/]+)/[^"]*"', re.MULTILINE)
SIDE_DOOR = re.compile(r'^\s*#\s*include\s+[<"]((?:\.\./|src/|/)[^">]*)[">]', re.MULTILINE)
SOURCE_SUFFIXES = {".h", ".hpp", ".cpp", ".cc", ".inc"}
# Which layer each public header belongs to: what a layer below it must not include.
PUBLIC_HEADERS = {
    "status.h": "kvtier_base", "key.h": "kvtier_base", "types.h": "kvtier_base",
    "export.h": "kvtier_base", "config.h": "kvtier_engine", "store.h": "kvtier_engine",
    "client.h": "kvtier_client_objects", "kvtier.h": "kvtier_client_objects",
}


def read_layers(path):
    """{layer: (folders, depends)} from layers.txt."""
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


class Layers:
    def __init__(self, layers, errors):
        self.layers = layers
        self.of_dir = {}
        for name, (dirs, _) in layers.items():
            for d in dirs:
                self.of_dir.setdefault(d, set()).add(name)
        # Layers sharing their folders (kvtier_client_static is kvtier_client_objects) are one.
        def same(name):
            return {n for d in layers[name][0] for n in self.of_dir[d]}
        self.usable = {}
        for name in layers:
            reach = set()
            for first in same(name):
                reach |= closure(layers, first, errors)
            self.usable[name] = {n for r in reach for n in same(r)}
        for header, owner in PUBLIC_HEADERS.items():
            if owner not in layers:
                errors.append(f"PUBLIC_HEADERS names {owner} for {header}, which is not a layer")

    def owner(self, path, src, build_dir):
        """The layers a file belongs to, None outside the project (system headers), or a string
        saying why it belongs to none."""
        path = pathlib.Path(path).resolve()
        for base in (src, build_dir / "generated"):
            if path.is_relative_to(base):
                parts = path.relative_to(base).parts
                if len(parts) < 2:
                    return f"{path} is directly in {base}, in no layer's folder"
                return self.of_dir.get(parts[0], f"{path}: src/{parts[0]}/ belongs to no layer")
        include = ROOT / "include" / "kvtier"
        if path.is_relative_to(include):
            owner = PUBLIC_HEADERS.get(path.name)
            return {owner} if owner else f"{path} is a public header PUBLIC_HEADERS does not place"
        return None

    def allowed(self, user, owners):
        return any(o in self.usable[user] for o in owners)


def parse_depfile(path):
    """The prerequisites of a make-style dependency file, as written by the compiler."""
    text = path.read_text().replace("\\\n", " ")
    deps = []
    for rule in text.splitlines():
        if ":" in rule:
            deps += rule.split(":", 1)[1].split()
    return deps


def check_compiled(build_dir, layers, src, errors, only=None):
    """Every file the compiler read for each layer's objects belongs to a layer it may use.
    Returns (objects checked, project files read among their dependencies)."""
    checked = project_files = 0
    for name in layers.layers:
        if only and name != only[0]:
            continue
        depfiles = only[1] if only else sorted((build_dir / "CMakeFiles" / f"{name}.dir").rglob("*.d"))
        for depfile in depfiles:
            deps = parse_depfile(depfile)
            if not deps or not pathlib.Path(deps[0]).exists():
                continue  # left by a source that has since moved or gone: not built any more
            checked += 1
            for dep in deps:
                owners = layers.owner(dep, src, build_dir)
                if owners is None:
                    continue
                project_files += 1
                if isinstance(owners, str):
                    errors.append(f"{name}: {owners}")
                elif not layers.allowed(name, owners):
                    errors.append(f"{name} ({depfile.name}) reads {dep}, of "
                                  f"{'/'.join(sorted(owners))}, which it does not depend on")
    return checked, project_files


def check_text(src, layers, errors):
    """#include lines of every file under src/, compiled or not."""
    for d in sorted(p.name for p in src.iterdir() if p.is_dir()):
        if d not in layers.of_dir:
            errors.append(f"src/{d}/ belongs to no layer (add it to a kvtier_layer in CMakeLists.txt)")
    for f in sorted(src.rglob("*")):
        if f.suffix not in SOURCE_SUFFIXES or not f.is_file():
            continue
        rel = f.relative_to(src.parent)
        if len(f.relative_to(src).parts) < 2:
            errors.append(f"{rel} is directly in src/, in no layer's folder")
            continue
        d = f.relative_to(src).parts[0]
        if d not in layers.of_dir:
            continue
        text = f.read_text(errors="replace")
        for m in SIDE_DOOR.finditer(text):
            errors.append(f"{rel}:{text.count(chr(10), 0, m.start()) + 1}: includes "
                          f"\"{m.group(1)}\": name headers from src/ as \"<folder>/<file>.h\"")
        for m in INCLUDE.finditer(text):
            target = m.group(1)
            if target == "kvtier" or target not in layers.of_dir:
                continue
            if not any(layers.allowed(user, layers.of_dir[target]) for user in layers.of_dir[d]):
                errors.append(f"{rel}:{text.count(chr(10), 0, m.start()) + 1}: includes "
                              f"{m.group(0).split()[-1]}: layer {'/'.join(sorted(layers.of_dir[d]))} "
                              f"does not depend on {'/'.join(sorted(layers.of_dir[target]))}")


# (layer compiled as, folder the file sits in, what the file says): each must be refused.
SELF_TESTS = [
    ("kvtier_engine", "shared", '#include "server/server.h"\n'),
    ("kvtier_engine", "shared", "#include <server/server.h>\n"),
    ("kvtier_engine", "shared", '#define KVTIER_UP "server/server.h"\n#include KVTIER_UP\n'),
    ("kvtier_engine", "shared", '#include "../server/server.h"\n'),
    ("kvtier_engine", "shared", '#include "shared/../server/server.h"\n'),
    ("kvtier_protocol", "protocol", '#include "kvtier/store.h"\n'),
    ("kvtier_client_objects", "client", "#include <kvtier/config.h>\n"),
]


def self_test(build_dir, layers_map):
    """Compiles each SELF_TESTS file (dependencies only, with its layer's real flags) in a copy
    of src/ and checks it is refused."""
    commands = json.loads((build_dir / "compile_commands.json").read_text())
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        copy = pathlib.Path(tmp) / "src"
        shutil.copytree(ROOT / "src", copy, symlinks=True)
        for n, (layer, folder, text) in enumerate(SELF_TESTS):
            entry = next((c for c in commands if f"/{layer}.dir/" in c["command"]), None)
            if entry is None:
                failures.append(f"self-test: no compile command of {layer} in compile_commands.json")
                continue
            probe = copy / folder / f"check_layers_probe_{n}.cpp"
            probe.write_text(text)
            depfile = pathlib.Path(tmp) / f"probe_{n}.d"
            args = shlex.split(entry["command"].replace(f"-I{ROOT}/src", f"-I{copy}"))
            flags, skip = [], False
            for a in args[1:]:  # the layer's flags, without its output, input and depfile
                if not skip and a not in ("-o", "-c", "-MF", "-MT", "-MQ", "-MD", "-MMD"):
                    flags.append(a)
                skip = a in ("-o", "-c", "-MF", "-MT", "-MQ")
            run = subprocess.run([args[0], *flags, "-M", "-MF", str(depfile), str(probe)],
                                 capture_output=True, text=True, cwd=entry["directory"])
            if run.returncode != 0:
                failures.append(f"self-test: {text.strip()!r} did not compile: {run.stderr[:300]}")
                continue
            errors = []
            layers = Layers(layers_map, errors)
            check_compiled(build_dir, layers, copy, errors, only=(layer, [depfile]))
            if errors:
                print(f"check-layers self-test: refused as it should be: {text.strip()!r} in "
                      f"src/{folder}/ ({layer}): {errors[0].split(' reads ')[-1]}")
            else:
                failures.append(f"self-test: {text.strip()!r} in src/{folder}/ was not refused")
    return failures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build_dir", type=pathlib.Path)
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    build_dir = args.build_dir.resolve()
    layers_file = build_dir / "layers.txt"
    if not layers_file.is_file():
        print(f"check-layers: no {layers_file}: configure the build first", file=sys.stderr)
        return 2
    global ROOT  # the tree the build compiled, which may be another checkout than this script's
    cache = (build_dir / "CMakeCache.txt").read_text()
    ROOT = pathlib.Path(re.search(r"^CMAKE_HOME_DIRECTORY:INTERNAL=(.*)$", cache, re.M).group(1))
    layers_map = read_layers(layers_file)
    errors = []
    layers = Layers(layers_map, errors)
    src = ROOT / "src"
    checked, project_files = check_compiled(build_dir, layers, src, errors)
    if checked == 0 or project_files == 0:
        errors.append(f"no dependency files of {src} under {build_dir}/CMakeFiles: build first")
    check_text(src, layers, errors)
    if args.self_test:
        errors += self_test(build_dir, layers_map)
    for e in sorted(set(errors)):
        print("check-layers:", e, file=sys.stderr)
    if not errors:
        print(f"check-layers: {len(layers_map)} layers, {checked} objects' dependencies, "
              "no include goes up or across")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
