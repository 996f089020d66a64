"""The exception hierarchy: one kvtier.Error subclass per status code of docs/PROTOCOL.md, each
also a standard exception where one means the same."""

import pickle

import pytest

import kvtier

# (class, status name, standard base) for every non-OK code of include/kvtier/status.h.
CLASSES = [
    (kvtier.NotFoundError, "not_found", None),
    (kvtier.InvalidArgumentError, "invalid_argument", ValueError),
    (kvtier.BufferTooSmallError, "buffer_too_small", None),
    (kvtier.NoSpaceError, "no_space", None),
    (kvtier.BusyError, "busy", None),
    (kvtier.CorruptionError, "corruption", None),
    (kvtier.IOError, "io_error", OSError),
    (kvtier.TooLargeError, "too_large", ValueError),
    (kvtier.ClosedError, "closed", ConnectionError),
    (kvtier.RejectedError, "rejected", None),
]


@pytest.mark.parametrize("cls,code,std", CLASSES)
def test_each_code_has_its_class(cls, code, std):
    assert issubclass(cls, kvtier.Error) and issubclass(kvtier.Error, Exception)
    assert cls.code == code
    if std is not None:
        assert issubclass(cls, std)
    e = cls("the daemon's message")
    assert e.message == "the daemon's message" and str(e) == "the daemon's message"
    again = pickle.loads(pickle.dumps(e))
    assert type(again) is cls and again.message == e.message


def test_codes_are_distinct():
    assert len({code for _, code, _ in CLASSES}) == len(CLASSES)


def test_buffer_too_small_carries_a_size_attribute():
    assert kvtier.BufferTooSmallError("x").size is None
