"""Which tenants a request may act on: every one for an all-tenant key, else the key's own."""

import pytest

from api_keys.exceptions import TenantForbidden
from api_keys.selectors import tenants_allowed
from api_keys.services import tenant_access_check
from midnite_test.exception_handler import api_exception_handler


def test_a_key_without_tenants_is_allowed_every_tenant(issue):
    assert tenants_allowed(key=issue().api_key) is None


def test_a_key_with_tenants_is_allowed_exactly_those(issue):
    key = issue(tenants=("acme", "globex")).api_key

    assert tenants_allowed(key=key) == frozenset({"acme", "globex"})


def test_no_key_is_allowed_every_tenant_when_anonymous_is_allowed(settings):
    settings.ALLOW_ANONYMOUS = True

    assert tenants_allowed(key=None) is None


def test_no_key_is_allowed_no_tenant_when_keys_are_required():
    assert tenants_allowed(key=None) == frozenset()


def test_a_key_without_tenants_may_act_on_any_tenant(issue):
    tenant_access_check(key=issue().api_key, tenant_id="any-tenant")


def test_a_key_with_tenants_may_act_on_each_of_them(issue):
    key = issue(tenants=("acme", "globex")).api_key

    tenant_access_check(key=key, tenant_id="acme")
    tenant_access_check(key=key, tenant_id="globex")


def test_a_key_with_tenants_is_forbidden_another_tenant(issue):
    key = issue(tenants=("acme",)).api_key

    with pytest.raises(TenantForbidden) as raised:
        tenant_access_check(key=key, tenant_id="globex")

    response = api_exception_handler(raised.value, {})
    assert response.status_code == 403
    assert response.data == {
        "error": "tenant_forbidden",
        "message": "This API key may not act on tenant 'globex'.",
        "details": {"tenant_id": "globex"},
    }


def test_no_key_may_act_on_any_tenant_when_anonymous_is_allowed(settings):
    settings.ALLOW_ANONYMOUS = True

    tenant_access_check(key=None, tenant_id="any-tenant")


def test_no_key_is_forbidden_every_tenant_when_keys_are_required():
    with pytest.raises(TenantForbidden):
        tenant_access_check(key=None, tenant_id="default")
