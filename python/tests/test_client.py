"""kvtier.Client against a real `kvtier serve` (daemon.py) over its Unix socket, and over TCP
with the default tenant's token: every method, zero-copy values from and into numpy arrays, the
miss convention, and the errors the daemon and the module raise."""

import signal
import threading
import time

import numpy as np
import pytest

import kvtier
from daemon import QUOTA_BYTES, QUOTA_TENANT, QUOTA_TOKEN
from test_keys import DLPackOnly, VersionedDLPack

def keys(tag, n):
    """n chained keys, in a namespace of their own: `tag` goes into the layout's extra, so no two
    tests (or threads) share a key."""
    layout = kvtier.ModelLayout(model_id="test/model@python", kv_dtype="bf16", num_layers=2,
                                num_kv_heads=2, head_dim=64, chunk_tokens=16, extra=tag)
    ks = kvtier.chunk_keys(layout, range(16 * n))
    assert len(ks) == n
    return ks


def value(seed, size):
    return np.random.default_rng(seed).integers(0, 256, size=size, dtype=np.uint8)


@pytest.fixture
def client(daemon):
    with kvtier.Client(daemon.address, client_name="pytest") as c:
        yield c


def test_connect_ping_and_server_info(client):
    client.ping()
    client.ping(b"x" * 1024)
    info = client.server_info
    assert info.version == 2
    assert info.shared_memory  # the fixture's client is on the Unix socket
    assert info.tenant == "default"
    assert info.max_value_bytes == 16 << 20  # from the daemon's config file
    assert info.max_batch > 0 and info.max_data_bytes > 0
    assert "tenant='default'" in repr(info) and "default" in repr(client)


def test_put_and_get_bytes(client):
    k, = keys("bytes", 1)
    assert client.get(k) is None  # a miss is not an error
    client.put(k, b"hello kvtier")
    assert client.get(k) == b"hello kvtier"
    out = bytearray(64)
    assert client.get(k, out) == 12 and out[:12] == b"hello kvtier"


def test_numpy_zero_copy_round_trip(client):
    k1, k2 = keys("numpy", 2)
    v = value(1, 3 * 4096 + 5).reshape(-1)
    client.put(k1, v)
    out = np.zeros(64 * 1024, dtype=np.uint8)
    n = client.get(k1, out)
    assert n == v.size and np.array_equal(out[:n], v)
    # Any dtype and shape: the bytes are stored as they lie in memory.
    floats = np.arange(1024, dtype=np.float32).reshape(32, 32)
    client.put(k2, floats)
    back = np.empty_like(floats)
    assert client.get(k2, back) == floats.nbytes
    assert np.array_equal(back, floats)
    # memoryview and a slice of a bigger array (contiguous) work as out too.
    big = np.zeros(2 * floats.nbytes, dtype=np.uint8)
    assert client.get(k2, memoryview(big)[floats.nbytes:]) == floats.nbytes
    assert big[floats.nbytes:].view(np.float32).reshape(32, 32).tolist() == floats.tolist()


def test_a_value_larger_than_the_first_get_buffer(client):
    k, = keys("large", 1)
    v = value(2, 6 << 20)  # beyond get()'s first 4 MiB offer: a second, exact-size round trip
    client.put(k, v)
    got = client.get(k)
    assert isinstance(got, bytes) and len(got) == v.size and got == v.tobytes()


def test_dlpack_tensors_in_and_out(client):
    k, = keys("dlpack", 1)
    src = np.arange(2048, dtype=np.uint16).reshape(64, 32)
    client.put(k, DLPackOnly(src))
    dst = np.zeros_like(src)
    assert client.get(k, DLPackOnly(dst)) == src.nbytes
    assert np.array_equal(dst, src)


def test_dlpack_1_0_exports_in_and_out(client):
    k, = keys("dlpack-1.0", 1)
    src = value(3, 4096)
    client.put(k, VersionedDLPack(src))
    dst = np.zeros_like(src)
    assert client.get(k, VersionedDLPack(dst)) == src.nbytes
    assert np.array_equal(dst, src)


