"""Server-sent events from a generator of ``(event, data)`` pairs, with failures reported in-band.

Once a stream has started, the status line (200) is on the wire: an exception can no longer become
a problem response. So it becomes a final ``error`` event with the exception's type and message, and
the stream ends; clients treat ``error`` as the terminal event it is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi.responses import StreamingResponse


def sse_lines(events: Iterable[tuple[str, Any]]) -> Iterator[str]:
    try:
        for event, data in events:
            yield f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n"
    except Exception as exc:  # the stream has started: report in-band, then end it
        yield f"event: error\ndata: {json.dumps({'detail': f'{type(exc).__name__}: {exc}'})}\n\n"


def sse_response(events: Iterable[tuple[str, Any]]) -> StreamingResponse:
    """A ``text/event-stream`` response that proxies must not buffer or cache."""
    return StreamingResponse(sse_lines(events), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
