"""
One app instance for the two-process test: ``python -m tests.many._auth_worker PORT REDIS_URL NS``.
"""

import sys

import uvicorn

from tests.auth._tokens import AUDIENCE, ISSUER, SECRET
from tests.auth._users import Users
from tests.integrations.fastapi._auth_apps import build_app
from wa_perfkit.auth import JWTVerifier
from wa_perfkit.backends.redis import RedisBackend
from wa_perfkit.cache import Cache


def main() -> None:
    port, redis_url, namespace = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    verifier = JWTVerifier(SECRET, audience=AUDIENCE, issuer=ISSUER)
    cache = Cache(RedisBackend(redis_url, socket_timeout=1.0), namespace=namespace)
    app, _ = build_app(Users(), verifier, cache)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
