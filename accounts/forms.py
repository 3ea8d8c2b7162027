from __future__ import annotations

from django import forms


class TokenCreateForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        help_text="What the token is for, e.g. “CI pipeline”.",
        widget=forms.TextInput(attrs={"placeholder": "CI pipeline", "autocomplete": "off"}),
    )


class TeamSwitchForm(forms.Form):
    team = forms.IntegerField()
    next = forms.CharField(required=False)
