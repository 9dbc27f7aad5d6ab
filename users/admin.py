from django.contrib import admin

from users.models import User
from users.services import user_save_new


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ("id", "external_id", "first_name", "last_name", "email", "created_at")
    search_fields = ("=id", "external_id", "first_name", "last_name", "email")
    list_filter = ("created_at",)

    def save_model(self, request, obj: User, form, change: bool) -> None:
        # A new user is announced like every other: through the outbox, in its transaction.
        if change:
            super().save_model(request, obj, form, change)
        else:
            user_save_new(user=obj)
