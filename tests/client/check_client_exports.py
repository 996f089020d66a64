#!/usr/bin/python3
"""libkvtier_client.so exports its public API and nothing else (include/kvtier/export.h).

  check_client_exports.py <libkvtier_client.so> <include dir>

Fails when the library exports a C symbol that is not kvtier_*, a C++ symbol of an internal
namespace (kvtier::protocol::, kvtier::client::, kvtier::net:: ...: the codec, TLS and the
client's internals, which a program must not link against), when a function kvtier.h declares
is missing, or when the SONAME is not libkvtier_client.so.<major>.
"""
import pathlib
import re
import subprocess
import sys

# Symbols the linker defines in every shared object.
LINKER_SYMBOLS = {"_init", "_fini", "__bss_start", "_edata", "_end"}
INTERNAL = re.compile(r"kvtier::[a-z_]+::")  # public names live directly in namespace kvtier
# C++ entry points a program linking the library needs (include/kvtier/client.h, key.h, status.h).
REQUIRED_CXX = ["kvtier::Client::connect(", "kvtier::chain_key(", "kvtier::namespace_key(",
                "kvtier::Status::to_string", "kvtier::Key::hex"]


def exported(library, demangle):
    args = ["nm", "-D", "--defined-only"] + (["-C"] if demangle else []) + [str(library)]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return [line.split(" ", 2)[2] for line in out.splitlines() if line.count(" ") >= 2]


def main():
    library, include = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    errors = []
    raw = exported(library, demangle=False)
    demangled = exported(library, demangle=True)
    for name, shown in zip(raw, demangled):
        if name.startswith("_Z"):
            if INTERNAL.search(shown):
                errors.append(f"exports an internal C++ symbol: {shown}")
        elif not name.startswith("kvtier_") and name not in LINKER_SYMBOLS:
            errors.append(f"exports a C symbol outside the API: {name}")
    declared = re.findall(r"^KVTIER_API [^(]*?\b(kvtier_[a-z_]+)\(",
                          (include / "kvtier" / "kvtier.h").read_text(), re.MULTILINE)
    for name in declared:
        if name not in raw:
            errors.append(f"kvtier.h declares {name}, which the library does not export")
    for needed in REQUIRED_CXX:
        if not any(s.startswith(needed) for s in demangled):
            errors.append(f"does not export {needed}")
    dynamic = subprocess.run(["readelf", "-d", str(library)], check=True, capture_output=True,
                             text=True).stdout
    soname = re.search(r"\(SONAME\)\s+Library soname: \[([^\]]+)\]", dynamic)
    if not soname or not re.fullmatch(r"libkvtier_client\.so\.\d+", soname.group(1)):
        errors.append(f"SONAME is {soname.group(1) if soname else 'missing'}, "
                      "not libkvtier_client.so.<major>")
    for e in errors:
        print("check_client_exports:", e, file=sys.stderr)
    if not declared:
        print("check_client_exports: found no KVTIER_API function in kvtier.h", file=sys.stderr)
        return 1
    print(f"check_client_exports: {len(raw)} symbols exported, {len(declared)} C functions, "
          f"SONAME {soname.group(1) if soname else '-'}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
