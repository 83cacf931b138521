"""The fields a condition can read, and their types.

Text fields are scanned by lexicons and regexes; number and boolean facts are
supplied by the pipeline with the post (``links`` and ``mentions`` are counted
from the text when the pipeline does not supply them).  A fact the post does not
carry makes every comparison on it false.
"""

from __future__ import annotations

TEXT = "text"
NUMBER = "number"
BOOLEAN = "boolean"

FIELDS: dict[str, tuple[str, str]] = {
    "title": (TEXT, "the post's title"),
    "body": (TEXT, "the post's body (`text` is accepted as an alias in input)"),
    "author.name": (TEXT, "the author's display name"),
    "author.bio": (TEXT, "the author's profile text"),
    "links": (NUMBER, "URLs in title and body (counted when not supplied)"),
    "mentions": (NUMBER, "@mentions in title and body (counted when not supplied)"),
    "images": (NUMBER, "images attached to the post"),
    "author.account_age_days": (NUMBER, "days since the author registered"),
    "author.followers": (NUMBER, "the author's follower count"),
    "author.posts_last_hour": (NUMBER, "posts the author made in the last hour"),
    "author.similar_posts_24h": (NUMBER, "near-identical posts by the author in 24 hours"),
    "author.linked_accounts": (NUMBER, "other accounts the platform links to the author"),
    "target.age": (NUMBER, "age of the person the post is aimed at"),
    "author.protected": (BOOLEAN, "the author is protected or high-profile"),
    "author.verified": (BOOLEAN, "the author's identity is verified"),
    "target.minor": (BOOLEAN, "the post is aimed at a minor"),
    "author.registration_cheat": (BOOLEAN, "the platform found the account registered or used by cheating"),
}

COUNTED_FACTS = ("links", "mentions")
"""Facts counted from title and body when the pipeline does not supply them: never missing."""

LADDER_FIELDS: dict[str, tuple[str, str]] = {
    "sanction.permanent": (BOOLEAN, "the sanction is a permanent mute or an account closure"),
    "sanction.step": (NUMBER, "the step reached, 1 for the lightest"),
    "rule.shadow": (BOOLEAN, "the deciding rule is in shadow mode"),
    "rule.review": (BOOLEAN, "the deciding rule asks for review (`action review`)"),
    "rule.severity": (NUMBER, "the deciding rule's severity"),
    "verdict.unsure": (BOOLEAN, "the engine was unsure (a regex timed out, the post was too long)"),
    "author.strikes": (NUMBER, "the author's prior strikes still counting"),
}
"""Facts that only the ladder's factors, holds and confirmations can read."""


def kind_of(name: str, ladder: bool = False) -> str | None:
    entry = FIELDS.get(name) or (LADDER_FIELDS.get(name) if ladder else None)
    return entry[0] if entry else None
