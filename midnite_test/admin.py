"""Admin building blocks shared by the apps."""

from datetime import UTC, datetime

from django.contrib import admin
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import Truncator


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """Show rows, never add, edit or delete them: they are records the service keeps."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def cut_with_title(text: str, length: int) -> SafeString:
    """Return `text` cut to `length` characters for a list column, the whole of it in the title.

    Ids such as `h:<sha256>`, rule names and errors are long unbroken words: in full they push
    a change list's last columns out of a 1280 px window.
    """
    return format_html('<span title="{}">{}</span>', text, Truncator(text).chars(length))


def utc_minute(at: datetime | None) -> str:
    """Return `at` as `2025-10-31 19:30 UTC`: shorter than the admin's own date format."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if at else "-"
