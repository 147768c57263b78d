"""What the list routes share: page parameters, a cursor that is not ours is a 422, exports
stream."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import HTTPException, Query, status
from fastapi.responses import StreamingResponse

MEDIA = {"csv": "text/csv; charset=utf-8", "ndjson": "application/x-ndjson"}
EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {media: {} for media in MEDIA.values()}}
}
FormatQuery = Annotated[str, Query(pattern="^(csv|ndjson)$", description="csv or ndjson.")]
PageLimit = Annotated[int, Query(ge=1, le=1000)]
PageCursor = Annotated[str | None, Query(description="`next_cursor` of the previous page.")]


@contextmanager
def cursor_errors() -> Iterator[None]:
    """Turn the store's ValueError for a malformed cursor into a 422."""
    try:
        yield
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc


def export_response(chunks: Iterable[str], *, fmt: str, name: str) -> StreamingResponse:
    """Stream ``chunks`` as a download named ``name.fmt``; nothing is built in memory."""
    return StreamingResponse(
        chunks,
        media_type=MEDIA[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'},
    )
