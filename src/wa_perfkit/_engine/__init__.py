"""
The engine: how a miss is served. Everything that waits lives here.

`Cache.get_or_load`, `ttl_repository` and `CachedUser` all serve their misses
through it; a hit never enters it (the hit paths are decided at decoration
time and stay generator-free):

```text
caller ─▶ read (one backend command) ─▶ fresh ─▶ hit, returned    [not the engine]
             │
             ▼ MISS, fault or stale                       readthrough.ReadThrough
single-flight per key (threads: ThreadFlight, tasks: AsyncFlight)   singleflight
             │ the leader runs a flow:
             ▼
landed < 1 s ago? Read again ─ fresh ─▶ shared with every waiter
             │
lock=True? lock.LockedFlight.flow: LockAdd / Read / Sleep until held  lock
             │
store._lease ─ a value appeared? ─▶ shared
             │
Call(loader) ─ raised ─▶ store._release_lease, error to every waiter
             │
store._write_leased ─ lease revoked by an invalidation? ─▶ value not kept;
             │                   waiters that joined read again or load again
             ▼
value to every waiter
```

A flow is a generator of typed steps (`steps`); `steps.run` drives it with
blocking calls and `steps.arun` with awaits, so the miss path is written
once. The engine talks to the cache through the `port.Store` protocol only:
the cache depends on the engine, never the reverse.
"""

from wa_perfkit._engine.lock import LockedFlight, RedisLock
from wa_perfkit._engine.port import Store
from wa_perfkit._engine.readthrough import Plan, ReadThrough
from wa_perfkit._engine.singleflight import AsyncFlight, ThreadFlight
from wa_perfkit._engine.steps import Flow, arun, run

__all__ = [
    "AsyncFlight",
    "Flow",
    "LockedFlight",
    "Plan",
    "ReadThrough",
    "RedisLock",
    "Store",
    "ThreadFlight",
    "arun",
    "run",
]
