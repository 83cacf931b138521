"""The HTTP service: the pipeline's endpoints, operations endpoints, errors as JSON, and every
endpoint against its OpenAPI schema with schemathesis (no 500 for any input)."""

import json
import os
import tempfile
import urllib.request
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.errors import FailureGroup

from policy.cli import main
from policy.engine.live import LiveEngine
from policy.service.app import MAX_BODY_BYTES, create_app
from policy.store import SqliteLedger, open_ledger

from .conftest import policy_serve, write_policy

RULES = """
lexicon abuse { terms "傻逼" "蠢货" }
rule r.abuse "谩骂" {
  category unfriendly
  clause 一.2.6
  when body has abuse
  action reject
  explain "谩骂：{evidence}"
}
"""


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    return LiveEngine(write_policy(tmp_path_factory.mktemp("policy"), RULES))


@pytest.fixture
def client(live, tmp_path):
    return TestClient(create_app(live, str(tmp_path / "ledger.db")), raise_server_exceptions=False)


def test_a_post_checked_over_http_gets_the_verdict_with_evidence_at_its_characters(client):
    response = client.post("/v1/check", json={"id": "p1", "body": "你是傻逼吧", "author": {"id": "u1"}})
    assert response.status_code == 200
    verdict = response.json()
    assert verdict["schema"] == "policy-verdict/1" and verdict["decision"] == "reject"
    evidence = verdict["violations"][0]["evidence"][0]
    assert (evidence["start"], evidence["end"], evidence["text"]) == (2, 4, "傻逼")
    assert verdict["user_id"] == "u1"


def test_a_batch_gets_one_verdict_a_post_in_order(client):
    posts = [{"id": i, "body": body} for i, body in enumerate(["你好", "蠢货", "今天天气不错"])]
    response = client.post("/v1/check/batch", json={"posts": posts})
    assert [v["decision"] for v in response.json()["verdicts"]] == ["allow", "reject", "allow"]
    assert [v["post_id"] for v in response.json()["verdicts"]] == ["0", "1", "2"]


