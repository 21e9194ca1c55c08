"""The Templates page's create form: what a marketer types (texts with ``{{1}}``-style
variables, an example value for each, up to three buttons), shaped into Meta's template
components for services.templates.create_template, the service the REST API calls. Meta
(or the sandbox) judges the name, the language and the texts; its refusals are put back
on the field they are about."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django import forms

from ..models import BusinessAccount

_VARIABLE = re.compile(r"\{\{\s*(\d+)\s*\}\}")
BUTTON_ROWS = 3
BUTTON_TYPES = [("", "No button"), ("QUICK_REPLY", "Quick reply"), ("URL", "Visit website"),
                ("PHONE_NUMBER", "Call phone number")]  # fmt: skip
#: Meta's template languages people use most; any other code Meta supports may be typed.
COMMON_LANGUAGES = ("en_US", "en_GB", "es", "es_MX", "pt_BR", "fr", "de", "it", "he", "ar", "hi", "id")
#: Words of Meta's ``error_user_title`` and the field its refusal is about.
_ERROR_FIELDS = (("name", "name"), ("language", "language"), ("variable", "body"), ("body", "body"),
                 ("footer", "footer"), ("header", "header"), ("button", "button_text_1"))  # fmt: skip


def variables(text: str) -> list[int]:
    """The distinct ``{{n}}`` numbers of ``text``, in order."""
    return sorted({int(n) for n in _VARIABLE.findall(text or "")})


class TemplateDraftForm(forms.Form):
    account = forms.ModelChoiceField(queryset=BusinessAccount.objects.none(), empty_label=None)
    name = forms.CharField(
        max_length=512, help_text="Lowercase letters, digits and underscores, e.g. order_shipped."
    )
    category = forms.ChoiceField(
        choices=[("UTILITY", "Utility"), ("MARKETING", "Marketing")],
        help_text="Utility: about something the customer asked for or bought. Marketing: anything else.",
    )
    language = forms.CharField(
        max_length=16,
        initial="en_US",
        help_text="Meta's code, e.g. en_US, pt_BR.",
        widget=forms.TextInput(attrs={"list": "languages"}),
    )
    header = forms.CharField(
        max_length=60, required=False, help_text="Optional, at most 60 characters and one {{1}}."
    )
    header_example = forms.CharField(label="Header example for {{1}}", max_length=200, required=False)
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=1024,
        help_text="Variables are {{1}}, {{2}}, ... in order, with text before the first and after the last.",
    )
    footer = forms.CharField(max_length=60, required=False, help_text="Optional, no variables.")

    def __init__(self, *args: Any, accounts: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = accounts
        source: Mapping[str, Any] = self.data if self.is_bound else self.initial
        self.body_variables = variables(str(source.get("body", "")))
        self.header_has_variable = bool(variables(str(source.get("header", ""))))
        for n in self.body_variables:  # one example per variable the body has now
            self.fields[f"example_{n}"] = forms.CharField(label=f"Example for {{{{{n}}}}}", max_length=200)
        for row in range(1, BUTTON_ROWS + 1):
            self.fields[f"button_type_{row}"] = forms.ChoiceField(
                label=f"Button {row}", choices=BUTTON_TYPES, required=False
            )
            self.fields[f"button_text_{row}"] = forms.CharField(
                label=f"Button {row} text", max_length=25, required=False
            )
            self.fields[f"button_value_{row}"] = forms.CharField(
                label=f"Button {row} URL or phone number", max_length=2000, required=False
            )

    def example_fields(self) -> list[forms.BoundField]:
        return [self[f"example_{n}"] for n in self.body_variables]

    def button_rows(self) -> list[tuple[forms.BoundField, forms.BoundField, forms.BoundField]]:
        return [
            (self[f"button_type_{row}"], self[f"button_text_{row}"], self[f"button_value_{row}"])
            for row in range(1, BUTTON_ROWS + 1)
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if variables(data.get("header", "")) and not data.get("header_example"):
            self.add_error("header_example", "Give an example value for the header's variable.")
        for row in range(1, BUTTON_ROWS + 1):
            kind, text = data.get(f"button_type_{row}"), data.get(f"button_text_{row}", "")
            value = data.get(f"button_value_{row}", "").strip()
            if kind and not text:
                self.add_error(f"button_text_{row}", "Give the button a text.")
            if kind == "URL" and not value.startswith(("https://", "http://")):
                self.add_error(f"button_value_{row}", "A website button needs an address starting https://.")
            if kind == "PHONE_NUMBER" and not value:
                self.add_error(f"button_value_{row}", "A call button needs a phone number with country code.")
        return data

    def components(self) -> list[dict[str, Any]]:
        """Meta's components for the cleaned form."""
        data = self.cleaned_data
        shaped: list[dict[str, Any]] = []
        if data.get("header"):
            header: dict[str, Any] = {"type": "HEADER", "format": "TEXT", "text": data["header"]}
            if variables(data["header"]):
                header["example"] = {"header_text": [data["header_example"]]}
            shaped.append(header)
        body: dict[str, Any] = {"type": "BODY", "text": data["body"]}
        if self.body_variables:
            body["example"] = {"body_text": [[data[f"example_{n}"] for n in self.body_variables]]}
        shaped.append(body)
        if data.get("footer"):
            shaped.append({"type": "FOOTER", "text": data["footer"]})
        buttons = [self._button(row) for row in range(1, BUTTON_ROWS + 1) if data.get(f"button_type_{row}")]
        if buttons:
            shaped.append({"type": "BUTTONS", "buttons": buttons})
        return shaped

    def _button(self, row: int) -> dict[str, Any]:
        kind = self.cleaned_data[f"button_type_{row}"]
        button = {"type": kind, "text": self.cleaned_data[f"button_text_{row}"]}
        value = self.cleaned_data[f"button_value_{row}"].strip()
        if kind == "URL":
            button["url"] = value
        elif kind == "PHONE_NUMBER":
            button["phone_number"] = value
        return button

    def add_refusal(self, error: Exception) -> None:
        """Meta's refusal (or the client's own check, ``"name: ..."``), on the field its title
        or its prefix names, else above the form."""
        title = str(getattr(error, "error_user_title", "") or "") or str(error).partition(":")[0]
        field = next((name for word, name in _ERROR_FIELDS if word in title.lower()), None)
        self.add_error(field, f"Meta refused the template: {error}")
