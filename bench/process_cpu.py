"""CPU time read from /proc: what a benchmark's processes and PostgreSQL's backends spent.

CPU per request or per event is steadier than req/s on a shared machine: other processes slow a
run down without making its requests cost more.
"""

import os
from pathlib import Path

import psycopg

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def postgres_backends(connection: psycopg.Connection) -> list[int]:
    """Return the pids of the other PostgreSQL backends connected to this database."""
    rows = connection.execute(
        "SELECT pid FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    return [pid for (pid,) in rows]


def process_tree(root: int) -> list[int]:
    """Return `root` and every process descended from it."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending.extend(children.get(pid, []))
    return tree


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """Return the user + system CPU seconds each live process in `pids` has used."""
    used = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return used


def cpu_spent(before: dict[int, float], after: dict[int, float]) -> float:
    """Return the CPU seconds spent between two readings (a new process from zero)."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())
