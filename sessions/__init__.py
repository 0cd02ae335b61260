"""Sessions: the DuckDB event store and the `Session` facade over the engine.

```python
from sessions import SessionStore
store = SessionStore(path)                    # a DuckDB file, or ":memory:"
session = store.create_session(title="demo")
session.add_message("user", "text")           # -> "m1"
session.call_tool("fold_fragment", {"fragment_id": "f1a2b3"})
session.render(); session.stats(); session.events(); session.fork(at=3); session.export(path)
store.open_session(id); store.list_sessions(); store.import_file(path)
```
"""

from engine.errors import ImportFormatError, SessionNotFound, StoreError, WorkbenchError
from engine.records import EventRecord
from sessions.session import Session
from sessions.store import DB_ENV, SessionStore, default_db_path

__all__ = [
    "DB_ENV",
    "EventRecord",
    "ImportFormatError",
    "Session",
    "SessionNotFound",
    "SessionStore",
    "StoreError",
    "WorkbenchError",
    "default_db_path",
]
