"""A filter on a column's value being in a list, the list sent as one parameter.

`pk__in=ids` writes one placeholder per value: for a batch of a thousand events psycopg splits
a statement of a thousand `%s` and PostgreSQL parses it, again for every batch size, so it is
never prepared once for all. `InArray` writes `= ANY(%s)` with one array on PostgreSQL and
`IN (SELECT value FROM json_each(%s))` with one JSON list elsewhere (SQLite).
"""

import json
from collections.abc import Iterable
from typing import Any

from django.db.models import BooleanField, Expression, F


class InArray(Expression):
    """True where `column` is one of `values`: `Model.objects.filter(InArray("id", ids))`."""

    conditional = True
    output_field = BooleanField()

    def __init__(self, column: str, values: Iterable[Any]) -> None:
        super().__init__()
        self.column: Any = F(column)
        self.values = list(values)

    def resolve_expression(
        self, query=None, allow_joins=True, reuse=None, summarize=False, for_save=False
    ):
        resolved = self.copy()
        resolved.column = self.column.resolve_expression(
            query, allow_joins, reuse, summarize, for_save
        )
        return resolved

    def as_sql(self, compiler, connection):
        column, params = compiler.compile(self.column)
        return f"{column} IN (SELECT value FROM json_each(%s))", [*params, json.dumps(self.values)]

    def as_postgresql(self, compiler, connection):
        column, params = compiler.compile(self.column)
        return f"{column} = ANY(%s)", [*params, self.values]
