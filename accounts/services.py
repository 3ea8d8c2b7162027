"""Everything that changes accounts state: tokens, team choice, the audit log."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import models
from django.utils import timezone

from accounts.models import ApiToken, AuditEntry, Team, hash_token


def audit_record(
    *,
    action: str,
    channel: str,
    actor: User | None = None,
    team: Team | None = None,
    obj: models.Model | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEntry:
    return AuditEntry.objects.create(
        action=action,
        channel=channel,
        actor=actor if actor is not None and actor.is_authenticated else None,
        team=team,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        data=data or {},
    )


def token_create(*, user: User, name: str, channel: str) -> tuple[ApiToken, str]:
    """Create a token and return it with its raw value, which is never stored."""
    raw = ApiToken.PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name, token_hash=hash_token(raw), hint=raw[: len(ApiToken.PREFIX) + 4]
    )
    audit_record(
        action="accounts.token.created",
        channel=channel,
        actor=user,
        obj=token,
        data={"name": name},
    )
    return token, raw


def token_revoke(*, token: ApiToken, by: User, channel: str) -> bool:
    changed = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    if changed:
        audit_record(
            action="accounts.token.revoked",
            channel=channel,
            actor=by,
            obj=token,
            data={"name": token.name},
        )
    return bool(changed)


LAST_USED_EVERY = timedelta(minutes=1)


def token_authenticate(raw: str) -> User | None:
    """The active user behind a raw bearer token, or None; records when it was used.

    Every API call with a token asks this: one query (the token with its user), and the
    token's last use is written at most once a minute.
    """
    if not raw.startswith(ApiToken.PREFIX):
        return None
    try:
        token = ApiToken.objects.select_related("user").get(
            token_hash=hash_token(raw), revoked_at__isnull=True, user__is_active=True
        )
    except ApiToken.DoesNotExist:
        return None
    now = timezone.now()
    if token.last_used_at is None or token.last_used_at < now - LAST_USED_EVERY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
