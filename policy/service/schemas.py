"""The service's request and response shapes, as the OpenAPI document at ``/openapi.json`` gives them.

Requests are validated against these models; a post is then read by
:meth:`policy.model.post.Post.from_dict` exactly as ``policy scan`` reads a line, so the service
and the command line accept the same posts.  Verdicts are written by
:meth:`policy.model.verdict.Verdict.to_json` (schema ``policy-verdict/1``); the models below
describe that JSON so that clients and the schema tests can check it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_BATCH = 100
"""Posts one ``/v1/check/batch`` request may carry."""


class Author(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str | int | None = None
    name: str | None = None
    bio: str | None = None
    account_age_days: float | None = None
    followers: float | None = None
    posts_last_hour: float | None = None
    similar_posts_24h: float | None = None
    linked_accounts: float | None = None
    protected: bool | None = None
    verified: bool | None = None
    registration_cheat: bool | None = None


class Target(BaseModel):
    model_config = ConfigDict(extra="allow")

    age: float | None = None
    minor: bool | None = None


class PostIn(BaseModel):
    """A post as the pipeline sends it (the README's "Use it from a pipeline"); keys the engine
    does not read are allowed and ignored."""

    model_config = ConfigDict(extra="allow")

    id: str | int = Field(description="the platform's post id")
    body: str | None = None
    text: str | None = Field(None, description="an alias of body")
    title: str | None = None
    author: Author | None = None
    target: Target | None = None
    links: float | None = None
    mentions: float | None = None
    images: float | None = None


class BatchIn(BaseModel):
    posts: list[PostIn] = Field(max_length=MAX_BATCH, description=f"at most {MAX_BATCH} posts")


class Clause(BaseModel):
    id: str
    text: str


class Source(BaseModel):
    path: str
    line: int


class EvidenceOut(BaseModel):
    field: str
    kind: Literal["lexicon", "regex", "contact", "fact"]
    start: int | None = None
    end: int | None = None
    text: str | None = None
    lexicon: str | None = None
    term: str | None = None
    normalized: str | bool | None = None
    tags: list[str] | None = None
    pattern: str | None = None
    contact: str | None = None
    value: Any = None


class ViolationOut(BaseModel):
    rule: str
    title: str
    category: str
    category_title: str
    clauses: list[Clause]
    severity: int
    mode: str
    action: str
    explanation: str
    evidence: list[EvidenceOut]
    evidence_total: int
    source: Source


class Factor(BaseModel):
    name: str
    title: str
    raises: int


class Hold(BaseModel):
    name: str
    reason: str


class SanctionOut(BaseModel):
    step: str
    title: str
    action: str
    days: int | None
    permanent: bool
    level: int
    rule: str
    severity: int
    strikes_counted: int
    counted_posts: list[str]
    factors: list[Factor]
    holds: list[Hold]
    reviewers_needed: int
    status: str
    path: list[str]


class PolicyRef(BaseModel):
    name: str
    version: str


class VerdictOut(BaseModel):
    """A verdict, schema ``policy-verdict/1`` (README "The verdict")."""

    schema_: Literal["policy-verdict/1"] = Field(alias="schema")
    verdict_id: str
    post_id: str
    user_id: str | None
    checked_at: str
    policy: PolicyRef
    decision: Literal["allow", "review", "reject"]
    sanction: SanctionOut | None
    violations: list[ViolationOut]
    shadow: list[ViolationOut]
    warnings: list[str]


class BatchOut(BaseModel):
    verdicts: list[VerdictOut]


class ErrorBody(BaseModel):
    code: str = Field(description="stable, for programs: invalid_json, invalid_request, invalid_post, "
                                  "too_large, not_found, method_not_allowed, internal")
    message: str = Field(description="for people")
    details: list[dict[str, Any]] | None = None


class ErrorOut(BaseModel):
    error: ErrorBody


class Health(BaseModel):
    status: Literal["ok"]
    worker: int = Field(description="the process id of the worker that answered (`policy serve --workers N`)")


class Ready(BaseModel):
    status: Literal["ready", "unavailable"]
    policy: PolicyRef | None = None
    ledger: str
    problem: str | None = None


class ReportIn(BaseModel):
    post_id: str = Field(min_length=1, description="a post the ledger has recorded (through /v1/process)")
    reporter: str = Field(min_length=1, description="the reporting user")
    reason: str = Field(min_length=1)


class ReportOut(BaseModel):
    report_id: int


class AppealIn(BaseModel):
    verdict_id: str = Field(min_length=1)
    reason: str = Field(min_length=1, description="the user's reason")
    user: str | None = Field(None, description="the appealing user; must be the verdict's user when given")


class AppealOut(BaseModel):
    appeal_id: int


class ReloadOut(BaseModel):
    loaded: bool
    version: str = Field(description="the version serving after the attempt (the old one when it failed)")
    previous: str
    error: str | None = None
    diagnostics: list[dict[str, Any]] = Field(default_factory=list)
