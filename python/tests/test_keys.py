"""Block keys from Python against tests/keys/vectors.json (docs/KEYS.md), the vectors the C++
tests and the independent reference (tests/keys/reference_keys.py) check, plus the Key value type
and the validation of layouts and token ids."""

import array
import ctypes
import pickle

import numpy as np
import pytest

import kvtier


def expand_tokens(spec):
    """A vector's token spec, as reference_keys.py reads it."""
    if "range" in spec:
        first, last = spec["range"]
        return list(range(first, last + 1))
    return list(spec["list"])


def layout(fields):
    return kvtier.ModelLayout(**fields)


def test_namespace_keys_match_the_vectors(vectors):
    assert len(vectors["namespace_keys"]) >= 10
    for v in vectors["namespace_keys"]:
        got = kvtier.namespace_key(layout(v["layout"]))
        assert got.hex() == v["key"], v["name"]
        assert layout(v["layout"]).namespace_key() == got, v["name"]


def test_chain_keys_match_the_vectors(vectors):
    assert vectors["chain_key"]
    for v in vectors["chain_key"]:
        previous = kvtier.Key(bytes.fromhex(v["previous"]))
        assert kvtier.chain_key(previous, v["tokens"]).hex() == v["key"], v["name"]
        tokens = np.array(v["tokens"], dtype=np.uint32)
        assert kvtier.chain_key(previous, tokens).hex() == v["key"], v["name"]


# Every form tokens may take: each must give the vectors' keys.
TOKEN_FORMS = {
    "list": lambda t: t,
    "tuple": tuple,
    "range_or_iterator": lambda t: iter(t),
    "numpy_uint32": lambda t: np.array(t, dtype=np.uint32),
    "numpy_int64": lambda t: np.array(t, dtype=np.int64),
    "numpy_uint64": lambda t: np.array(t, dtype=np.uint64),
    "numpy_uint32_strided": lambda t: np.repeat(np.array(t, dtype=np.uint32), 2)[::2],
    "numpy_uint32_big_endian": lambda t: np.array(t, dtype=">u4"),
    "array_I": lambda t: array.array("I", t),
    "memoryview_uint32": lambda t: memoryview(np.array(t, dtype=np.uint32)),
}


@pytest.mark.parametrize("form", sorted(TOKEN_FORMS))
def test_chunk_keys_match_the_vectors(vectors, form):
    names = {v["name"]: v["layout"] for v in vectors["namespace_keys"]}
    assert vectors["chunk_keys"]
    for v in vectors["chunk_keys"]:
        tokens = TOKEN_FORMS[form](expand_tokens(v["tokens"]))
        ns_key = kvtier.Key.from_hex(v["namespace_key"])
        keys = kvtier.chunk_keys(ns_key, tokens, v["chunk_tokens"])
        assert [k.hex() for k in keys] == v["keys"], (v["name"], form)


def test_chunk_keys_from_a_layout_use_its_chunk_tokens(vectors):
    names = {v["name"]: v["layout"] for v in vectors["namespace_keys"]}
    for v in vectors["chunk_keys"]:
        lay = layout(names[v["namespace"]])
        tokens = expand_tokens(v["tokens"])
        if lay.chunk_tokens == v["chunk_tokens"]:
            assert [k.hex() for k in kvtier.chunk_keys(lay, tokens)] == v["keys"], v["name"]
        got = kvtier.chunk_keys(lay, tokens, chunk_tokens=v["chunk_tokens"])
        assert [k.hex() for k in got] == v["keys"], v["name"]


def test_a_prefix_has_a_prefix_of_the_keys():
    lay = kvtier.ModelLayout(model_id="m", kv_dtype="bf16", num_layers=2, num_kv_heads=2,
                             head_dim=64, chunk_tokens=16)
    long = kvtier.chunk_keys(lay, range(1000))
    short = kvtier.chunk_keys(lay, range(100))
    assert len(long) == 62 and len(short) == 6
    assert long[:6] == short
    assert kvtier.chunk_keys(lay, range(15)) == []


