"""
The tests of ``wa_perfkit.sql`` run against a real PostgreSQL (fixtures: tests/conftest.py).

They drive psycopg directly, so without the ``postgres`` extra the folder is skipped.
"""

from __future__ import annotations

import pytest

pytest.importorskip("psycopg", reason="pip install 'wa-perfkit[postgres]'")
