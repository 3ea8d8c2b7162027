from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class TokenCreateForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        help_text=_("What the token is for, e.g. “CI pipeline”."),
        widget=forms.TextInput(attrs={"placeholder": _("CI pipeline"), "autocomplete": "off"}),
    )


class TeamSwitchForm(forms.Form):
    team = forms.IntegerField()
    next = forms.CharField(required=False)
