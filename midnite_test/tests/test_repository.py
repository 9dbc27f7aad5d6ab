"""The repository stands on its own: no tracked file names a path outside it.

Tests, docs and benchmarks alike may not reach into the team's shared folder beside the
checkout, nor into an absolute path of the machine they were written on: a home folder, the
team machines' work folder, or a fixed temporary folder (code makes its temporary files with
`tempfile`, documented commands with `mktemp -d` or `${TMPDIR:-...}`). Paths that are the same
on every machine (`/usr/bin/chromium`, `/proc/<pid>/stat`, `/dev/null`, `/var/lib/...` in a
container) are fine. The files are listed by git, so a machine without git fails here.
"""

import re
import subprocess

import pytest
from django.conf import settings

# The pieces are kept apart so that this file does not match itself.
OUTSIDE = re.compile(
    r"\.\./shared\b"
    # An absolute path (or one under ~) starts the word: not a folder inside a relative path or
    # a URL, nor the shell's own default in `${TMPDIR:-/tmp}`.
    r"|(?<![\w.$-])/(?:(?:work|root|home|Users)/|tmp\b)"
)


def tracked_files() -> list[str]:
    """Return the paths git tracks in this checkout (it raises when git is missing)."""
    listing = subprocess.run(
        ["git", "ls-files", "-z"],
        cwd=settings.BASE_DIR,
        capture_output=True,
        check=True,
        timeout=60,
    )
    return [path for path in listing.stdout.decode().split("\0") if path]


def outside_paths(text: str) -> list[tuple[int, str]]:
    """Return (line number, line) for each line of `text` that names a path outside."""
    return [
        (number, line)
        for number, line in enumerate(text.splitlines(), start=1)
        if OUTSIDE.search(line)
    ]


def test_no_tracked_file_names_a_path_outside_the_repository():
    paths = tracked_files()
    assert "manage.py" in paths and "docs/BENCHMARKS.md" in paths

    found = []
    for path in paths:
        file = settings.BASE_DIR / path
        if not file.exists():  # tracked but deleted in the working tree: nothing to read
            continue
        text = file.read_bytes().decode("utf-8", errors="replace")
        found += [f"{path}:{number}: {line.strip()}" for number, line in outside_paths(text)]

    assert not found, "paths outside the repository:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "line",
    [
        "see .." + "/shared/fixtures/notification-seed",
        "cd /" + "work/main && make test",
        "python /" + "root/bench.py",
        "open('/" + "home/alice/notes.txt')",
        "/" + "Users/alice/src",
        "~/" + "work/notes",
        "git worktree add /" + "tmp/pre-outbox c8afc54",
        "pg_ctl -o '-k /" + "tmp' start",
        "DATABASE_URL=sqlite:///" + "/" + "tmp/test.sqlite3",
    ],
)
def test_a_path_of_the_machine_is_found(line):
    assert outside_paths(line) == [(1, line)]


@pytest.mark.parametrize(
    "line",
    [
        'CHROMIUM = "/usr/bin/chromium"',
        'Path(f"/proc/{pid}/stat")',
        "command -v wrk >/dev/null",
        "postgres-data:/var/lib/postgresql/data",
        "BENCH_LOCK=${TMPDIR:-/" + "tmp}/bench.lock",
        "git worktree add ../pre-outbox c8afc54",
        "https://example.com/" + "home/index.html",
        "events/" + "tmp/x and rules/" + "work/y",
    ],
)
def test_paths_of_every_machine_and_inside_the_checkout_are_fine(line):
    assert outside_paths(line) == []