def test_key_value_type():
    raw = bytes(range(16))
    k = kvtier.Key(raw)
    assert k.bytes == raw and bytes(k) == raw
    assert k.hex() == raw.hex() and str(k) == raw.hex()
    assert kvtier.Key.from_hex(raw.hex().upper()) == k
    assert eval(repr(k), {"kvtier": kvtier}) == k
    assert k == kvtier.Key(bytearray(raw)) and k != kvtier.Key(bytes(16))
    assert (k == raw) is False  # a Key is not its bytes
    assert hash(k) == hash(kvtier.Key(raw))
    assert len({k, kvtier.Key(raw), kvtier.Key(bytes(16))}) == 2
    assert {k: 1}[kvtier.Key(raw)] == 1
    assert pickle.loads(pickle.dumps(k)) == k


def test_key_from_any_16_byte_buffer():
    raw = bytes(range(16))
    assert kvtier.Key(memoryview(raw)).bytes == raw
    assert kvtier.Key(np.frombuffer(raw, dtype=np.uint8)).bytes == raw
    assert kvtier.Key(np.frombuffer(raw, dtype=np.uint64)).bytes == raw  # bytes, whatever dtype


class DLPackOnly:
    """Exports its array through DLPack only, as a torch tensor does (torch has no buffer
    protocol), so the DLPack path is tested without torch."""

    def __init__(self, a):
        self._a = a

    def __dlpack__(self, stream=None):
        return self._a.__dlpack__()

    def __dlpack_device__(self):
        return self._a.__dlpack_device__()


class _DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class _DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class _DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", _DLDevice), ("ndim", ctypes.c_int32),
                ("dtype", _DLDataType), ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)), ("byte_offset", ctypes.c_uint64)]


class _DLPackVersion(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint32), ("minor", ctypes.c_uint32)]


class _DLManagedTensorVersioned(ctypes.Structure):
    _fields_ = [("version", _DLPackVersion), ("manager_ctx", ctypes.c_void_p),
                ("deleter", ctypes.c_void_p), ("flags", ctypes.c_uint64), ("dl_tensor", _DLTensor)]


_PyCapsule_New = ctypes.pythonapi.PyCapsule_New
_PyCapsule_New.restype = ctypes.py_object
_PyCapsule_New.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
_VERSIONED_NAME = b"dltensor_versioned"  # must outlive every capsule named by it


class VersionedDLPack:
    """Exports a uint8 numpy array through DLPack 1.0 only ("dltensor_versioned" capsules, as
    torch >= 2.4 and numpy >= 2 give when asked with max_version), with the read-only and
    is-copied flags set as told. Refuses a consumer that does not ask for 1.0, as a producer of
    read-only memory must (it cannot signal it in a legacy capsule)."""

    READ_ONLY = 1
    IS_COPIED = 2

    def __init__(self, array, flags=0):
        assert array.dtype == np.uint8 and array.flags.c_contiguous
        self._a = array
        self._flags = flags
        self._keep = []  # the structs the capsules point into (no deleter: this object owns them)

    def __dlpack__(self, stream=None, max_version=None, dl_device=None, copy=None):
        if max_version is None or max_version[0] < 1:
            raise BufferError("this exporter speaks DLPack 1.0 only")
        shape = (ctypes.c_int64 * 1)(self._a.size)
        m = _DLManagedTensorVersioned()
        m.version = _DLPackVersion(1, 0)
        m.flags = self._flags
        m.dl_tensor = _DLTensor(self._a.ctypes.data, _DLDevice(1, 0), 1, _DLDataType(1, 8, 1),
                                shape, None, 0)
        self._keep += [shape, m]
        return _PyCapsule_New(ctypes.addressof(m), _VERSIONED_NAME, None)

    def __dlpack_device__(self):
        return (1, 0)


def test_key_from_a_dlpack_tensor():
    raw = np.arange(16, dtype=np.uint8)
    assert kvtier.Key(DLPackOnly(raw)).bytes == raw.tobytes()
    two_d = np.arange(8, dtype=np.uint16).reshape(2, 4)  # 16 bytes in 2 rows
    assert kvtier.Key(DLPackOnly(two_d)).bytes == two_d.tobytes()


