"""The base of the dashboard's forms."""

from __future__ import annotations

from typing import Any

from django import forms


class DashboardForm(forms.Form):
    """A form whose length limits are checked on the server and shown as a field error.

    Django renders a field's `max_length` as the input's `maxlength`, and a browser then cuts a
    longer paste silently (a session named with its tail missing); so the attribute is dropped.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.pop("maxlength", None)
