#!/usr/bin/python3
"""libkvtier_client.so exports exactly its public API (include/kvtier/export.h, docs/CLIENTS.md).

  check_client_exports.py <libkvtier_client.so> <include dir>

The allowed set is read from the public headers: the kvtier_* functions kvtier.h declares, and
the classes and functions include/kvtier/*.h mark KVTIER_API. It fails when the library exports
anything else (an internal of namespace kvtier, a C symbol, a C++ standard library instance),
when a declared function is missing or declared without KVTIER_API, when a symbol lacks the
version KVTIER_CLIENT_<major> (a C function may have a later minor's, KVTIER_CLIENT_<major>.<minor>,
no later than the library's own minor), or when the SONAME is not libkvtier_client.so.<major>.
"""
import pathlib
import re
import subprocess
import sys

LINKER_SYMBOLS = {"_init", "_fini", "__bss_start", "_edata", "_end"}
C_DECLARATION = re.compile(r"^(?:KVTIER_API )?(?:const )?\w+\*? \*?(kvtier_[a-z_]+)\(", re.MULTILINE)
API_CLASS = re.compile(r"^(?:class|struct) (?:\[\[\w+\]\] )?KVTIER_API (\w+)", re.MULTILINE)
API_FUNCTION = re.compile(r"^KVTIER_API [^;(]*?\b(\w+)\(", re.MULTILINE)


def exported(library):
    """[(name, version, demangled)] of the defined dynamic symbols."""
    def nm(*flags):
        out = subprocess.run(["nm", "-D", "--defined-only", *flags, str(library)], check=True,
                             capture_output=True, text=True).stdout
        return [line.split(" ", 2)[2] for line in out.splitlines() if line.count(" ") >= 2]
    rows = []
    for raw, shown in zip(nm(), nm("-C")):
        name, _, version = raw.partition("@")
        rows.append((name, version.lstrip("@"), shown.split("@")[0]))
    return rows


def public_api(include):
    """(C functions of kvtier.h, C functions it declares without KVTIER_API, C++ prefixes)."""
    header = (include / "kvtier" / "kvtier.h").read_text()
    c_functions = set(C_DECLARATION.findall(header))
    unmarked = {m.group(1) for m in C_DECLARATION.finditer(header)
                if not m.group(0).startswith("KVTIER_API ")}
    classes, functions = set(), set()
    for h in sorted((include / "kvtier").glob("*.h")):
        if h.name == "kvtier.h":
            continue
        text = h.read_text()
        classes |= set(API_CLASS.findall(text))
        functions |= set(API_FUNCTION.findall(text))
    return c_functions, unmarked, classes, functions


def main():
    library, include = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    errors = []
    c_functions, unmarked, classes, functions = public_api(include)
    if not c_functions or not classes or not functions:
        errors.append("found no public API in the headers: the patterns no longer match them")
    for name in sorted(unmarked):
        errors.append(f"kvtier.h declares {name} without KVTIER_API")

    def allowed_cxx(shown):
        for cls in classes:
            if shown.startswith((f"kvtier::{cls}::", f"typeinfo for kvtier::{cls}",
                                 f"typeinfo name for kvtier::{cls}", f"vtable for kvtier::{cls}")):
                return True
        return any(shown.startswith(f"kvtier::{f}(") for f in functions)

    dynamic = subprocess.run(["readelf", "-d", str(library)], check=True, capture_output=True,
                             text=True).stdout
    soname = re.search(r"\(SONAME\)\s+Library soname: \[libkvtier_client\.so\.(\d+)\]", dynamic)
    if not soname:
        errors.append("the SONAME is not libkvtier_client.so.<major>")
    want_version = f"KVTIER_CLIENT_{soname.group(1) if soname else '?'}"
    # The file's own version (libkvtier_client.so.<major>.<minor>.<patch>): no symbol may claim a
    # later minor than the library is.
    release = re.search(r"\.so\.(\d+)\.(\d+)\.\d+$", library.resolve().name)
    library_minor = int(release.group(2)) if release else 0
    minor_version = re.compile(re.escape(want_version) + r"\.(\d+)$")
    rows = exported(library)
    seen_c, seen_cxx = set(), []
    for name, version, shown in rows:
        if name in LINKER_SYMBOLS or name == want_version or minor_version.match(name):
            continue
        minor = minor_version.match(version)
        if minor and not name.startswith("_Z"):
            if int(minor.group(1)) > library_minor:
                errors.append(f"{shown} has version {version}, later than the library's "
                              f"minor {library_minor}")
        elif version != want_version:
            errors.append(f"{shown} has version {version or 'none'}, not {want_version}")
        if name.startswith("_Z"):
            if allowed_cxx(shown):
                seen_cxx.append(shown)
            else:
                errors.append(f"exports {shown}, which no public header marks KVTIER_API")
        elif name in c_functions:
            seen_c.add(name)
        else:
            errors.append(f"exports the C symbol {name}, which kvtier.h does not declare")
    for name in sorted(c_functions - seen_c):
        errors.append(f"kvtier.h declares {name}, which the library does not export")
    for f in sorted(functions):
        if not any(s.startswith(f"kvtier::{f}(") for s in seen_cxx):
            errors.append(f"KVTIER_API function kvtier::{f} is not exported")
    for cls in sorted(classes):
        if not any(s.startswith(f"kvtier::{cls}::") for s in seen_cxx):
            errors.append(f"KVTIER_API class kvtier::{cls} exports nothing")
    for e in errors:
        print("check_client_exports:", e, file=sys.stderr)
    print(f"check_client_exports: {len(rows)} symbols exported: {len(seen_c)} C functions, "
          f"{len(seen_cxx)} of {len(classes)} classes and {len(functions)} functions; "
          f"{want_version}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
