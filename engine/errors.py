"""The exception tree. Who made the mistake decides the path an error takes.

```
WorkbenchError
 ├ ToolDefinitionError   a developer's mistake in a tool: raised at import time
 ├ ToolInputError        a model or a person sent bad arguments: becomes an error result
 ├ MessageError          a message that cannot join a conversation (unknown role, ...)
 ├ SessionNotFound       an unknown session id
 ├ StoreError            the event store cannot be opened, locked or written
 ├ ImportFormatError     a trace or message file that cannot be read
 └ ReplayError           an event log that cannot be folded into a state
```

The UI turns a `WorkbenchError` into one visible message, the CLI into one line and a
non-zero exit; tools turn `ToolInputError` into `{"error": ...}` for the model to read.
"""

from __future__ import annotations


class WorkbenchError(Exception):
    """Base class of every error the workbench raises on purpose."""


class ToolDefinitionError(WorkbenchError):
    """A tool function cannot be registered (missing docstring, untyped parameter, ...)."""


class ToolInputError(WorkbenchError):
    """Arguments or ids that a tool cannot act on; the message says how to fix them."""


class MessageError(WorkbenchError):
    """A message with an unknown role, content of the wrong type, or malformed tool calls."""


class SessionNotFound(WorkbenchError):
    """No session has the given id."""


class StoreError(WorkbenchError):
    """The store file cannot be opened, is locked by another process, or a write failed."""


class ImportFormatError(WorkbenchError):
    """A file to import is not a trace or message list we can read; names the line or item."""


class ReplayError(WorkbenchError):
    """An event does not apply to the state it follows (the log is inconsistent)."""
