"""What people send on an approval gate's optional form, cleaned against its fields.

The fields are declared in the template (FormField in domain/template_format.py): {name,
label?, type: text|number|choice|boolean, required?, min?, max?, choices?}. For text,
min/max bound the length; for numbers, the value.
"""

from __future__ import annotations

from typing import Any


class FormInvalid(ValueError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def clean_form(fields: list[dict[str, Any]], data: dict[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for spec in fields:
        name = spec["name"]
        raw = data.get(name)
        try:
            value = _clean(spec, raw)
        except ValueError as exc:
            errors[name] = str(exc)
            continue
        if value is not None:
            cleaned[name] = value
    unknown = sorted(set(data) - {f["name"] for f in fields})
    for name in unknown:
        errors[name] = "this form has no such field"
    if errors:
        raise FormInvalid(errors)
    return cleaned


def _empty(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def _clean(spec: dict[str, Any], raw: Any) -> Any:
    kind = spec.get("type", "text")
    if kind == "boolean":
        return _boolean(raw, bool(spec.get("required")))
    if isinstance(raw, dict | list):
        # A list or mapping would be kept as its Python repr: never what a person typed.
        raise ValueError("must be a single value")
    if _empty(raw):
        if spec.get("required"):
            raise ValueError("this field is required")
        return None
    if kind == "number":
        return _number(spec, raw)
    if kind == "choice":
        choices = [str(c) for c in spec.get("choices", [])]
        if str(raw) not in choices:
            raise ValueError(f"choose one of: {', '.join(choices)}")
        return str(raw)
    text = str(raw).strip()
    if "min" in spec and len(text) < spec["min"]:
        raise ValueError(f"at least {spec['min']} characters")
    if "max" in spec and len(text) > spec["max"]:
        raise ValueError(f"at most {spec['max']} characters")
    return text


def _boolean(raw: Any, required: bool) -> bool:
    if isinstance(raw, bool):
        value = raw
    elif _empty(raw):
        value = False
    elif str(raw).strip().lower() in ("1", "true", "on", "yes"):
        value = True
    elif str(raw).strip().lower() in ("0", "false", "off", "no"):
        value = False
    else:
        raise ValueError("must be true or false")
    if required and not value:
        raise ValueError("this must be checked")
    return value


def _number(spec: dict[str, Any], raw: Any) -> float | int:
    if isinstance(raw, bool):
        raise ValueError("must be a number")
    try:
        value = float(raw)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int of 400 digits
        raise ValueError("must be a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("must be a finite number")
    if "min" in spec and value < spec["min"]:
        raise ValueError(f"must be at least {spec['min']}")
    if "max" in spec and value > spec["max"]:
        raise ValueError(f"must be at most {spec['max']}")
    return int(value) if value.is_integer() else value
