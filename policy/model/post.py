"""A post as the engine sees it: an id, text fields, and facts.

``Post.from_dict`` accepts the JSON the pipeline sends (one object a line in
``policy scan``) and raises :class:`PostError` naming the problem when a value
has the wrong type.  ``text`` is accepted as an alias of ``body``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from policy.model import fields as F

_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"，。]+|\b[a-z0-9-]+\.(?:com|cn|net|org|top|xyz|cc|me|io|link)\b/?\S*",
                  re.I)
_MENTION = re.compile(r"@[^\s@:：,，]{1,30}")


class PostError(ValueError):
    """A post that cannot be checked; the message names the offending key."""


def _identifier(value: Any, key: str) -> str | int:
    """An id as given: a string or a whole number (JSON's ``1e6`` and ``1000000.0`` are 1000000)."""
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 2**63:
            return int(value)
        raise PostError(f"'{key}' must be a string or a whole number, not {value!r}")
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise PostError(f"'{key}' must be a string or a number, not {type(value).__name__}")
    return value


@dataclass(frozen=True)
class Post:
    id: str
    texts: dict[str, str]
    facts: dict[str, float | bool] = field(default_factory=dict)
    user_id: str | None = None
    _counted: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def text(self, name: str) -> str:
        return self.texts.get(name, "")

    def fact(self, name: str) -> float | bool | None:
        value = self.facts.get(name)
        if value is None and name in F.COUNTED_FACTS:
            value = self._counted.get(name)
            if value is None:
                value = self._counted[name] = self._count(name)
        return value

    def _count(self, name: str) -> int:
        joined = self.text("title") + "\n" + self.text("body")
        if name == "links":  # every URL has a dot or a slash
            return len(_URL.findall(joined)) if "." in joined or "/" in joined else 0
        return len(_MENTION.findall(joined)) if "@" in joined else 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON form that ``from_dict`` reads back into an equal post."""
        data: dict[str, Any] = {"id": self.id}
        nested: dict[str, dict[str, Any]] = {}
        for key, value in [*self.texts.items(), *self.facts.items()]:
            head, _, rest = key.partition(".")
            if rest:
                nested.setdefault(head, {})[rest] = value
            else:
                data[key] = value
        if self.user_id is not None:
            nested.setdefault("author", {})["id"] = self.user_id
        data.update(nested)
        return data

    @classmethod
    def of(cls, body: str, post_id: str = "post", **values: Any) -> Post:
        """A post from a body and optional fields: ``Post.of("...", title="...")``."""
        data: dict[str, Any] = {"id": post_id, "body": body}
        for key, value in values.items():
            data[key.replace("__", ".")] = value
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Any) -> Post:
        if not isinstance(data, dict):
            raise PostError(f"a post must be a JSON object, not {type(data).__name__}")
        flat: dict[str, Any] = {}
        for key, value in data.items():
            if key in ("author", "target") and isinstance(value, dict):
                for sub, sub_value in value.items():
                    flat[f"{key}.{sub}"] = sub_value
            elif key in ("author", "target") and value is not None:
                raise PostError(f"'{key}' must be an object of facts, not {type(value).__name__}")
            else:
                flat[key] = value
        if "text" in flat:  # an alias of body
            alias = flat.pop("text")
            if alias is not None and not isinstance(alias, str):
                raise PostError(f"'text' must be a string, not {type(alias).__name__}")
            if flat.get("body") is None and alias is not None:
                flat["body"] = alias
        post_id = flat.pop("id", None)
        if post_id is None:
            raise PostError("the post has no 'id'")
        post_id = _identifier(post_id, "id")
        user = flat.pop("author.id", None)
        if user is None:
            user = flat.pop("user_id", None)
        if user is not None:
            user = _identifier(user, "author.id")
        texts: dict[str, str] = {}
        facts: dict[str, float | bool] = {}
        for key, value in flat.items():
            kind = F.kind_of(key)
            if kind is None or value is None:
                continue  # unknown keys are the pipeline's business
            if kind == F.TEXT:
                if not isinstance(value, str):
                    raise PostError(f"'{key}' must be a string, not {type(value).__name__}")
                texts[key] = value
            elif kind == F.NUMBER:
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise PostError(f"'{key}' must be a number, not {type(value).__name__}")
                facts[key] = value
            else:
                if not isinstance(value, bool):
                    raise PostError(f"'{key}' must be true or false, not {value!r}")
                facts[key] = value
        return cls(str(post_id), texts, facts, str(user) if user is not None else None)
