"""Lists answer `{"items": [...], "count": total, "limit": n, "offset": n}`.

Explicit rather than ninja's @paginate: that decorator wraps the view, and ninja then reads
the wrapper's module for the view's string annotations (this package uses
`from __future__ import annotations`), so filter schemas would not resolve.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet
from ninja import Field, Schema

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_OFFSET = 10_000_000


class PageQuery(Schema):
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Items per page.")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="Items to skip.")


class PageOut(Schema):
    count: int = Field(..., description="Items in the whole list.")
    limit: int
    offset: int


def page_of(items: QuerySet[Any] | Sequence[Any], page: PageQuery) -> dict[str, Any]:
    count = items.count() if isinstance(items, QuerySet) else len(items)
    return {
        "items": list(items[page.offset : page.offset + page.limit]),
        "count": count,
        "limit": page.limit,
        "offset": page.offset,
    }
