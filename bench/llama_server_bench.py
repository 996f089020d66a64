#!/usr/bin/python3
"""llama-server with kvtier as its prompt cache, timed over HTTP (issue 28; docs/BENCHMARKS.md).

For each model and prompt length, the time to first token (a /completion request asking for one
token, measured by the client) of a prompt made of a shared prefix and a suffix of its own:

  cold          a fresh llama-server without kvtier computes all of it
  slot          the same server, the prefix still in its slot (llama-server's own reuse)
  restart       llama-server restarted on the same kvtierd restores the prefix from it
  replica       another llama-server on the same kvtierd (its first restore, then its second)
  other node    a llama-server on a second kvtierd that shares the first's --shared-fs directory

and, for the restores, the restore's own rate (kvtier_llama_restored_bytes_total over
kvtier_llama_restore_microseconds_total, which include LOOKUP and GET) beside memcpy of the same
number of bytes measured in the same run (ctypes.memmove between two warm buffers). Restored
servers are fresh processes: their first restore also pays for mapping pages the first time.

usage: bench/llama_server_bench.py [--models small,wide-kv] [--tokens 2048,8192] [--runs 3]
environment: KVTIER_BINARY, LLAMA_SERVER, LLAMA_MODELS (directory of the GGUFs), LLAMA_THREADS
"""
import argparse
import ctypes
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integrations", "llama", "tests"))
import llama_server_test as harness  # noqa: E402  (Kvtierd, LlamaServer, prompt_of)

SUFFIX = 64
CHUNK = 256
# A restore from the shared tier reads every block from the shared directory first: more than
# the defaults allow for these sizes here (kvtierd's shared.read_deadline_ms 5, the servers'
# --kvtier-deadline-ms 50), so node B and its servers wait up to this (said in the output).
OTHER_NODE_DEADLINE_MS = 2000


def memcpy_gb_s(n_bytes, repeat=5):
    """The best of `repeat` memmoves of n_bytes between two buffers already written."""
    src = ctypes.create_string_buffer(b"\x01" * n_bytes, n_bytes)
    dst = ctypes.create_string_buffer(n_bytes)
    ctypes.memmove(dst, src, n_bytes)
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        ctypes.memmove(dst, src, n_bytes)
        best = min(best, time.perf_counter() - t)
    return n_bytes / best / 1e9


class Bench:
    def __init__(self, workdir, model, threads):
        self.workdir = workdir
        self.model = model
        self.threads = threads
        self.servers = []
        self.daemons = []

    def server(self, name, kvtier=None, extra=()):
        s = harness.LlamaServer(self.workdir, name, kvtier=kvtier, model=self.model,
                                extra=["-c", "16384", "-t", str(self.threads), "-b", "2048", "-ub", "512"] + list(extra))
        self.servers.append(s)
        return s

    def stop(self, s):
        s.stop()
        self.servers.remove(s)

    def kvtierd(self, name, extra=()):
        d = harness.Kvtierd(self.workdir, name, ["--dram-bytes", "2GiB", "--nvme-bytes", "1GiB"] + list(extra))
        self.daemons.append(d)
        return d

    def close(self):
        for s in self.servers:
            s.stop()
        for d in self.daemons:
            d.stop()


def ttft_ms(server, prompt):
    t = time.perf_counter()
    r = server.complete(prompt, n_predict=1)
    return (time.perf_counter() - t) * 1e3, r


def restore_rate(before, after):
    moved = after["kvtier_llama_restored_bytes_total"] - before.get("kvtier_llama_restored_bytes_total", 0)
    us = after["kvtier_llama_restore_microseconds_total"] - before.get("kvtier_llama_restore_microseconds_total", 0)
    return moved, (moved / (us / 1e6) / 1e9 if us > 0 else 0.0)


