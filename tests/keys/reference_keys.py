#!/usr/bin/python3
"""Independent reference implementation of kvtier block keys (docs/KEYS.md), stdlib only.

It shares no code with src/keys/key.cpp: both are written from the spec, and both are checked
against tests/keys/vectors.json, which this script generated once.

  reference_keys.py               print the vectors as JSON
  reference_keys.py --write FILE  write the vectors to FILE
  reference_keys.py --check FILE  recompute every vector in FILE; exit 1 on any difference
                                  (FILE.md: every key of the vectors appears in the document, and
                                  every key in its "Test vectors" section is one of them)
"""

import argparse
import hashlib
import json
import re
import struct
import sys

NS_DOMAIN = b"kvtier/ns/v1"  # 12 ASCII bytes, no NUL
MAX_STRING_BYTES = 1024


def u32(v):
    return struct.pack("<I", v)


def lp(s):
    """A string as (u32 LE byte length, UTF-8 bytes)."""
    b = s.encode("utf-8")
    return u32(len(b)) + b


def check_layout(layout):
    for f in ("model_id", "kv_dtype"):
        if not layout[f]:
            raise ValueError(f"{f} is empty")
    for f in ("model_id", "kv_dtype", "extra"):
        if len(layout[f].encode("utf-8")) > MAX_STRING_BYTES:
            raise ValueError(f"{f} is longer than {MAX_STRING_BYTES} bytes")
    for f in ("num_layers", "num_kv_heads", "head_dim", "tp_world_size", "chunk_tokens"):
        if layout[f] <= 0:
            raise ValueError(f"{f} must be > 0")
    if layout["tp_rank"] >= layout["tp_world_size"]:
        raise ValueError("tp_rank must be < tp_world_size")


def namespace_preimage(layout):
    check_layout(layout)
    return (NS_DOMAIN
            + lp(layout["model_id"]) + lp(layout["kv_dtype"])
            + u32(layout["num_layers"]) + u32(layout["num_kv_heads"]) + u32(layout["head_dim"])
            + u32(layout["tp_rank"]) + u32(layout["tp_world_size"])
            + u32(layout["chunk_tokens"]) + u32(layout["layout_version"])
            + lp(layout["extra"]))


def namespace_key(layout):
    return hashlib.sha256(namespace_preimage(layout)).digest()[:16]


def chain_key(prev, tokens):
    assert len(prev) == 16
    return hashlib.sha256(prev + struct.pack(f"<{len(tokens)}I", *tokens)).digest()[:16]


def chunk_keys(ns_key, tokens, chunk_tokens):
    assert chunk_tokens > 0
    keys, prev = [], ns_key
    for start in range(0, len(tokens) - chunk_tokens + 1, chunk_tokens):
        prev = chain_key(prev, tokens[start:start + chunk_tokens])
        keys.append(prev)
    return keys


# ---- the vectors -------------------------------------------------------------------------------

LLAMA = {
    "model_id": "meta-llama/Llama-3.1-8B-Instruct@0e9e39f249a16976918f6564b8830bc894c89659",
    "kv_dtype": "bf16",
    "num_layers": 32,
    "num_kv_heads": 8,
    "head_dim": 128,
    "tp_rank": 0,
    "tp_world_size": 1,
    "chunk_tokens": 256,
    "layout_version": 1,
    "extra": "",
}


def variant(**changes):
    layout = dict(LLAMA)
    layout.update(changes)
    return layout


# Each variant named after a field differs from "llama-3.1-8b" in that field only ("tp_rank" also
# needs tp_world_size 2, so compare it with "tp_world_size"). "u32_max_and_utf8" checks that u32
# fields are unsigned little-endian and strings are UTF-8 bytes; the "boundary" pair moves one byte
# across the model_id/kv_dtype boundary, which the length prefixes must tell apart.
LAYOUTS = [
    ("llama-3.1-8b", LLAMA),
    ("model_id", variant(model_id="meta-llama/Llama-3.1-8B-Instruct@main")),
    ("kv_dtype", variant(kv_dtype="fp8_e4m3")),
    ("num_layers", variant(num_layers=31)),
    ("num_kv_heads", variant(num_kv_heads=4)),
    ("head_dim", variant(head_dim=64)),
    ("tp_rank", variant(tp_rank=1, tp_world_size=2)),
    ("tp_world_size", variant(tp_world_size=2)),
    ("chunk_tokens", variant(chunk_tokens=16)),
    ("layout_version", variant(layout_version=2)),
    ("extra", variant(extra="lora:customer-support-v3")),
    ("u32_max_and_utf8", variant(layout_version=0xFFFFFFFF, extra="\u00e9")),
    ("boundary_a", variant(model_id="ab", kv_dtype="c")),
    ("boundary_b", variant(model_id="a", kv_dtype="bc")),
]

HIGH_TOKENS = [0xFFFFFFFF, 0x80000000, 0x7FFFFFFF, 0, 1, 0x80000001, 0xFFFFFFFE, 0x12345678]


def chain_vectors():
    """(name, namespace layout name, chunk_tokens, token spec)."""
    return [
        ("llama_1to600_chunk256", "llama-3.1-8b", 256, {"range": [1, 600]}),
        ("llama_1to600_chunk16", "chunk_tokens", 16, {"range": [1, 600]}),
        ("llama_1to255_chunk256_partial_only", "llama-3.1-8b", 256, {"range": [1, 255]}),
        ("llama_1to512_chunk256_exact", "llama-3.1-8b", 256, {"range": [1, 512]}),
        ("high_tokens_chunk4", "chunk_tokens", 4, {"list": HIGH_TOKENS + [7, 8, 9]}),
        ("high_tokens_chunk16", "chunk_tokens", 16,
         {"list": [0xFFFFFFFF - i for i in range(35)]}),
    ]