@pytest.mark.parametrize("body, status, code", [
    (b"{not json", 400, "invalid_json"),
    (b'{"body": "no id"}', 400, "invalid_post"),
    (b'{"id": "p", "body": 7}', 400, "invalid_post"),
    (b'{"id": "p", "author": {"verified": "yes"}}', 400, "invalid_post"),
    (b'[1, 2]', 400, "invalid_post"),
])
def test_a_bad_post_is_a_4xx_with_a_stable_code_and_a_message_naming_the_problem(client, body, status, code):
    response = client.post("/v1/check", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status
    assert response.json()["error"]["code"] == code and response.json()["error"]["message"]


def test_a_bad_post_in_a_batch_is_named_by_its_place(client):
    response = client.post("/v1/check/batch", json={"posts": [{"id": 1, "body": "好"}, {"body": "?"}]})
    assert response.status_code == 400 and response.json()["error"]["message"].startswith("posts[1]: ")


def test_a_body_over_the_limit_is_refused_with_413(client):
    response = client.post("/v1/check", content=b'{"id": "p", "body": "' + b"x" * MAX_BODY_BYTES + b'"}')
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"


def test_unknown_paths_and_methods_are_json_errors(client):
    assert client.get("/v1/nothing").json()["error"]["code"] == "not_found"
    assert client.get("/v1/check").json()["error"]["code"] == "method_not_allowed"


def test_health_readiness_and_metrics(client):
    assert client.get("/healthz").json() == {"status": "ok", "worker": os.getpid()}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["policy"]["name"] == "测试公约"
    client.post("/v1/check", json={"id": "p1", "body": "傻逼"})
    text = client.get("/metrics").text
    assert 'policy_checks_total{decision="reject"} 1.0' in text
    assert 'policy_rule_matches_total{rule="r.abuse"} 1.0' in text
    assert 'policy_info{name="测试公约",version="' in text
    assert "policy_check_seconds_bucket" in text and "policy_brakes_tripped 0.0" in text


def test_readiness_fails_when_the_ledger_cannot_be_opened(live, tmp_path):
    client = TestClient(create_app(live, str(tmp_path / "missing" / "ledger.db")), raise_server_exceptions=False)
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json()["status"] == "unavailable"


def test_a_hostile_post_is_answered_not_crashed_on(client):
    body = {"id": "h", "body": "傻\udfff逼" + "\u200b" * 50 + "<script>alert(1)</script>", "title": None}
    response = client.post("/v1/check", content=json.dumps(body).encode(),  # a lone surrogate, as a JSON escape
                           headers={"content-type": "application/json"})
    assert response.status_code == 200
    assert "\\udfff" in response.text  # written back as an escape: UTF-8 cannot hold it


# ---- every endpoint against its schema -------------------------------------------------------------

def _schema_app():
    """An app over its own temporary policy and ledger, made at import (schemathesis reads the
    schema when the tests are collected), and an admin key for it."""
    root = Path(tempfile.mkdtemp(prefix="policy-schema-"))
    ledger = SqliteLedger(root / "ledger.db")
    token = ledger.add_api_key("schema-tests", "admin")
    ledger.add_account("schema-admin", "admin", SCHEMA_PASSWORD)
    return create_app(LiveEngine(write_policy(root / "policy", RULES)), str(root / "ledger.db")), token, ledger


SCHEMA_PASSWORD = "a long enough password"
SCHEMA_APP, ADMIN_KEY, SCHEMA_LEDGER = _schema_app()
_sessions: list[str] = []


def admin_session() -> str:
    """An admin reviewer's session token, signed in again when a generated logout ended it."""
    if not _sessions or SCHEMA_LEDGER.session(_sessions[-1]) is None:
        _sessions.append(SCHEMA_LEDGER.sign_in("schema-admin", SCHEMA_PASSWORD)[0])
    return _sessions[-1]
schema = schemathesis.openapi.from_asgi("/openapi.json", SCHEMA_APP)


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_endpoint_answers_any_input_within_its_schema(case):
    """No 500 for any generated input, and every response matches the documented schema
    (without a key, the protected endpoints answer 401)."""
    case.call_and_validate()


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_endpoint_answers_any_input_within_its_schema_with_an_admin_key(case):
    case.call_and_validate(headers={"Authorization": f"Bearer {ADMIN_KEY}"})


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_endpoint_answers_any_input_within_its_schema_signed_in_as_an_admin_reviewer(case):
    """The reviewer endpoints past their sign-in: an admin's session may do everything.  No 500 and
    every response as documented; only ST201 is left to the tests above, since a request made
    "invalid" by dropping its Authorization header still carries the session given here."""
    try:
        case.call_and_validate(headers={"Authorization": f"Bearer {admin_session()}"})
    except FailureGroup as group:
        if any(failure.code != "ST201" for failure in group.exceptions):
            raise


# ---- policy serve ---------------------------------------------------------------------------------

def test_policy_serve_answers_over_a_real_socket(tmp_path):
    folder = write_policy(tmp_path / "policy", RULES)
    with policy_serve("--policy", str(folder), "--db", str(tmp_path / "ledger.db")) as (base, ready):
        assert ready["status"] == "ready" and ready["ledger"] == str(tmp_path / "ledger.db")
        request = urllib.request.Request(base + "/v1/check", data=json.dumps({"id": "p", "body": "蠢货"}).encode(),
                                         headers={"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert json.loads(response.read())["decision"] == "reject"


def test_policy_serve_with_a_broken_policy_says_so_and_exits_2(tmp_path, capsys):
    folder = write_policy(tmp_path / "policy", 'rule r "r" { category nope clause 一.9 when body has nothing }')
    assert main(["serve", "--policy", str(folder), "--db", str(tmp_path / "l.db")]) == 2
    err = capsys.readouterr().err
    assert "error(s)" in err and "Traceback" not in err


# ---- what needs a key --------------------------------------------------------------------------------

@pytest.fixture
def keyed(live, ledger_target):
    ledger = open_ledger(ledger_target)
    keys = {"pipeline": ledger.add_api_key("pipe", "pipeline"), "admin": ledger.add_api_key("ops", "admin")}
    ledger.close()
    client = TestClient(create_app(live, ledger_target), raise_server_exceptions=False)
    return client, keys, ledger_target


def auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def test_nothing_that_changes_the_ledger_is_anonymous(keyed):
    client, keys, _ = keyed
    post = {"id": "p1", "body": "蠢货", "author": {"id": "u1"}}
    for path, body in [("/v1/process", post), ("/v1/reports", {"post_id": "p1", "reporter": "r", "reason": "x"}),
                       ("/v1/appeals", {"verdict_id": "v", "reason": "x"}), ("/v1/policy/reload", None)]:
        response = client.post(path, json=body)
        assert response.status_code == 401 and response.json()["error"]["code"] == "unauthenticated", path
        assert client.post(path, json=body, headers=auth("pk_not-a-key")).status_code == 401


def test_the_pipeline_processes_a_post_and_it_is_recorded(keyed):
    client, keys, db = keyed
    response = client.post("/v1/process", json={"id": "p1", "body": "蠢货", "author": {"id": "u1"}},
                           headers=auth(keys["pipeline"]))
    assert response.status_code == 200
    verdict = response.json()
    ledger = open_ledger(db)
    assert ledger.verdict(verdict["verdict_id"])["decision"] == "reject"
    assert ledger.post("p1").user_id == "u1" and len(ledger.verdicts(post_id="p1")) == 1


def test_reports_and_appeals_go_to_the_ledger_and_its_refusals_are_4xx(keyed):
    client, keys, _ = keyed
    key = auth(keys["pipeline"])
    verdict = client.post("/v1/process", json={"id": "p1", "body": "蠢货", "author": {"id": "u1"}}, headers=key).json()
    report = client.post("/v1/reports", json={"post_id": "p1", "reporter": "u9", "reason": "骂人"}, headers=key)
    assert report.status_code == 200 and report.json()["report_id"] >= 1
    unknown = client.post("/v1/reports", json={"post_id": "nope", "reporter": "u9", "reason": "x"}, headers=key)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    appeal = client.post("/v1/appeals", json={"verdict_id": verdict["verdict_id"], "reason": "误判"}, headers=key)
    assert appeal.status_code == 200
    again = client.post("/v1/appeals", json={"verdict_id": verdict["verdict_id"], "reason": "误判"}, headers=key)
    assert again.status_code == 409 and "already has an open appeal" in again.json()["error"]["message"]
    other = client.post("/v1/appeals", json={"verdict_id": verdict["verdict_id"], "reason": "x", "user": "u2"},
                        headers=key)
    assert other.status_code == 409


def test_only_an_admin_key_reloads_and_a_broken_policy_is_refused_while_the_old_one_serves(live, tmp_path):
    folder = write_policy(tmp_path / "policy", RULES)
    ledger = SqliteLedger(tmp_path / "ledger.db")
    pipe, ops = ledger.add_api_key("pipe", "pipeline"), ledger.add_api_key("ops", "admin")
    client = TestClient(create_app(LiveEngine(folder), str(tmp_path / "ledger.db")), raise_server_exceptions=False)
    before = client.get("/readyz").json()["policy"]["version"]
    assert client.post("/v1/policy/reload", headers=auth(pipe)).status_code == 403
    (folder / "main.policy").write_text((folder / "main.policy").read_text() + "\nrule broken {\n", encoding="utf-8")
    refused = client.post("/v1/policy/reload", headers=auth(ops))
    assert refused.status_code == 409 and refused.json()["loaded"] is False and refused.json()["diagnostics"]
    assert client.get("/readyz").json()["policy"]["version"] == before
    assert client.post("/v1/check", json={"id": "p", "body": "蠢货"}).json()["decision"] == "reject"
    audit = [(row["actor"], row["action"]) for row in ledger.audit_rows()]
    assert ("ops", "policy.reload_refused") in audit


def test_a_revoked_key_is_refused(keyed):
    client, keys, db = keyed
    open_ledger(db).revoke_api_key("pipe")
    response = client.post("/v1/process", json={"id": "p1", "body": "好"}, headers=auth(keys["pipeline"]))
    assert response.status_code == 401
