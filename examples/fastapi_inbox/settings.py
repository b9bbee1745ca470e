"""
Configuration from environment variables only (12-factor), for local and Supabase runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    """
    Everything the app reads from its environment.

    Attributes:
        database_url: ``DATABASE_URL``, a ``postgresql://`` URL (Supabase: the pooler URL).
        redis_url: ``WA_PERFKIT_REDIS_URL`` (or ``REDIS_URL``); unset means an
            in-process memory cache (one instance only).
        jwt_secret: ``SUPABASE_JWT_SECRET``, the HS256 secret (Supabase's legacy JWT secret).
        supabase_url: ``SUPABASE_URL``; with it and no secret, tokens are checked with the
            project's JWKS (ES256/RS256 signing keys).
        fingerprint_key: ``FINGERPRINT_KEY``, the HMAC key of token fingerprints
            (the same on every instance).
        cursor_key: ``CURSOR_KEY``, the HMAC key of pagination cursors.
        wa_app_secret: ``WA_APP_SECRET``, the Meta app secret of the webhook.
        wa_verify_token: ``WA_VERIFY_TOKEN``, the webhook handshake token.
        pool_max: ``DB_POOL_MAX``, the asyncpg pool size.
    """

    database_url: str
    redis_url: str | None
    jwt_secret: str | None
    supabase_url: str | None
    fingerprint_key: str
    cursor_key: str
    wa_app_secret: str
    wa_verify_token: str
    pool_max: int = 10

    @classmethod
    def from_env(cls) -> Settings:
        """
        Read the settings from ``os.environ``.

        Raises:
            KeyError: a required variable is missing.
        """
        env = os.environ
        return cls(
            database_url=env["DATABASE_URL"],
            redis_url=env.get("WA_PERFKIT_REDIS_URL") or env.get("REDIS_URL") or None,
            jwt_secret=env.get("SUPABASE_JWT_SECRET") or None,
            supabase_url=env.get("SUPABASE_URL") or None,
            fingerprint_key=env["FINGERPRINT_KEY"],
            cursor_key=env["CURSOR_KEY"],
            wa_app_secret=env["WA_APP_SECRET"],
            wa_verify_token=env["WA_VERIFY_TOKEN"],
            pool_max=int(env.get("DB_POOL_MAX", "10")),
        )