def test_read_only_or_copied_dlpack_memory_is_never_written(client):
    """Issue 24, item 9: the write flag of a DLPack export was ignored."""
    k, = keys("dlpack-read-only", 1)
    src = value(4, 4096)
    client.put(k, VersionedDLPack(src, flags=VersionedDLPack.READ_ONLY))  # reading it is fine
    dst = np.zeros_like(src)
    with pytest.raises(BufferError, match="read-only"):
        client.get(k, VersionedDLPack(dst, flags=VersionedDLPack.READ_ONLY))
    with pytest.raises(BufferError, match="copy"):
        client.get_many([(k, VersionedDLPack(dst, flags=VersionedDLPack.IS_COPIED))])
    assert not dst.any(), "nothing was written into memory exported read-only"


def test_calls_on_dlpack_memory_hold_the_gil(daemon):
    """Issue 24, item 9: a DLPack capsule keeps a tensor's storage alive but not in place (torch's
    resize_ reallocates it), so no other Python thread may run while the call uses the memory; a
    buffer-protocol exporter keeps its memory in place, and the call lets other threads run. Here
    each call waits out its timeout on a frozen daemon while another thread records when it runs."""
    k, = keys("dlpack-gil", 1)
    runs = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            runs.append(time.monotonic())
            time.sleep(0.001)

    def stopped():  # SIGSTOP takes effect asynchronously: wait for the state to say so
        with open(f"/proc/{daemon.proc.pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "T"

    def ran_during(call):
        daemon.proc.send_signal(signal.SIGSTOP)
        deadline = time.monotonic() + 5
        while not stopped() and time.monotonic() < deadline:
            time.sleep(0.001)
        start = time.monotonic()
        try:
            with pytest.raises(kvtier.Error):
                call()
        finally:
            daemon.proc.send_signal(signal.SIGCONT)
        end = time.monotonic()
        assert end - start >= 0.4, "the call did not wait for the frozen daemon"
        # Margins for the interpreter's switch interval around entering and leaving the call.
        return sum(1 for t in runs if start + 0.1 < t < end - 0.1)

    t = threading.Thread(target=ticker)
    t.start()
    try:
        dst = np.zeros(4096, dtype=np.uint8)
        with kvtier.Client(daemon.address, timeout_ms=500) as c:
            assert ran_during(lambda: c.get(k, DLPackOnly(dst))) == 0
        with kvtier.Client(daemon.address, timeout_ms=500) as c:
            assert ran_during(lambda: c.get(k, dst)) > 10
    finally:
        stop.set()
        t.join()


def test_buffer_errors_are_clear(client):
    k, = keys("buffers", 1)
    client.put(k, b"0123456789")
    with pytest.raises(BufferError, match="C-contiguous"):
        client.put(k, np.arange(100, dtype=np.uint8)[::2])
    with pytest.raises(BufferError, match="C-contiguous"):
        client.get(k, np.zeros(100, dtype=np.uint8)[::2])
    with pytest.raises(BufferError, match="writable"):
        client.get(k, bytes(100))
    ro = np.zeros(100, dtype=np.uint8)
    ro.flags.writeable = False
    with pytest.raises(BufferError, match="writable"):
        client.get(k, ro)
    with pytest.raises(TypeError, match="buffer protocol"):
        client.put(k, "a str is not bytes")
    with pytest.raises(TypeError):
        client.put(b"not a key", b"v")
    # Too small: the exception says how large the value is.
    with pytest.raises(kvtier.BufferTooSmallError) as e:
        client.get(k, bytearray(4))
    assert e.value.size == 10 and e.value.code == "buffer_too_small"


def test_lookup_counts_the_cached_prefix(client):
    chain = keys("lookup", 8)
    assert client.lookup(chain).cached == 0
    for k in chain[:5]:
        client.put(k, b"block")
    m = client.lookup(chain)
    assert m.cached == 5 and m.in_dram + m.in_nvme == 5
    assert client.lookup(chain[5:]).cached == 0
    assert client.lookup([]).cached == 0
    assert "cached=5" in repr(m)


def test_put_many_and_get_many(client):
    ks = keys("many", 6)
    vals = [value(10 + i, 1000 + 4096 * i) for i in range(5)]
    results = client.put_many(zip(ks[:5], vals))
    assert results == [None] * 5
    outs = [np.zeros(v.size, dtype=np.uint8) for v in vals] + [np.zeros(10, dtype=np.uint8)]
    got = client.get_many(zip(ks, outs))
    assert got[:5] == [v.size for v in vals]
    assert got[5] == -1  # miss
    for v, o in zip(vals, outs):
        assert np.array_equal(v, o)
    # One item too small: that item's result is the (unraised) error, the others succeed.
    got = client.get_many([(ks[0], bytearray(10)), (ks[1], outs[1])])
    assert isinstance(got[0], kvtier.BufferTooSmallError) and got[0].size == vals[0].size
    assert got[1] == vals[1].size
    assert client.put_many([]) == [] and client.get_many([]) == []
    with pytest.raises(TypeError, match=r"items\[0\]"):
        client.put_many([ks[0]])
    with pytest.raises(TypeError, match="buffer protocol"):
        client.put_many([(ks[0], 5)])


def test_remove_pin_unpin(client):
    k, absent = keys("remove", 2)
    client.put(k, b"pinned")
    assert client.pin(k, 60_000) is True
    assert client.unpin(k) is True
    assert client.pin(absent, 1000) is False  # a miss, not an exception
    assert client.remove(k) is True
    assert client.get(k) is None
    assert client.remove(k) is False
    with pytest.raises(kvtier.InvalidArgumentError):
        client.pin(absent, 10**12)  # a lease above the daemon's maximum


def test_stats_are_prometheus_text(client):
    k, = keys("stats", 1)
    client.put(k, b"counted")
    text = client.stats()
    assert isinstance(text, str)
    assert "# TYPE" in text and "dram_" in text


def test_errors_carry_the_daemon_message(daemon, client):
    k, = keys("errors", 1)
    with pytest.raises(kvtier.TooLargeError) as e:
        client.put(k, np.zeros((16 << 20) + 1, dtype=np.uint8))  # above max_value_bytes
    assert isinstance(e.value, kvtier.Error) and e.value.message
    with pytest.raises(kvtier.InvalidArgumentError) as e:
        client.put(k, b"")  # a value_len of 0
    # A tenant's quota: the daemon refuses the put with `rejected` and says why.
    with kvtier.Client(daemon.address, token=QUOTA_TOKEN) as quota:
        assert quota.server_info.tenant == QUOTA_TENANT
        ks = keys("quota", 4)
        results = quota.put_many((kk, np.zeros(QUOTA_BYTES // 2, dtype=np.uint8)) for kk in ks)
        refused = [r for r in results if r is not None]
        assert refused and all(isinstance(r, kvtier.RejectedError) for r in refused)
        assert all(r.message for r in refused)
    # Tenants are separate namespaces: the default tenant's block is not visible to another.
    mine, = keys("tenants", 1)
    client.put(mine, b"default tenant's")
    with kvtier.Client(daemon.address, token=QUOTA_TOKEN) as quota:
        assert quota.get(mine) is None and quota.lookup([mine]).cached == 0
    assert client.get(mine) == b"default tenant's"


def test_connection_errors(daemon, tmp_path):
    with pytest.raises(kvtier.IOError) as e:
        kvtier.Client(f"unix:{tmp_path}/nothing-listens.sock", timeout_ms=2000)
    assert isinstance(e.value, OSError) and e.value.code == "io_error"
    with pytest.raises(kvtier.InvalidArgumentError):
        kvtier.Client(daemon.address, token="not-a-token-of-any-tenant")
    with pytest.raises(kvtier.InvalidArgumentError):
        kvtier.Client("tcp:no-port-here")


def test_closed_client_raises_closed_error(daemon):
    c = kvtier.Client(daemon.address)
    with c:
        c.ping()
    assert c.closed
    c.close()  # idempotent
    with pytest.raises(kvtier.ClosedError):
        c.ping()
    with pytest.raises(ConnectionError):
        c.get(keys("closed", 1)[0])


def test_tcp_with_the_default_tenant_token(daemon):
    if daemon.tcp_address is None:
        pytest.fail("kvtierd.ready names no TCP address")
    k, = keys("tcp", 1)
    with kvtier.Client(daemon.tcp_address, token=daemon.auth_token()) as c:
        assert c.server_info.tenant == "default"
        assert not c.server_info.shared_memory  # no memfd over TCP
        c.put(k, b"over tcp")
        assert c.get(k) == b"over tcp"
        with pytest.raises(kvtier.InvalidArgumentError):
            c.register_shared_memory(1 << 20)  # shared memory needs the Unix socket
    with pytest.raises(kvtier.InvalidArgumentError):
        kvtier.Client(daemon.tcp_address)  # TCP requires a token


def test_threads_share_a_client_and_use_their_own(daemon):
    """Calls on one Client are serialized (the C++ client is not thread-safe); separate
    Clients run in parallel. Both must give every thread its own values back."""
    threads_n, rounds = 4, 25
    errors = []
    shared = kvtier.Client(daemon.address)

    def worker(t, own):
        try:
            with kvtier.Client(daemon.address) as mine:
                for r in range(rounds):
                    k = keys(f"thread-{t}-{r}", 1)[0]
                    v = value(t * 1000 + r, 8192 + r)
                    c = mine if own else shared
                    c.put(k, v)
                    out = np.zeros(v.size, dtype=np.uint8)
                    if c.get(k, out) != v.size or not np.array_equal(out, v):
                        errors.append((t, r))
        except Exception as e:  # reported below, with the thread's number
            errors.append((t, repr(e)))

    threads = [threading.Thread(target=worker, args=(t, t % 2 == 0)) for t in range(threads_n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert not any(th.is_alive() for th in threads)
    shared.close()
    assert errors == []


def test_durable_puts_survive_a_sigkill_of_the_daemon(tmp_path):
    """durable=True on put, put_many and put_many_shm: the values come back after the daemon is
    killed with SIGKILL and restarted on its data directory (ServerInfo.durable_put)."""
    from daemon import Daemon, kvtier_bin

    data_dir = tmp_path / "kvtierd"
    data_dir.mkdir(mode=0o700)
    d = Daemon(kvtier_bin(), data_dir)
    ks = keys("durable", 5)
    vals = [value(900 + i, 70_000 + i) for i in range(5)]
    try:
        with kvtier.Client(d.address, client_name="pytest-durable") as c:
            assert c.server_info.durable_put and "durable_put=True" in repr(c.server_info)
            c.put(ks[0], vals[0], durable=True)
            assert c.put_many([(ks[1], vals[1]), (ks[2], vals[2])], durable=True) == [None, None]
            region = c.register_shared_memory(2 * 80_000)
            view = np.frombuffer(region, dtype=np.uint8)
            view[:vals[3].size] = vals[3]
            view[80_000:80_000 + vals[4].size] = vals[4]
            items = [(ks[3], 0, vals[3].size), (ks[4], 80_000, vals[4].size)]
            assert c.put_many_shm(region, items, durable=True) == [None, None]
            del view
    finally:
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait(timeout=30)
        d.stop()
    (data_dir / "kvtierd.ready").unlink()  # the killed daemon's: wait for the new one's
    d = Daemon(kvtier_bin(), data_dir)
    try:
        with kvtier.Client(d.address, client_name="pytest-durable") as c:
            for k, v in zip(ks, vals):
                assert c.get(k) == v.tobytes()
    finally:
        assert d.stop() == 0, d.log()
