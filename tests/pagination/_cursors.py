"""
The keys, rows and scope the pagination tests without a database share.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

KEY = "unit-test-cursor-key-0123456789"
WHEN = datetime(2025, 6, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)
ROW_ID = uuid.UUID("3f2b8c1e-0000-4000-8000-000000000001")
ACCOUNT = uuid.UUID("00000000-0000-0000-0000-00000000feed")
