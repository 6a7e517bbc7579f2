"""Who may sign in through OAuth, and with which role: rules over verified email addresses.

The allow-list keeps Flower's `--auth` semantics so a Flower configuration carries over:
an exact address, several separated by `|`, or a pattern such as `.*@example.com` where
`.*` stands for any run of address characters and everything else is literal (so the dot
in `example.com` matches only a dot). A pattern always matches the whole address; case is
ignored, as mail providers do for the domain. Pure: no Flask, no network.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .credentials import ROLES

DEFAULT_ROLE = "viewer"
# What `.*` may stand for: the characters of an address's local part, never `@`.
_ADDRESS_RUN = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-]*"


def _compile(item: str) -> re.Pattern[str]:
    literal = re.escape(item.strip().lower())
    return re.compile(literal.replace(re.escape(".*"), _ADDRESS_RUN))


@dataclass(frozen=True)
class AllowList:
    """Flower's `--auth`: `ann@example.com`, `ann@example.com|bo@example.com`, `.*@example.com`."""

    patterns: tuple[re.Pattern[str], ...]

    @classmethod
    def parse(cls, text: str) -> AllowList:
        items = [item for item in (text or "").split("|") if item.strip()]
        return cls(tuple(_compile(item) for item in items))

    def allows(self, email: str) -> bool:
        address = email.strip().lower()
        return any(pattern.fullmatch(address) for pattern in self.patterns)


@dataclass(frozen=True)
class RoleMap:
    """`ops@example.com=operator|.*@example.com=viewer`: the first matching rule's role;
    an allowed address that no rule names is a viewer."""

    rules: tuple[tuple[re.Pattern[str], str], ...]

    @classmethod
    def parse(cls, text: str) -> RoleMap:
        rules = []
        for entry in filter(str.strip, (text or "").split("|")):
            pattern, equals, role = entry.rpartition("=")
            role = role.strip()
            if not equals or not pattern.strip():
                raise ValueError(f"expected email-pattern=role, got {entry.strip()!r}")
            if role not in ROLES:
                raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
            rules.append((_compile(pattern), role))
        return cls(tuple(rules))

    def role_for(self, email: str) -> str:
        address = email.strip().lower()
        return next((role for pattern, role in self.rules if pattern.fullmatch(address)),
                    DEFAULT_ROLE)


def role_map_problem(text: str) -> str | None:
    """For the option table: the mapping's first problem, or None."""
    try:
        RoleMap.parse(text)
    except ValueError as exc:
        return str(exc)
    return None
