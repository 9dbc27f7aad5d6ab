"""Where the notification files in the existing format are kept, outside the repository."""

from pathlib import Path

from django.conf import settings

SEED = Path("shared") / "fixtures" / "notification-seed"


def seed_dir() -> Path:
    """Return `shared/fixtures/notification-seed` beside the checkout (or a folder above it).

    The main checkout has `../shared`; a git worktree under another folder finds it further up,
    so the nearest ancestor that has it wins. A clone elsewhere (CI clones to a folder of its
    own) falls back to the team machines' `/work/shared`. Raise FileNotFoundError when none has.
    """
    for folder in (*Path(settings.BASE_DIR).resolve().parents, Path("/work")):
        if (folder / SEED).is_dir():
            return folder / SEED
    raise FileNotFoundError(f"no {SEED} beside {settings.BASE_DIR} or above it")
