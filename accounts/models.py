from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone


class Role(models.TextChoices):
    """viewer < member < approver < admin: each role can do everything the ones before it
    can (declared in that order; `covers` is the one comparison)."""

    VIEWER = "viewer", "Viewer"
    MEMBER = "member", "Member"
    APPROVER = "approver", "Approver"
    ADMIN = "admin", "Admin"

    def covers(self, needed: str) -> bool:
        """Whether someone with this role may do what `needed` may."""
        return ROLE_RANK[self] >= ROLE_RANK[Role(needed)]

    @classmethod
    def at_least(cls, needed: str) -> list[Role]:
        """Every role that covers `needed`."""
        return [role for role in cls if role.covers(needed)]


ROLE_RANK = {role: rank for rank, role in enumerate(Role)}


class Team(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="teams")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "team"], name="one_membership_per_team")]
        ordering = ["team__name"]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} as {self.role}"

    def has_role(self, role: str) -> bool:
        return Role(self.role).covers(role)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """A bearer token for the REST API. Only its SHA-256 is stored; the raw value is
    shown once, when it is created."""

    PREFIX = "ssp_"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField(max_length=16, editable=False, help_text="First characters")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.hint}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class AuditEntry(models.Model):
    """Who did what, when, and through which channel."""

    class Channel(models.TextChoices):
        WEB = "web", "Web"
        EMAIL = "email", "Email link"
        API = "api", "API"
        ADMIN = "admin", "Admin"
        SYSTEM = "system", "System"
        CLI = "cli", "Command line"

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL)
    action = models.CharField(max_length=100, db_index=True)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    object_type = models.CharField(max_length=50, blank=True)
    object_id = models.CharField(max_length=50, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor} {self.action}"


class Profile(models.Model):
    """Per-user preferences, created the first time a user saves one."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    language = models.CharField(
        max_length=16,
        blank=True,
        default="",
        help_text="Language code of the web interface; empty follows the browser.",
    )

    def __str__(self) -> str:
        return f"Profile of {self.user}"

    @classmethod
    def for_user(cls, user: Any) -> Profile:
        profile, _ = cls.objects.get_or_create(user=user)
        return profile

    @classmethod
    def saved_language(cls, user: Any) -> str | None:
        """The language the user chose in the user menu, if they chose one still offered:
        pages (accounts.middleware) and e-mails (workflows.engine.approval_mail) use it."""
        code: str | None = cls.objects.filter(user=user).values_list("language", flat=True).first()
        if code and code in dict(settings.LANGUAGES):
            return code
        return None
