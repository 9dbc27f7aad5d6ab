"""A key's scopes: none by default, only known ones, and existing keys keep what they had."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from api_keys.exceptions import ApiKeyInvalid
from api_keys.services import api_key_create


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_a_scope_that_does_not_exist_is_refused(db):
    with pytest.raises(ApiKeyInvalid, match="Unknown scope 'admin'"):
        api_key_create(name="partner", scopes=["rules", "admin"])


@pytest.mark.django_db(transaction=True)
def test_keys_made_before_scopes_existed_have_none_and_keep_their_tenants():
    old = _migrate([("api_keys", "0001_initial")])
    old.get_model("api_keys", "ApiKey").objects.create(
        name="partner", prefix="mk_1", key_hash="a" * 64, tenants=["acme"]
    )
    try:
        new = _migrate([("api_keys", "0002_api_key_scopes")])
        key = new.get_model("api_keys", "ApiKey").objects.get()
        assert (key.scopes, key.tenants) == ([], ["acme"])
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