def run_one(model_path, tokens, runs, threads):
    workdir = tempfile.mkdtemp(prefix="kvtier-llama-server-bench-")
    b = Bench(workdir, model_path, threads)
    rows, rates = {}, {}
    try:
        # Prefix P for the cold/slot/restart/replica rows, prefix Q for a replica's second restore,
        # each with suffixes of their own.
        p = harness.prompt_of(1000 + tokens, tokens)
        q = harness.prompt_of(3000 + tokens, tokens)
        suffixes = iter(harness.prompt_of(2000 + i, SUFFIX) for i in range(1000))
        cached = (tokens + SUFFIX - 1) // CHUNK * CHUNK

        cold = b.server("cold")
        rows["cold"] = [ttft_ms(cold, p + next(suffixes))[0]]
        rows["slot"] = [ttft_ms(cold, p + next(suffixes))[0] for _ in range(runs)]
        b.stop(cold)

        shared = os.path.join(workdir, "shared")
        os.makedirs(shared, mode=0o700)
        # kvtierd waits 5 ms for the shared tier by default (a GPU never waits on it); node B
        # reads whole prefixes from it here, so it may take what the servers' deadline allows.
        config = os.path.join(workdir, "node-b.toml")
        with open(config, "w") as f:
            f.write("[shared]\nread_deadline_ms = %d\n" % OTHER_NODE_DEADLINE_MS)
        node_a = b.kvtierd("node-a", ["--shared-fs", shared])
        node_b = b.kvtierd("node-b", ["--shared-fs", shared, "--config", config])
        fill = b.server("fill", kvtier=node_a.address)
        for prefix in (p, q):
            fill.complete(prefix + next(suffixes), n_predict=1)
        harness.wait_stored(fill, 2 * cached // CHUNK, timeout_s=300)
        b.stop(fill)
        # node A's outbox uploads the chunks to the shared directory in the background
        deadline = time.monotonic() + 300
        while node_a.metric("kvtier_shared_uploads_total") < 2 * cached // CHUNK:
            if time.monotonic() > deadline:
                raise RuntimeError("node A never uploaded the prefixes")
            time.sleep(0.1)

        def timed(label, server, prefix):
            before = server.metrics()
            ms, r = ttft_ms(server, prefix + next(suffixes))
            if r["timings"]["cache_n"] != cached:  # a recompute is not a restore time: no number
                raise RuntimeError("%s: cache_n %d, not %d: %s" % (label, r["timings"]["cache_n"], cached, " | ".join(
                    l for l in server.log().splitlines() if l.startswith("kvtier"))[-300:]))
            rows.setdefault(label, []).append(ms)
            rates.setdefault(label, []).append(restore_rate(before, server.metrics()))

        for _ in range(runs):
            s = b.server("restart", kvtier=node_a.address)
            timed("restart", s, p)
            b.stop(s)
        for _ in range(runs):
            s = b.server("replica", kvtier=node_a.address)
            timed("replica", s, p)
            timed("replica, 2nd", s, q)  # the same process's next restore: its pages mapped
            b.stop(s)  # one llama-server at a time: the timings are not shared with another
        # Node B reads the prefix from the shared directory once (and keeps it): the first run.
        for _ in range(runs):
            s = b.server("other-node", kvtier=node_b.address, extra=["--kvtier-deadline-ms", str(OTHER_NODE_DEADLINE_MS)])
            timed("other node", s, p)
            b.stop(s)
        return rows, rates, cached
    finally:
        b.close()
        shutil.rmtree(workdir, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="small,wide-kv")
    ap.add_argument("--tokens", default="2048,8192")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    threads = int(os.environ.get("LLAMA_THREADS", "1"))
    models_dir = os.environ.get("LLAMA_MODELS", "build-llama/models")
    print("== llama-server TTFT over HTTP, %s; %d cores, load %s, %d llama.cpp thread(s), %d runs" % (
        time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), os.cpu_count(),
        " ".join(open("/proc/loadavg").read().split()[:3]), threads, args.runs))
    for model in args.models.split(","):
        for tokens in (int(t) for t in args.tokens.split(",")):
            rows, rates, cached = run_one(os.path.join(models_dir, model + ".gguf"), tokens, args.runs, threads)
            slot = statistics.median(rows["slot"])
            print("-- %s, %d-token prefix + %d (restored %d tokens)" % (model, tokens, SUFFIX, cached))
            for label in ("cold", "slot", "restart", "replica", "replica, 2nd", "other node"):
                med = statistics.median(rows[label])
                line = "   %-12s ttft median %9.1f ms  %5.2fx slot  (%s)" % (
                    label, med, med / slot, ", ".join("%.1f" % t for t in rows[label]))
                if label in rates:
                    moved = max(r[0] for r in rates[label])
                    gb_s = statistics.median(r[1] for r in rates[label])
                    line += "  restore %.1f MiB at %.2f GB/s, memcpy %.2f GB/s" % (
                        moved / 2**20, gb_s, memcpy_gb_s(int(moved)) if moved else 0.0)
                print(line, flush=True)
            print("   (other node: shared.read_deadline_ms and --kvtier-deadline-ms %d; its first run reads the shared"
                  " directory, the next ones node B's copy)" % OTHER_NODE_DEADLINE_MS)


if __name__ == "__main__":
    main()
