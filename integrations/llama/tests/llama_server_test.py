#!/usr/bin/python3
"""llama-server with kvtier as its prompt cache (issue 28), tested through HTTP against real
processes: kvtierd (the kvtier build's `kvtier serve`) and llama-server built by
scripts/build-llama-server.sh, on a random-weight test model (scripts/make-tiny-llama-gguf.py).

Prompts are token ids (the model's text is nonsense); generation is greedy (temperature 0, fixed
seed). "Identical" compares runs of the same server configuration (slots, batch size).

usage: llama_server_test.py  (environment: KVTIER_BINARY, LLAMA_SERVER, KVTIER_LLAMA_MODEL)
"""
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

KVTIER = os.environ.get("KVTIER_BINARY", "build/kvtier")
LLAMA_SERVER = os.environ.get("LLAMA_SERVER", "build-llama/server/bin/llama-server")
MODEL = os.environ.get("KVTIER_LLAMA_MODEL", "build-llama/models/tiny.gguf")
CHUNK = 256
START_TIMEOUT_S = 60
REQUEST_TIMEOUT_S = 120


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prompt_of(seed, n):
    """n token ids, seeded; ids from a range of plain tokens of the Llama-3 vocabulary."""
    rng = random.Random(seed)
    return [rng.randrange(1000, 30000) for _ in range(n)]


class Kvtierd:
    """kvtierd on a fresh data directory, its Unix socket in the directory."""

    def __init__(self, workdir, name="kvtierd", extra=()):
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o700)  # kvtierd refuses a data directory others can reach
        self.log = open(os.path.join(self.dir, "kvtierd.log"), "ab")
        # 256 MiB of NVMe rather than the default 4 GiB file: plenty for these prompts, and a
        # test directory kept after a failure does not fill the disk.
        self.extra = list(extra) if "--nvme-bytes" in extra else ["--nvme-bytes", "256MiB"] + list(extra)
        self.proc = None
        self.start()

    def start(self):
        ready = os.path.join(self.dir, "kvtierd.ready")
        if os.path.exists(ready):
            os.unlink(ready)
        self.proc = subprocess.Popen(
            [KVTIER, "serve", "--data-dir", self.dir, "--log-level", "warn",
             "--tcp-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"] + self.extra,
            stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if os.path.exists(ready):
                with open(ready) as f:
                    fields = dict(line.split("=", 1) for line in f.read().split() if "=" in line)
                if "unix" in fields:
                    self.address = "unix:" + fields["unix"]
                    return
            if self.proc.poll() is not None:
                raise RuntimeError("kvtierd exited: " + open(self.log.name).read()[-2000:])
            time.sleep(0.05)
        raise RuntimeError("kvtierd did not become ready")

    def metric(self, name):
        """A metric of kvtierd's /metrics (summed over its label sets)."""
        with open(os.path.join(self.dir, "kvtierd.ready")) as f:
            fields = dict(line.split("=", 1) for line in f.read().split() if "=" in line)
        with urllib.request.urlopen("http://%s/metrics" % fields["metrics"], timeout=10) as r:
            text = r.read().decode()
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def freeze(self):
        """SIGSTOP, then wait (up to 10 s) until every thread is stopped. The signal is delivered
        asynchronously: until the thread that takes it stops the others, a thread of kvtierd can
        still answer a request (CI once saw a restore succeed after send_signal returned)."""
        self.proc.send_signal(signal.SIGSTOP)
        tasks = "/proc/%d/task" % self.proc.pid
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            states = []
            for t in os.listdir(tasks):
                try:
                    with open(os.path.join(tasks, t, "stat")) as f:
                        stat = f.read()
                except FileNotFoundError:
                    continue  # the thread ended
                states.append(stat[stat.rfind(")") + 2])  # "pid (comm) S ...": the state
            if states and all(state == "T" for state in states):
                return
            time.sleep(0.001)
        raise AssertionError("kvtierd did not stop within 10 s of SIGSTOP")

    def thaw(self):
        self.proc.send_signal(signal.SIGCONT)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            self.proc.wait(timeout=60)
        self.log.close()


class LlamaServer:
    """llama-server on 127.0.0.1, with kvtier when `kvtier` (kvtierd's address) is given.

    Batches of CHUNK tokens: a restored prefix ends on a chunk boundary, so the rest of the prompt
    is computed in the batch shapes a cold server uses, and its K/V and logits are the same bits
    (docs/INTEGRATIONS.md, "Why the logits are bit-exact")."""

    def __init__(self, workdir, name, kvtier=None, slots=1, extra=(), model=None):
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log_path = os.path.join(workdir, name + ".log")
        args = [LLAMA_SERVER, "-m", model or MODEL, "--host", "127.0.0.1", "--port", str(self.port),
                "-c", str(4096 * slots), "-np", str(slots), "-t", "2", "-b", str(CHUNK), "-ub", str(CHUNK),
                "--metrics", "--cache-ram", "0", "--no-warmup"] + list(extra)
        if kvtier:
            args += ["--kvtier", kvtier, "--kvtier-chunk", str(CHUNK)]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=log)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("llama-server exited: " + self.log()[-3000:])
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError("llama-server did not become ready: " + self.log()[-3000:])

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def complete(self, prompt, n_predict=8):
        body = json.dumps({"prompt": prompt, "n_predict": n_predict, "temperature": 0, "seed": 1,
                           "cache_prompt": True, "return_tokens": True}).encode()
        req = urllib.request.Request(self.url + "/completion", data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=REQUEST_TIMEOUT_S) as r:
            return json.loads(r.read())

    def post(self, path, body):
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=REQUEST_TIMEOUT_S) as r:
            return json.loads(r.read())

    def metrics(self):
        with urllib.request.urlopen(self.url + "/metrics", timeout=10) as r:
            text = r.read().decode()
        values = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                values[name] = float(value)
        return values

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


