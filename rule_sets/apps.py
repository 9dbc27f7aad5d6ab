from django.apps import AppConfig
from django.db.models.signals import post_migrate


class RuleSetsConfig(AppConfig):
    name = "rule_sets"
    verbose_name = "Rule sets"

    def ready(self) -> None:
        from rule_sets.services import rule_sets_import_defaults_on_migrate

        post_migrate.connect(rule_sets_import_defaults_on_migrate, sender=self)
