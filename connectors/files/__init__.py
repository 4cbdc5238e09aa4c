"""The `files` connector: mbox, Maildir, loose message folders, .eml and .ics exports on disk.

For backfills, demos and benchmarks. `open_streams(path)` finds the mail sources under a path and
returns one `connectors.base.Stream` per folder or file; each streams normalised interactions
page by page behind an opaque JSON cursor, and a second import of unchanged files is a cheap
no-op. Only header blocks are read (bodies are never stored), which keeps a 40,000-message
import to seconds.
"""

from connectors.files.discover import open_streams

__all__ = ["open_streams"]