def test_key_rejections_say_why():
    with pytest.raises(ValueError, match="16 bytes, got 3"):
        kvtier.Key(b"abc")
    with pytest.raises(TypeError, match="from_hex"):
        kvtier.Key("00" * 16)
    with pytest.raises(TypeError, match="buffer protocol"):
        kvtier.Key(12345)
    strided = np.arange(32, dtype=np.uint8)[::2]
    with pytest.raises(BufferError, match="C-contiguous"):
        kvtier.Key(strided)
    with pytest.raises(BufferError, match="C-contiguous"):
        kvtier.Key(DLPackOnly(np.arange(32, dtype=np.uint8)[::2]))
    for bad in ["00" * 15, "00" * 17, "0x" + "00" * 15, "zz" * 16, " " + "00" * 15 + "0"]:
        with pytest.raises(kvtier.InvalidArgumentError):
            kvtier.Key.from_hex(bad)
    # InvalidArgumentError is a ValueError and a kvtier.Error, and carries its code.
    with pytest.raises(ValueError) as e:
        kvtier.Key.from_hex("nothex")
    assert isinstance(e.value, kvtier.Error) and e.value.code == "invalid_argument"
    assert "32 hex digits" in e.value.message


def test_layout_validation_names_the_field():
    good = dict(model_id="m", kv_dtype="bf16", num_layers=1, num_kv_heads=1, head_dim=1,
                chunk_tokens=16)
    kvtier.ModelLayout(**good).validate()
    cases = [
        (dict(model_id=""), "model_id"),
        (dict(kv_dtype=""), "kv_dtype"),
        (dict(num_layers=0), "num_layers"),
        (dict(num_kv_heads=0), "num_kv_heads"),
        (dict(head_dim=0), "head_dim"),
        (dict(chunk_tokens=0), "chunk_tokens"),
        (dict(tp_rank=1, tp_world_size=1), "tp_rank"),
        (dict(extra="x" * 1025), "extra"),
    ]
    for change, field in cases:
        bad = kvtier.ModelLayout(**{**good, **change})
        with pytest.raises(kvtier.InvalidArgumentError, match=field):
            bad.validate()
        with pytest.raises(kvtier.InvalidArgumentError, match=field):
            kvtier.namespace_key(bad)
    with pytest.raises(TypeError):
        kvtier.ModelLayout(**{**good, "num_layers": -1})  # u32 fields refuse negatives
    with pytest.raises(TypeError):
        kvtier.ModelLayout("m", "bf16")  # keyword-only: no silent field-order mistakes


def test_layout_fields_strings_and_equality():
    lay = kvtier.ModelLayout(model_id="m", kv_dtype="bf16", num_layers=1, num_kv_heads=1,
                             head_dim=1, chunk_tokens=4, extra="\u00e9")
    same = kvtier.ModelLayout(model_id="m", kv_dtype="bf16", num_layers=1, num_kv_heads=1,
                              head_dim=1, chunk_tokens=4, extra="\u00e9")
    assert lay == same and lay != "m"
    with pytest.raises(TypeError):
        hash(lay)  # mutable, so not hashable
    before = lay.namespace_key()
    same.layout_version = 2
    assert lay != same and same.namespace_key() != before
    assert "extra='é'" in repr(lay)
    # A UTF-8 str and its bytes hash alike: strings are hashed as their UTF-8 bytes.
    as_bytes = kvtier.ModelLayout(model_id="m", kv_dtype="bf16", num_layers=1, num_kv_heads=1,
                                  head_dim=1, chunk_tokens=4, extra="\u00e9".encode())
    assert as_bytes.namespace_key() == before


def test_token_ids_are_range_checked():
    ns = kvtier.Key(bytes(16))
    assert len(kvtier.chunk_keys(ns, [0, 2**32 - 1], 2)) == 1
    for bad in ([1, -1], [2**32], [2**70], np.array([3, -2], dtype=np.int64),
                np.array([2**32], dtype=np.uint64), np.array([-1], dtype=np.int8)):
        with pytest.raises(ValueError, match="token id"):
            kvtier.chunk_keys(ns, bad, 1)
    for bad in ([1.0, 2.0], np.array([1.0, 2.0]), "abcd", b"abcd", bytearray(b"abcd"),
                np.zeros((2, 2), dtype=np.uint32), [1, "2"], 7):
        with pytest.raises(TypeError):
            kvtier.chunk_keys(ns, bad, 1)
    with pytest.raises(kvtier.InvalidArgumentError, match="chunk_tokens"):
        kvtier.chunk_keys(ns, [1, 2], 0)
    # numpy integer scalars in a list are integers too.
    assert kvtier.chunk_keys(ns, [np.uint32(5), np.int64(6)], 2) == kvtier.chunk_keys(ns, [5, 6], 2)
