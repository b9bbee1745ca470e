"""
The package's public surface and metadata.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import wa_perfkit

EXPECTED = {
    "__version__", "Cache", "MISS", "Policy", "StatsSnapshot", "ttl_repository",
    "CachedFunction", "AsyncCachedFunction", "Backend", "MemoryBackend", "RedisBackend",
    "Codec", "JsonSerializer", "dataclass_codec", "pydantic_codec", "WaPerfkitError",
    "ConfigurationError", "BackendError", "SerializationError", "AuthError", "InvalidToken",
    "InvalidCursor", "JWTVerifier", "CachedUser", "TieredBackend",
    "Secret", "CircuitBreaker", "RedisLock", "LockStore", "MissingExtra",
}


class TestPackage:
    def test_all_is_pinned(self) -> None:
        """__all__ is exactly the documented public names, and each resolves."""
        assert set(wa_perfkit.__all__) == EXPECTED
        for name in wa_perfkit.__all__:
            assert getattr(wa_perfkit, name) is not None

    def test_version_matches_metadata(self) -> None:
        """The installed distribution's version is wa_perfkit.__version__."""
        assert importlib.metadata.version("wa-perfkit") == wa_perfkit.__version__

    def test_import_has_no_side_effects(self) -> None:
        """Importing the package imports no framework, no Redis client, no metrics."""
        code = (
            "import sys, wa_perfkit\n"
            "heavy = {'redis', 'fastapi', 'flask', 'prometheus_client', 'psycopg', 'asyncpg'}\n"
            "print(sorted(heavy & set(sys.modules)))\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == "[]"

    def test_quickstart_runs(self) -> None:
        """examples/quickstart.py shows a miss and hits (memory backend)."""
        from examples import quickstart

        assert quickstart.cli(["--hits", "50"]) == 0