class LlamaServerOnKvtier(unittest.TestCase):
    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="kvtier-llama-server-")
        self.servers = []
        self.daemons = []

    def tearDown(self):
        for s in self.servers:
            s.stop()
        for d in self.daemons:
            d.stop()
        if not self._outcome_failed():
            shutil.rmtree(self.workdir, ignore_errors=True)
        else:
            print("kept", self.workdir)

    def _outcome_failed(self):
        result = getattr(self._outcome, "result", None)
        return bool(result and (result.failures or result.errors))

    def server(self, name, **kw):
        s = LlamaServer(self.workdir, name, **kw)
        self.servers.append(s)
        return s

    def kvtierd(self, name="kvtierd", extra=()):
        d = Kvtierd(self.workdir, name, extra)
        self.daemons.append(d)
        return d

    def cold_tokens(self, prompt):
        """What a server without kvtier answers."""
        cold = self.server("cold")
        tokens = cold.complete(prompt)["tokens"]
        cold.stop()
        self.servers.remove(cold)
        return tokens

    def test_a_restarted_server_starts_from_the_prefix_it_computed(self):
        prompt = prompt_of(1, 1401)
        want = self.cold_tokens(prompt)
        d = self.kvtierd()
        first = self.server("first", kvtier=d.address)
        r1 = first.complete(prompt)
        self.assertEqual(r1["timings"]["prompt_n"], 1401)
        self.assertEqual(r1["tokens"], want)
        self.assertEqual(first.stop(), 0)
        self.servers.remove(first)
        # The chunks were stored off the request's path: wait until kvtierd holds them.
        second = self.server("second", kvtier=d.address)
        r2 = second.complete(prompt)
        restored = (1400 // CHUNK) * CHUNK
        self.assertEqual(r2["timings"]["cache_n"], restored, second.log()[-3000:])
        self.assertEqual(r2["timings"]["prompt_n"], 1401 - restored)
        self.assertEqual(r2["tokens"], want)
        print("\n  first: prompt_n %d; after the restart: cache_n %d, prompt_n %d, tokens %s" % (
            r1["timings"]["prompt_n"], r2["timings"]["cache_n"], r2["timings"]["prompt_n"], r2["tokens"]))
        m = second.metrics()
        self.assertEqual(m.get("kvtier_llama_restored_tokens_total"), restored)
        self.assertEqual(m.get("kvtier_llama_restore_fallbacks_total"), 0)

    def test_a_replica_answers_with_only_the_tail_prefilled(self):
        prompt = prompt_of(2, 1100)
        want = self.cold_tokens(prompt)
        d = self.kvtierd()
        a = self.server("replica-a", kvtier=d.address)
        b = self.server("replica-b", kvtier=d.address)
        self.assertEqual(a.complete(prompt)["tokens"], want)
        restored = (1099 // CHUNK) * CHUNK
        wait_stored(a, restored // CHUNK)  # off A's request path: B's could come first
        r = b.complete(prompt)
        self.assertEqual(r["timings"]["cache_n"], restored)
        self.assertEqual(r["timings"]["prompt_n"], 1100 - restored)
        self.assertEqual(r["tokens"], want)

    def test_kvtierd_absent_frozen_or_back_never_fails_a_request(self):
        prompt = prompt_of(3, 900)
        want = self.cold_tokens(prompt)
        # Absent: nothing listens at the address.
        absent = self.server("absent", kvtier="unix:" + os.path.join(self.workdir, "nobody.sock"))
        r = absent.complete(prompt)
        self.assertEqual(r["tokens"], want)
        self.assertEqual(r["timings"]["prompt_n"], 900)
        self.assertIn("cannot reach", absent.log())
        absent.stop()
        self.servers.remove(absent)

        d = self.kvtierd()
        s = self.server("frozen", kvtier=d.address)
        other = prompt_of(4, 900)
        want_other = self.cold_tokens(other)
        # Both stored in kvtierd; the slot holds `other`, so `prompt` needs kvtierd.
        self.assertEqual(s.complete(prompt)["tokens"], want)
        self.assertEqual(s.complete(other)["tokens"], want_other)
        wait_stored(s, 2 * (899 // CHUNK))
        before = s.metrics()
        d.freeze()
        try:
            r = s.complete(prompt)
            self.assertEqual(r["tokens"], want)
            self.assertEqual(r["timings"]["prompt_n"], 900)  # recomputed: kvtierd did not answer
            r = s.complete(other)  # within the reconnect interval: not even a connection attempt
            self.assertEqual(r["tokens"], want_other)
        finally:
            d.thaw()
        after = s.metrics()
        waited_ms = (after["kvtier_llama_restore_microseconds_total"] -
                     before["kvtier_llama_restore_microseconds_total"]) / 1000
        print("\n  two requests with kvtierd frozen waited %.1f ms for it in all" % waited_ms)
        # The deadline is 50 ms per call: a LOOKUP, then (a second later) a connect and a HELLO.
        self.assertLess(waited_ms, 3 * 50 + 100)
        self.assertGreaterEqual(after["kvtier_llama_disconnects_total"], 1)
        # Back: after the reconnect interval, a prompt the slot does not hold is restored again.
        time.sleep(1.2)
        r = s.complete(prompt)
        self.assertEqual(r["tokens"], want)
        self.assertEqual(r["timings"]["cache_n"], (899 // CHUNK) * CHUNK, s.log()[-2000:])

    def test_a_server_on_another_node_restores_through_the_shared_tier(self):
        prompt = prompt_of(6, 1000)
        want = self.cold_tokens(prompt)
        shared = os.path.join(self.workdir, "shared")
        os.makedirs(shared, mode=0o700)
        node_a = self.kvtierd("node-a", extra=["--shared-fs", shared])
        node_b = self.kvtierd("node-b", extra=["--shared-fs", shared])
        a = self.server("on-node-a", kvtier=node_a.address)
        self.assertEqual(a.complete(prompt)["tokens"], want)
        chunks = 999 // CHUNK
        wait_stored(a, chunks)
        deadline = time.monotonic() + 30
        while node_a.metric("kvtier_shared_uploads_total") < chunks:
            self.assertLess(time.monotonic(), deadline, "node A never uploaded the chunks")
            time.sleep(0.1)
        b = self.server("on-node-b", kvtier=node_b.address)
        r = b.complete(prompt)
        self.assertEqual(r["timings"]["cache_n"], chunks * CHUNK, b.log()[-2000:])
        self.assertEqual(r["tokens"], want)
        # A second prompt computed on node A, its blocks damaged in the shared directory (a byte
        # flipped in every block file): node B recomputes it, with the same tokens.
        uploaded = node_a.metric("kvtier_shared_uploads_total")
        second = prompt_of(9, 1000)
        want_second = self.cold_tokens(second)
        self.assertEqual(a.complete(second)["tokens"], want_second)
        deadline = time.monotonic() + 30
        while node_a.metric("kvtier_shared_uploads_total") < uploaded + chunks:
            self.assertLess(time.monotonic(), deadline, "node A never uploaded the second prompt")
            time.sleep(0.1)
        flipped = 0
        for root, _, files in os.walk(shared):
            for name in files:
                path = os.path.join(root, name)
                size = os.path.getsize(path)
                if size > 4096:
                    with open(path, "r+b") as f:
                        f.seek(size // 2)
                        byte = f.read(1)
                        f.seek(size // 2)
                        f.write(bytes([byte[0] ^ 0x01]))
                    flipped += 1
        self.assertGreaterEqual(flipped, 2 * chunks)
        r = b.complete(second)
        self.assertEqual(r["tokens"], want_second)
        self.assertEqual(r["timings"]["cache_n"], 0)
        self.assertGreater(node_b.metric("kvtier_shared_fs_corrupt_blocks_total"), 0)

    def test_kvtierd_killed_or_serving_damaged_blocks_never_fails_a_request(self):
        prompt, other = prompt_of(7, 900), prompt_of(8, 900)
        want, want_other = self.cold_tokens(prompt), self.cold_tokens(other)
        chunks = 899 // CHUNK
        # 128 KiB of DRAM, in shards smaller than a chunk (~128 KiB with the tiny model): the
        # chunks go straight to NVMe, written within the flush interval (1 s).
        d = self.kvtierd(extra=["--dram-bytes", "128KiB", "--nvme-bytes", "256MiB"])
        s = self.server("server", kvtier=d.address)
        self.assertEqual(s.complete(prompt)["tokens"], want)
        self.assertEqual(s.complete(other)["tokens"], want_other)  # the slot now holds `other`
        wait_stored(s, 2 * chunks)
        time.sleep(1.5)
        # Killed: answered all the same (the slot holds `other`, so `prompt` needs kvtierd).
        d.proc.kill()
        d.proc.wait()
        r = s.complete(prompt)
        self.assertEqual(r["tokens"], want)
        self.assertEqual(r["timings"]["prompt_n"], 900)
        # Restarted on its data directory: the chunks come back from NVMe.
        d.start()
        time.sleep(1.2)  # the reconnect interval
        r = s.complete(other)
        self.assertEqual(r["tokens"], want_other)
        self.assertEqual(r["timings"]["cache_n"], chunks * CHUNK, s.log()[-2000:])
        # Killed again, a byte flipped in every value page of the NVMe file, restarted: damaged
        # chunks are misses, recomputed, and the tokens stay those of a cold server.
        d.proc.kill()
        d.proc.wait()
        flip_every_value_page(os.path.join(d.dir, "nvme", "kvtier-nvme.dat"))
        d.start()
        time.sleep(1.2)
        # (Undamaged, `prompt`'s chunks would be restored as `other`'s were above: they were stored
        # before the first kill.)
        r = s.complete(prompt)
        self.assertEqual(r["tokens"], want)
        self.assertEqual(r["timings"]["cache_n"], 0)

    def test_four_slots_and_eight_clients_get_a_cold_servers_tokens(self):
        """-np 4, eight clients at once (starts staggered by a seeded 0-0.4 s), prompts that share a
        600-token prefix and prompts that do not, three rounds: every request answered with the
        tokens the same -np 4 server without kvtier gives each prompt alone, restores from kvtierd
        along the way, none failing, a clean shutdown.

        Flash attention is off on both servers: with it on, llama.cpp's CPU kernel computes a
        ubatch of one query row in KV chunks per thread (ggml_compute_forward_flash_attn_ext's
        split-KV path) and larger ones otherwise, so a slot's generated tokens depend on which
        other slots share its ubatch, with or without kvtier (docs/INTEGRATIONS.md)."""
        shared = prompt_of(5, 600)
        prompts = [shared + prompt_of(100 + i, 300) if i % 2 == 0 else prompt_of(200 + i, 700)
                   for i in range(8)]
        no_fa = ("-fa", "off")
        cold = self.server("np4-cold", slots=4, extra=no_fa)
        want = [cold.complete(p)["tokens"] for p in prompts]
        cold.stop()
        self.servers.remove(cold)

        d = self.kvtierd()
        s = self.server("np4", kvtier=d.address, slots=4, extra=no_fa)
        rng = random.Random(28)
        for round_no in range(3):
            delays = [rng.uniform(0, 0.4) for _ in prompts]
            answers = run_concurrently(s, prompts, delays)
            for i, r in enumerate(answers):
                self.assertEqual(r["tokens"], want[i], "round %d, prompt %d" % (round_no, i))
            wait_stored(s, 1)
        m = s.metrics()
        self.assertGreater(m.get("kvtier_llama_restored_tokens_total", 0), 0)
        self.assertEqual(m.get("kvtier_llama_restore_fallbacks_total"), 0)
        self.assertEqual(s.stop(), 0)
        self.servers.remove(s)


    def test_embeddings_and_other_rope_settings_never_use_stored_kv(self):
        """Chunks a completion server stored are not restored into an embedding request (mean
        pooling needs every token computed) nor into a server whose RoPE settings differ (its KV
        differs): both answer what a server without kvtier answers."""
        prompt = prompt_of(11, 1100)
        d = self.kvtierd()
        a = self.server("completions", kvtier=d.address)
        a.complete(prompt)
        wait_stored(a, 1099 // CHUNK)

        emb = ("--embeddings", "--pooling", "mean", "-b", "2048", "-ub", "2048")
        cold = self.server("embeddings-cold", extra=emb)
        want = cold.post("/embedding", {"content": prompt})
        cold.stop()
        self.servers.remove(cold)
        e = self.server("embeddings", kvtier=d.address, extra=emb)
        self.assertEqual(e.post("/embedding", {"content": prompt}), want)
        self.assertEqual(e.metrics()["kvtier_llama_restored_tokens_total"], 0)  # attached, not used

        rope = ("--rope-freq-base", "1000")
        cold = self.server("rope-cold", extra=rope)
        want_tokens = cold.complete(prompt)["tokens"]
        cold.stop()
        self.servers.remove(cold)
        r = self.server("rope", kvtier=d.address, extra=rope)
        got = r.complete(prompt)
        self.assertEqual(got["timings"]["cache_n"], 0)
        self.assertEqual(got["tokens"], want_tokens)
        self.assertIn("rope_freq_base=1000", r.log())

    def test_a_slot_stores_the_prefix_it_computed_while_kvtierd_was_frozen(self):
        """A prompt computed while kvtierd was frozen is not stored; when the slot's next prompt
        extends it, its chunks are stored from the first, so a new server restores them all."""
        p = prompt_of(8, 800)
        q = p + prompt_of(9, 100)  # no more full chunks than the slot holds: no LOOKUP for it
        want = self.cold_tokens(q)
        d = self.kvtierd()
        s = self.server("slot", kvtier=d.address)
        d.freeze()
        try:
            s.complete(p)
            deadline = time.monotonic() + 30
            while s.metrics().get("kvtier_llama_store_failures_total", 0) < 1:
                self.assertLess(time.monotonic(), deadline, "the store never failed")
                time.sleep(0.05)
        finally:
            d.thaw()
        time.sleep(1.2)  # the reconnect interval
        r = s.complete(q)
        self.assertGreaterEqual(r["timings"]["cache_n"], 799, "the slot's own prefix")
        wait_stored(s, 899 // CHUNK)
        fresh = self.server("fresh", kvtier=d.address)
        r = fresh.complete(q)
        self.assertEqual(r["timings"]["cache_n"], (899 // CHUNK) * CHUNK, fresh.log()[-2000:])
        self.assertEqual(r["tokens"], want)

    def test_router_mode_with_kvtier_is_refused(self):
        """Without a model llama-server routes to one process per model, which would not get
        --kvtier: it refuses to start rather than run without kvtier unsaid."""
        out = subprocess.run([LLAMA_SERVER, "--kvtier", "unix:/nonexistent.sock", "--port", str(free_port())],
                             capture_output=True, timeout=60)
        self.assertEqual(out.returncode, 1)
        self.assertIn(b"--kvtier needs a model", out.stderr)


    def test_kvtierd_closing_idle_connections_costs_no_restore(self):
        """kvtierd closes connections idle for 500 ms ([server] idle_timeout_ms): the next restore
        and the next store connect again at once, so the prompt is still restored and stored."""
        config = os.path.join(self.workdir, "idle.toml")
        with open(config, "w") as f:
            f.write("[server]\nidle_timeout_ms = 500\n")
        d = self.kvtierd(extra=["--config", config])
        p, o, q = prompt_of(12, 900), prompt_of(13, 900), prompt_of(14, 900)
        want = self.cold_tokens(p)
        s = self.server("idle", kvtier=d.address)
        self.assertEqual(s.complete(p)["tokens"], want)
        s.complete(o)  # the slot now holds o: p needs kvtierd
        chunks = 899 // CHUNK
        wait_stored(s, 2 * chunks)
        time.sleep(1.5)  # both connections idle past the timeout
        r = s.complete(p)
        self.assertEqual(r["timings"]["cache_n"], chunks * CHUNK, s.log()[-2000:])
        self.assertEqual(r["tokens"], want)
        time.sleep(1.5)
        s.complete(q)
        wait_stored(s, 3 * chunks)
        self.assertGreaterEqual(d.metric("kvtier_connections_timed_out_total"), 2)
        self.assertEqual(s.metrics().get("kvtier_llama_store_failures_total", 0), 0)

    def test_a_block_damaged_in_kvtierds_memory_is_refused_and_replaced(self):
        """A byte of a chunk flipped in kvtierd's DRAM (written through /proc/PID/mem: what a bad
        DIMM or a stray write does) fails the chunk's checksum: the chunk before it is restored,
        the rest recomputed with the same tokens, and the slot stores the recomputed chunk over
        the damaged one, so a new server restores the whole prefix again."""
        prompt = prompt_of(15, 1100)
        want = self.cold_tokens(prompt)
        d = self.kvtierd(extra=["--dram-bytes", "64MiB"])
        a = self.server("writer", kvtier=d.address)
        self.assertEqual(a.complete(prompt)["tokens"], want)
        chunks = 1099 // CHUNK
        wait_stored(a, chunks)
        a.stop()
        self.servers.remove(a)
        self.assertGreaterEqual(flip_chunk_payload_in_memory(d.proc.pid, index=1), 1)

        b = self.server("reader", kvtier=d.address)
        r = b.complete(prompt)
        self.assertEqual(r["timings"]["cache_n"], CHUNK, b.log()[-2000:])  # chunk 0 only
        self.assertEqual(r["tokens"], want)
        self.assertEqual(b.metrics().get("kvtier_llama_restore_fallbacks_total"), 1)
        self.assertIn("checksum", b.log())
        wait_stored(b, chunks - 1)  # chunks 1.. again, over the damaged one
        c = self.server("after", kvtier=d.address)
        r = c.complete(prompt)
        self.assertEqual(r["timings"]["cache_n"], chunks * CHUNK, c.log()[-2000:])
        self.assertEqual(r["tokens"], want)


    def test_a_prefix_cache_ram_holds_is_not_fetched_from_kvtierd(self):
        """With llama-server's own host-memory prompt cache (--cache-ram), a prompt it kept is
        loaded from there: kvtier restores nothing for it (no LOOKUP is even needed)."""
        p, o = prompt_of(16, 900), prompt_of(17, 900)
        want = self.cold_tokens(p)
        d = self.kvtierd()
        s = self.server("cache-ram", kvtier=d.address, extra=("--cache-ram", "256"))
        self.assertEqual(s.complete(p)["tokens"], want)
        s.complete(o)  # p moves from the slot to --cache-ram
        wait_stored(s, 2 * (899 // CHUNK))
        before = s.metrics()
        r = s.complete(p)
        self.assertEqual(r["tokens"], want)
        self.assertGreaterEqual(r["timings"]["cache_n"], 899 // CHUNK * CHUNK, s.log()[-2000:])
        after = s.metrics()
        self.assertEqual(after.get("kvtier_llama_restored_tokens_total"), before.get("kvtier_llama_restored_tokens_total"))


    def test_a_shifted_slot_stores_again_once_its_next_prompt_is_computed_cold(self):
        """--cache-reuse moves a prompt's cells (their KV is then not a cold prefill's): nothing of
        that prompt is stored; the slot's next prompt, which keeps only tokens before the moved
        cells, is stored again, and a new server restores it with a cold server's tokens."""
        s16, b, a, c = prompt_of(28, 16), prompt_of(40, 100), prompt_of(30, 700), prompt_of(70, 800)
        d = self.kvtierd()
        srv = self.server("reuse", kvtier=d.address, extra=("--cache-reuse", "64"))
        srv.complete(s16 + b + a)
        wait_stored(srv, 816 // CHUNK)
        r = srv.complete(s16 + a)  # a's cells move back by 100 positions
        self.assertGreater(r["timings"]["cache_n"], 16 + 64, "llama-server reused a's cells")
        time.sleep(0.5)
        self.assertEqual(srv.metrics()["kvtier_llama_stored_chunks_total"], 816 // CHUNK, "the shifted prompt is not stored")
        srv.complete(s16 + c)  # keeps only the 16 tokens before the moved cells
        wait_stored(srv, 816 // CHUNK * 2)
        want = self.cold_tokens(s16 + c)
        fresh = self.server("fresh", kvtier=d.address)
        r = fresh.complete(s16 + c)
        self.assertEqual(r["timings"]["cache_n"], 815 // CHUNK * CHUNK, fresh.log()[-2000:])
        self.assertEqual(r["tokens"], want)


def flip_chunk_payload_in_memory(pid, index):
    """Flips one payload byte of every copy of a llama.cpp chunk block with this chunk `index` in
    the writable memory of process `pid` (kvtierd's DRAM tier); returns how many it flipped. A
    block starts with its ChunkHeader (integrations/llama/seq_state.cpp): magic "KVTLLAMA",
    version, chunk tokens, layers, ..., index at byte 40; 64 bytes, then 32 per layer."""
    flipped = 0
    with open("/proc/%d/maps" % pid) as maps, open("/proc/%d/mem" % pid, "r+b", buffering=0) as mem:
        for line in maps:
            fields = line.split()
            if "rw" not in fields[1] or (len(fields) > 5 and fields[5].startswith("/")):
                continue  # writable anonymous memory only
            begin, end = (int(x, 16) for x in fields[0].split("-"))
            for at in range(begin, end, 1 << 20):
                try:
                    mem.seek(at)
                    page = mem.read(min(1 << 20, end - at))
                except (OSError, OverflowError):
                    continue  # not readable (guard pages, [vsyscall])
                found = page.find(b"KVTLLAMA")
                while found != -1 and found + 64 <= len(page):
                    version, _, layers = struct.unpack_from("<III", page, found + 8)
                    chunk = struct.unpack_from("<I", page, found + 40)[0]
                    target = found + 64 + 32 * layers + 100
                    if version == 2 and chunk == index and target < len(page):
                        mem.seek(at + target)
                        mem.write(bytes([page[target] ^ 0x01]))
                        flipped += 1
                    found = page.find(b"KVTLLAMA", found + 8)
    return flipped


def flip_every_value_page(path):
    """Flips one byte in every 4 KiB page of an NVMe data file that is neither zeros nor an entry
    header (kvtier's entry headers start with their magic; docs/NVME_FORMAT.md): every stored
    value is damaged somewhere. Holes (never written) are skipped."""
    zeros = bytes(4096)
    with open(path, "r+b") as f:
        size = os.fstat(f.fileno()).st_size
        off = 4096
        while off < size:
            try:
                off = os.lseek(f.fileno(), off, os.SEEK_DATA)
            except OSError:
                break  # only a hole is left
            f.seek(off)
            page = f.read(4096)
            if page != zeros and page[:4] not in (b"KVTE", b"KVTS"):
                f.seek(off + 100)
                f.write(bytes([page[100] ^ 0x01]))
            off += 4096


def wait_stored(server, chunks, timeout_s=30):
    """Until the server has stored at least `chunks` chunks (stores run off the request's path)."""
    deadline = time.monotonic() + timeout_s
    while server.metrics().get("kvtier_llama_stored_chunks_total", 0) < chunks:
        if time.monotonic() > deadline:
            raise AssertionError("the server never stored %d chunks" % chunks)
        time.sleep(0.05)


def run_concurrently(server, prompts, delays=None):
    """Every prompt from its own client thread at once (each after its delay in seconds)."""
    import concurrent.futures
    delays = delays or [0] * len(prompts)

    def ask(i):
        time.sleep(delays[i])
        return server.complete(prompts[i])

    with concurrent.futures.ThreadPoolExecutor(max_workers=len(prompts)) as pool:
        return list(pool.map(ask, range(len(prompts))))


if __name__ == "__main__":
    unittest.main(verbosity=2)