def expand_tokens(spec):
    if "range" in spec:
        first, last = spec["range"]
        return list(range(first, last + 1))
    return list(spec["list"])


def layout_by_name(name):
    for n, layout in LAYOUTS:
        if n == name:
            return layout
    raise KeyError(name)


def build_vectors():
    ns = []
    for name, layout in LAYOUTS:
        ns.append({
            "name": name,
            "layout": layout,
            "preimage_hex": namespace_preimage(layout).hex(),
            "key": namespace_key(layout).hex(),
        })
    chains = []
    for name, layout_name, chunk, spec in chain_vectors():
        ns_key = namespace_key(layout_by_name(layout_name))
        keys = chunk_keys(ns_key, expand_tokens(spec), chunk)
        chains.append({
            "name": name,
            "namespace": layout_name,
            "namespace_key": ns_key.hex(),
            "chunk_tokens": chunk,
            "tokens": spec,
            "keys": [k.hex() for k in keys],
        })
    zero = bytes(16)
    single = []
    for name, prev, tokens in [
        ("zero_prev_no_tokens", zero, []),
        ("zero_prev_one_token", zero, [1]),
        ("zero_prev_u32_max", zero, [0xFFFFFFFF]),
        ("zero_prev_high_tokens", zero, HIGH_TOKENS),
        ("llama_ns_prev_1to4", namespace_key(LLAMA), [1, 2, 3, 4]),
    ]:
        single.append({
            "name": name,
            "previous": prev.hex(),
            "tokens": tokens,
            "preimage_hex": (prev + struct.pack(f"<{len(tokens)}I", *tokens)).hex(),
            "key": chain_key(prev, tokens).hex(),
        })
    return {
        "spec": "docs/KEYS.md",
        "generator": "tests/keys/reference_keys.py",
        "namespace_keys": ns,
        "chain_key": single,
        "chunk_keys": chains,
    }


def check(path):
    """Recomputes every vector of `path` from its inputs; returns the number of mismatches."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    bad = 0
    checked = 0

    def expect(what, got, want):
        nonlocal bad, checked
        checked += 1
        if got != want:
            bad += 1
            print(f"MISMATCH {what}: computed {got}, file has {want}", file=sys.stderr)

    for v in data["namespace_keys"]:
        expect(f"namespace_keys[{v['name']}].preimage_hex",
               namespace_preimage(v["layout"]).hex(), v["preimage_hex"])
        expect(f"namespace_keys[{v['name']}].key", namespace_key(v["layout"]).hex(), v["key"])
    names = {v["name"]: v for v in data["namespace_keys"]}
    for v in data["chain_key"]:
        prev = bytes.fromhex(v["previous"])
        expect(f"chain_key[{v['name']}]", chain_key(prev, v["tokens"]).hex(), v["key"])
    for v in data["chunk_keys"]:
        ns_key = namespace_key(names[v["namespace"]]["layout"])
        expect(f"chunk_keys[{v['name']}].namespace_key", ns_key.hex(), v["namespace_key"])
        keys = chunk_keys(ns_key, expand_tokens(v["tokens"]), v["chunk_tokens"])
        expect(f"chunk_keys[{v['name']}].keys", [k.hex() for k in keys], v["keys"])
    # The file must also hold exactly the vectors this script defines (nothing dropped or edited).
    checked += 1
    if build_vectors() != data:
        bad += 1
        print("MISMATCH vector set: the file is not what --write produces; regenerate it with "
              "--write only if the spec really changed", file=sys.stderr)
    # Keys of distinct layouts must be distinct.
    all_ns = [v["key"] for v in data["namespace_keys"]]
    expect("distinct namespace keys", len(set(all_ns)), len(all_ns))
    print(f"{checked - bad}/{checked} checks passed ({path})")
    return bad


def check_doc(path):
    """Checks the vectors copied into a Markdown document; returns the number of problems."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    start = text.find("## Test vectors")
    if start < 0:
        print(f"MISMATCH {path}: no '## Test vectors' section", file=sys.stderr)
        return 1
    end = text.find("\n## ", start + 1)
    section = text[start:end if end >= 0 else len(text)]
    v = build_vectors()
    outputs = [x["key"] for x in v["namespace_keys"]] + [x["key"] for x in v["chain_key"]]
    outputs += [k for x in v["chunk_keys"] for k in x["keys"]]
    inputs = [x["previous"] for x in v["chain_key"]] + [x["namespace_key"] for x in v["chunk_keys"]]
    in_doc = set(re.findall(r"\b[0-9a-f]{32}\b", section))
    bad = 0
    for k in sorted(set(outputs) - in_doc):
        bad += 1
        print(f"MISMATCH {path}: key {k} of the vectors is missing from the document", file=sys.stderr)
    for k in sorted(in_doc - set(outputs) - set(inputs)):
        bad += 1
        print(f"MISMATCH {path}: key {k} in the document is not one of the vectors", file=sys.stderr)
    for x in v["namespace_keys"][:1]:
        if x["preimage_hex"] not in section.replace("\n", "").replace(" ", ""):
            bad += 1
            print(f"MISMATCH {path}: preimage of {x['name']} missing", file=sys.stderr)
    print(f"{len(set(outputs)) + 1 - bad} of {len(set(outputs)) + 1} document checks passed ({path})")
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--write", metavar="FILE", help="write the vectors to FILE")
    group.add_argument("--check", metavar="FILE", help="verify the vectors in FILE")
    args = ap.parse_args()
    if args.check:
        bad = check_doc(args.check) if args.check.endswith(".md") else check(args.check)
        return 1 if bad else 0
    text = json.dumps(build_vectors(), indent=2, ensure_ascii=False) + "\n"
    if args.write:
        with open(args.write, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
