"""The OAuth allow-list (Flower's --auth semantics), the role mapping and their settings."""
import pytest

from celery_scope.auth.email_rules import AllowList, RoleMap
from celery_scope.config import ConfigError, resolve


@pytest.mark.parametrize("rule, email, allowed", [
    pytest.param("ann@example.com", "ann@example.com", True, id="exact"),
    pytest.param("ann@example.com", "Ann@Example.COM", True, id="exact-any-case"),
    pytest.param("ann@example.com", "bo@example.com", False, id="exact-other"),
    pytest.param("ann@example.com", "ann@example.com.evil.io", False, id="exact-is-whole"),
    pytest.param("ann@example.com", "xann@example.com", False, id="exact-no-prefix"),
    pytest.param("ann@example.com|bo@example.com", "bo@example.com", True, id="list"),
    pytest.param("ann@example.com|bo@example.com", "cy@example.com", False, id="list-other"),
    pytest.param("ann@example.com | bo@example.com", "bo@example.com", True, id="list-spaces"),
    pytest.param(".*@example.com", "anyone.at+all@example.com", True, id="pattern"),
    pytest.param(".*@example.com", "ann@example.com.evil.io", False, id="pattern-anchored-end"),
    pytest.param(".*@example.com", "ann@exampleXcom", False, id="pattern-dot-is-literal"),
    pytest.param(".*@example.com", "ann@evil.io@example.com", False, id="pattern-one-at"),
    pytest.param(".*@example.com", "ann@sub.example.com", False, id="pattern-no-subdomain"),
    pytest.param("ops-.*@example.com", "ops-ann@example.com", True, id="pattern-prefix"),
    pytest.param("ops-.*@example.com", "ann@example.com", False, id="pattern-prefix-other"),
    pytest.param(".*@example.com|bo@other.org", "bo@other.org", True, id="list-with-pattern"),
    pytest.param("", "ann@example.com", False, id="empty-allows-nobody"),
])
def test_allow_list_has_flowers_semantics(rule, email, allowed):
    assert AllowList.parse(rule).allows(email) is allowed


@pytest.mark.parametrize("email, role", [
    pytest.param("ops@example.com", "operator", id="first-rule"),
    pytest.param("boss@example.com", "admin", id="second-rule"),
    pytest.param("ann@example.com", "viewer", id="pattern-rule"),
    pytest.param("ann@other.org", "viewer", id="no-rule-default-viewer"),
])
def test_role_mapping_first_match_wins(email, role):
    roles = RoleMap.parse("ops@example.com=operator|boss@example.com=admin|"
                          ".*@example.com=viewer|ops@example.com=admin")
    assert roles.role_for(email) == role


@pytest.mark.parametrize("text, problem", [
    pytest.param("ann@example.com", "expected email-pattern=role", id="no-role"),
    pytest.param("=admin", "expected email-pattern=role", id="no-pattern"),
    pytest.param("ann@example.com=root", "role 'root'", id="unknown-role"),
])
def test_bad_role_mappings_are_refused_at_start(text, problem):
    with pytest.raises(ConfigError, match=problem):
        resolve({"oauth2_roles": text}, environ={})


OIDC = {"oauth2_provider": "oidc", "oidc_discovery_url": "https://id.example/.well-known/x",
        "oauth2_key": "id", "oauth2_secret": "secret", "auth": ".*@example.com"}


@pytest.mark.parametrize("change, problem", [
    pytest.param({"oauth2_provider": "facebook"}, "must be one of oidc, google", id="provider"),
    pytest.param({"oauth2_secret": None}, "needs oauth2_key and oauth2_secret", id="secret"),
    pytest.param({"auth": None}, "needs auth", id="allow-list"),
    pytest.param({"oidc_discovery_url": None}, "needs oidc_discovery_url", id="discovery"),
    pytest.param({"oauth2_provider": "okta"}, "needs oauth2_base_url", id="okta-base"),
    pytest.param({"oidc_discovery_url": "id.example"}, "must be an http", id="discovery-url"),
])
def test_incomplete_oauth_settings_are_clear_errors(change, problem):
    with pytest.raises(ConfigError, match=problem):
        resolve({**OIDC, **change}, environ={})


def test_oauth_counts_as_authentication_beyond_loopback():
    settings = resolve({**OIDC, "address": "0.0.0.0"}, environ={})
    assert settings.auth_configured
    with pytest.raises(ConfigError, match="--oauth2-provider"):
        resolve({"address": "0.0.0.0"}, environ={})


def test_provider_presets():
    from celery_scope.auth.oauth import provider_options
    gitlab = resolve({**OIDC, "oauth2_provider": "gitlab"}, environ={})
    assert provider_options(gitlab)["server_metadata_url"] == (
        "https://gitlab.com/.well-known/openid-configuration")
    own = resolve({**OIDC, "oauth2_provider": "gitlab",
                   "oauth2_base_url": "https://git.example/"}, environ={})
    assert provider_options(own)["server_metadata_url"] == (
        "https://git.example/.well-known/openid-configuration")
    okta = resolve({**OIDC, "oauth2_provider": "okta",
                    "oauth2_base_url": "https://acme.okta.com/oauth2/default"}, environ={})
    assert provider_options(okta)["server_metadata_url"] == (
        "https://acme.okta.com/oauth2/default/.well-known/openid-configuration")
    github = provider_options(resolve({**OIDC, "oauth2_provider": "github"}, environ={}))
    assert "server_metadata_url" not in github and "user:email" in github["client_kwargs"]["scope"]
