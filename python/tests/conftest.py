"""Shared fixtures of the kvtier module's tests.

CTest runs them with PYTHONPATH naming the built module's directory (<build>/python) and
KVTIER_BIN the built `kvtier` command; the daemon fixture (daemon.py) starts `kvtier serve`.
"""

import json
import os
import pathlib

import pytest

SOURCE_DIR = pathlib.Path(os.environ.get("KVTIER_SOURCE_DIR",
                                         pathlib.Path(__file__).resolve().parents[2]))

try:
    import kvtier  # noqa: F401  (imported here so a missing module fails every test clearly)
except ImportError as e:  # pragma: no cover - only without the build
    raise ImportError(f"cannot import the kvtier module ({e}): build the kvtier_python target "
                      "and put <build>/python on PYTHONPATH (ctest does both)") from e

from daemon import daemon_fixture  # noqa: E402,F401  (registers the `daemon` fixture)


@pytest.fixture(scope="session")
def vectors():
    """tests/keys/vectors.json, the vectors the C++ tests and the Python reference check."""
    with open(SOURCE_DIR / "tests" / "keys" / "vectors.json", encoding="utf-8") as f:
        return json.load(f)
