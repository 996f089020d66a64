"""The shared-memory path against a real `kvtier serve`: a region registered over the Unix socket,
viewed by numpy without a copy, values moved by put_many_shm / get_many_shm with no value byte on
the socket, and the region's lifetime."""

import numpy as np
import pytest

import kvtier

SLOT = 64 * 1024  # 4 KiB-aligned slots: NVMe reads land in the region with O_DIRECT


def keys(tag, n):
    layout = kvtier.ModelLayout(model_id="test/model@python", kv_dtype="bf16", num_layers=2,
                                num_kv_heads=2, head_dim=64, chunk_tokens=16, extra="shm-" + tag)
    return kvtier.chunk_keys(layout, range(16 * n))


@pytest.fixture
def client(daemon):
    with kvtier.Client(daemon.address) as c:
        yield c


def test_region_is_a_writable_numpy_view(client):
    region = client.register_shared_memory(10_000)
    assert region.size == 12_288 and len(region) == region.size  # rounded up to 4 KiB
    view = np.frombuffer(region, dtype=np.uint8)
    assert view.flags.writeable and view.size == region.size
    view[:4] = [1, 2, 3, 4]
    mv = region.memory
    assert isinstance(mv, memoryview) and not mv.readonly and mv[:4].tobytes() == b"\x01\x02\x03\x04"
    mv[4] = 5
    assert view[4] == 5  # the same memory
    other = client.register_shared_memory(4096)
    assert other.id != region.id
    assert "SharedMemory(id=" in repr(region)


def test_put_many_shm_then_get_many_shm(client):
    n = 8
    region = client.register_shared_memory(n * SLOT)
    mem = np.frombuffer(region, dtype=np.uint8)
    ks = keys("roundtrip", n)
    rng = np.random.default_rng(7)
    sizes = [1000 + i * 7000 for i in range(n)]
    expected = []
    for i, size in enumerate(sizes):
        v = rng.integers(0, 256, size=size, dtype=np.uint8)
        mem[i * SLOT:i * SLOT + size] = v
        expected.append(v)
    assert client.put_many_shm(region, [(k, i * SLOT, s) for i, (k, s) in
                                        enumerate(zip(ks, sizes))]) == [None] * n
    mem[:] = 0
    got = client.get_many_shm(region, [(k, i * SLOT, SLOT) for i, k in enumerate(ks)])
    assert got == sizes
    for i, v in enumerate(expected):
        assert np.array_equal(mem[i * SLOT:i * SLOT + v.size], v)
    # The same blocks are visible to the socket path.
    out = np.zeros(SLOT, dtype=np.uint8)
    assert client.get(ks[3], out) == sizes[3] and np.array_equal(out[:sizes[3]], expected[3])


def test_get_many_shm_per_item_results(client):
    region = client.register_shared_memory(4 * SLOT)
    present, absent = keys("results", 2)
    client.put(present, np.full(5000, 9, dtype=np.uint8))
    got = client.get_many_shm(region, [(absent, 0, SLOT), (present, SLOT, 100),
                                       (present, 2 * SLOT, SLOT)])
    assert got[0] == -1  # a miss
    assert isinstance(got[1], kvtier.BufferTooSmallError) and got[1].size == 5000
    assert got[2] == 5000
    assert np.all(np.frombuffer(region, dtype=np.uint8)[2 * SLOT:2 * SLOT + 5000] == 9)
    assert client.get_many_shm(region, []) == []
    # An offset outside the region is an error (of the item or of the request), never a write.
    try:
        outside = client.get_many_shm(region, [(present, 4 * SLOT - 100, SLOT)])
    except kvtier.Error:
        pass
    else:
        assert isinstance(outside[0], kvtier.Error), outside


def test_a_region_belongs_to_its_client(daemon, client):
    region = client.register_shared_memory(SLOT)
    with kvtier.Client(daemon.address) as other:
        with pytest.raises(kvtier.InvalidArgumentError, match="another client"):
            other.get_many_shm(region, [(keys("owner", 1)[0], 0, SLOT)])
    with pytest.raises(TypeError):
        client.put_many_shm(region, [(keys("owner", 1)[0], 0)])  # (key, offset, size)


def test_region_memory_outlives_close(daemon):
    c = kvtier.Client(daemon.address)
    region = c.register_shared_memory(SLOT)
    view = np.frombuffer(region, dtype=np.uint8)
    del region  # the numpy view alone keeps the mapping alive
    c.close()
    view[:] = 7  # still mapped: writing must not crash
    assert int(view.sum()) == 7 * SLOT
    with pytest.raises(kvtier.ClosedError):
        c.register_shared_memory(SLOT)
