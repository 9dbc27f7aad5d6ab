"""Read what PostgreSQL actually did for a query, to hold hot paths to a bounded plan.

A fresh deployment runs before its first ANALYZE: the planner then guesses, and a query whose
good plan depends on the guess may read a user's whole history. Tests run the hot-path queries
on a never-analyzed table and bound the rows each plan node touched.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import connection


@dataclass(frozen=True)
class PlanNode:
    node_type: str
    relation: str | None
    index: str | None
    rows_touched: int


def plan_nodes_run(sql: str, params=()) -> list[PlanNode]:
    """Run `sql` under EXPLAIN (ANALYZE, FORMAT JSON) and list every node of its plan.

    A node's rows touched are the rows it returned plus those its filters removed, over all
    its loops: what it had to read, not just what it kept.
    """
    with connection.cursor() as cursor:
        return _explained(cursor, "EXPLAIN (ANALYZE, FORMAT JSON)", sql, params)


def plan_nodes_planned(cursor, sql: str, params=()) -> list[PlanNode]:
    """List every node of the plan PostgreSQL makes for `sql` on `cursor`, without running it.

    On the cursor of a statement about to run, so the plan is made under that statement's
    session settings (a `SET LOCAL` of its transaction included). No node has touched a row.
    """
    return _explained(cursor, "EXPLAIN (FORMAT JSON)", sql, params)


def _explained(cursor, explain: str, sql: str, params) -> list[PlanNode]:
    cursor.execute(f"{explain} {sql}", params)
    (document,) = cursor.fetchone()
    if isinstance(document, str):
        document = json.loads(document)
    return list(_nodes(document[0]["Plan"]))


def plan_rows_touched_max(sql: str, params=()) -> int:
    """The most rows any one node of the plan read."""
    return max(node.rows_touched for node in plan_nodes_run(sql, params))


def _nodes(plan: dict) -> Iterator[PlanNode]:
    loops = plan.get("Actual Loops", 1)
    kept = plan.get("Actual Rows", 0)
    removed = plan.get("Rows Removed by Filter", 0) + plan.get("Rows Removed by Index Recheck", 0)
    yield PlanNode(
        node_type=plan["Node Type"],
        relation=plan.get("Relation Name"),
        index=plan.get("Index Name"),
        rows_touched=(kept + removed) * loops,
    )
    for child in plan.get("Plans", []):
        yield from _nodes(child)
