"""The reviewer's endpoints: accounts with roles, sessions that expire, the queue, cases and appeals
decided under the signed-in account, and what only a senior may do."""

from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from policy import Engine, Post
from policy.cli import main
from policy.engine.live import LiveEngine
from policy.service.app import create_app
from policy.store import LedgerError, open_ledger
from policy.store.ledger import hash_password, password_matches

from .conftest import write_policy

RULES = """
lexicon insult { terms "笨蛋" "傻逼" }
lexicon ads { terms "代发" }
rule r.insult "谩骂" { category unfriendly clause 一.2.6 severity 1 when body has insult }
rule spam.ads "广告" { category spam clause 一.3.8 when body has ads }
ladder "处罚" {
  step d1 "禁言 1 天" mute 1 day
  step d7 "禁言 7 天" mute 7 days
  step d15 "禁言 15 天" mute 15 days
  step forever "永久禁言" mute permanent
  start severity 1 at d1
  start severity 2 at d1
  escalate within 180 days
  expire after 365 days
  hold permanent "永久处罚须人工复核" when sanction.permanent
  hold protected "受保护作者" when author.protected
  confirm 2 when sanction.permanent
}
brake "紧急制动" {
  watch 7 days
  share 5
  minimum 20
}
"""
PASSWORD = "correct horse battery"
T0 = datetime.now(timezone.utc) - timedelta(days=30)


def post(post_id: str, body: str, user: str = "u1", **author) -> Post:
    return Post.from_dict({"id": post_id, "body": body, "author": {"id": user, **author}})


@pytest.fixture
def service(tmp_path, ledger_target):
    """A service over a ledger with four accounts, a user u1 with four insults (the fourth held as
    permanent) and a protected user u2 whose insult is held."""
    folder = write_policy(tmp_path / "policy", RULES)
    engine = Engine.load(folder)
    ledger = open_ledger(ledger_target)
    for name, role in [("alice", "reviewer"), ("bob", "reviewer"), ("sara", "senior"), ("sam", "senior"),
                       ("ada", "admin")]:
        ledger.add_account(name, role, PASSWORD)
    verdicts = [ledger.process(engine, post(f"p{i}", "你个笨蛋"), at=T0 + timedelta(days=i)) for i in range(4)]
    ledger.process(engine, post("q1", "笨蛋", user="u2", protected=True), at=T0 + timedelta(days=5))
    client = TestClient(create_app(LiveEngine(folder), ledger_target), raise_server_exceptions=False)
    return client, ledger, engine, verdicts


def sign_in(client: TestClient, name: str) -> dict:
    response = client.post("/v1/auth/login", json={"name": name, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def held(client: TestClient, as_: dict, **filters) -> list[dict]:
    return client.get("/v1/review/queue", params=filters, headers=as_).json()["cases"]


# ---- accounts and sessions --------------------------------------------------------------------------

def test_passwords_are_kept_as_scrypt_hashes_that_only_the_password_matches():
    stored = hash_password("一个很长的口令 1234")
    assert stored.startswith("scrypt$16384$8$1$") and "1234" not in stored
    assert password_matches("一个很长的口令 1234", stored)
    assert not password_matches("一个很长的口令 1235", stored)
    assert hash_password("same password") != hash_password("same password")  # salted


def test_signing_in_gives_a_token_and_a_wrong_password_or_name_does_not(service):
    client, ledger, _, _ = service
    response = client.post("/v1/auth/login", json={"name": "alice", "password": PASSWORD})
    assert response.status_code == 200 and response.json()["role"] == "reviewer"
    assert response.json()["token"].startswith("ps_")
    for name, password in [("alice", "wrong password"), ("nobody", PASSWORD)]:
        refused = client.post("/v1/auth/login", json={"name": name, "password": password})
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthenticated"
    actions = [(row["actor"], row["action"]) for row in ledger.audit_rows()]
    assert ("alice", "session.started") in actions and ("alice", "session.refused") in actions


def test_the_reviewer_endpoints_need_a_live_session(service):
    client, ledger, _, _ = service
    assert client.get("/v1/review/queue").status_code == 401
    assert client.get("/v1/review/queue", headers={"Authorization": "Bearer ps_made-up"}).status_code == 401
    token, _, _ = ledger.sign_in("alice", PASSWORD, at=datetime.now(timezone.utc) - timedelta(hours=13))
    expired = client.get("/v1/review/queue", headers={"Authorization": f"Bearer {token}"})
    assert expired.status_code == 401 and "expired" in expired.json()["error"]["message"]
    alice = sign_in(client, "alice")
    assert client.get("/v1/review/queue", headers=alice).status_code == 200
    assert client.post("/v1/auth/logout", headers=alice).json() == {"signed_out": "alice"}
    assert client.get("/v1/review/queue", headers=alice).status_code == 401


def test_a_disabled_account_is_signed_out_and_cannot_sign_in_again(service):
    client, ledger, _, _ = service
    bob = sign_in(client, "bob")
    ada = sign_in(client, "ada")
    assert client.post("/v1/accounts/bob/disable", headers=sign_in(client, "alice")).status_code == 403
    assert client.post("/v1/accounts/bob/disable", headers=ada).status_code == 200
    assert client.get("/v1/review/queue", headers=bob).status_code == 401
    assert client.post("/v1/auth/login", json={"name": "bob", "password": PASSWORD}).status_code == 401
    names = {a["name"]: a["disabled_at"] for a in client.get("/v1/accounts", headers=ada).json()["accounts"]}
    assert names["bob"] is not None and names["alice"] is None


def test_an_admin_adds_accounts_and_the_ledger_refuses_a_short_password_or_a_taken_name(service):
    client, _, _, _ = service
    ada = sign_in(client, "ada")
    added = client.post("/v1/accounts", json={"name": "carol", "role": "senior", "password": PASSWORD}, headers=ada)
    assert added.status_code == 200
    assert client.post("/v1/auth/login", json={"name": "carol", "password": PASSWORD}).json()["role"] == "senior"
    taken = client.post("/v1/accounts", json={"name": "carol", "role": "reviewer", "password": PASSWORD}, headers=ada)
    assert taken.status_code == 409 and "exists" in taken.json()["error"]["message"]
    short = client.post("/v1/accounts", json={"name": "dan", "role": "reviewer", "password": "short"}, headers=ada)
    assert short.status_code == 422


# ---- the queue and its cases ------------------------------------------------------------------------

def test_the_queue_lists_held_sanctions_oldest_first_with_filters_and_paging(service):
    client, _, _, _ = service
    alice = sign_in(client, "alice")
    cases = held(client, alice)
    assert [(c["user"], c["step"]) for c in cases] == [("u1", "forever"), ("u2", "d1")]
    assert [c["user"] for c in held(client, alice, hold="受保护")] == ["u2"]
    assert held(client, alice, rule="spam.ads") == []
    page = client.get("/v1/review/queue", params={"limit": 1, "offset": 1}, headers=alice).json()
    assert page["total"] == 2 and [c["user"] for c in page["cases"]] == ["u2"]
    case = client.get(f"/v1/review/cases/{cases[0]['case']}", headers=alice).json()
    assert case["sanction"]["step"] == "forever" and case["post"]["body"] == "你个笨蛋"
    assert case["verdicts"][0]["violations"][0]["evidence"][0]["text"] == "笨蛋"
    assert client.get("/v1/review/cases/S999", headers=alice).status_code == 404
    assert client.get("/v1/review/cases/X1", headers=alice).status_code == 404


def test_the_queue_filters_by_category_hold_name_and_time_waited_and_lists_open_appeals(service):
    client, ledger, _, verdicts = service
    alice = sign_in(client, "alice")
    ledger.appeal(verdicts[0].verdict_id, "我是在骂自己", user="u1")
    everything = held(client, alice)
    assert [c["kind"] for c in everything] == ["sanction", "sanction", "appeal"]  # oldest first: the appeal is new
    assert {c["category"] for c in everything} == {"unfriendly"}
    assert held(client, alice, category="spam") == []
    assert [c["user"] for c in held(client, alice, hold="protected")] == ["u2"]
    assert [c["case"][0] for c in held(client, alice, kind="appeal")] == ["A"]
    assert [c["user"] for c in held(client, alice, waited_hours=26 * 24)] == ["u1"]  # held 27 days ago
    assert [c["user"] for c in held(client, alice, sort="newest")] == ["u1", "u2", "u1"]
    assert client.get("/v1/review/queue", params={"waited_hours": -1}, headers=alice).status_code == 422


def test_a_permanent_sanction_needs_two_distinct_senior_accounts_whatever_name_the_client_sends(service):
    client, ledger, _, _ = service
    case = held(client, sign_in(client, "alice"), hold="永久")[0]["case"]
    decide = f"/v1/review/cases/{case}/decision"
    refused = client.post(decide, json={"decision": "approve", "reason": "屡教不改"}, headers=sign_in(client, "alice"))
    assert refused.status_code == 403 and "senior" in refused.json()["error"]["message"]
    sara = sign_in(client, "sara")
    body = {"decision": "approve", "reason": "屡教不改", "reviewer": "sam"}  # the name is not the client's to say
    assert client.post(decide, json=body, headers=sara).json()["sanction"]["status"] == "pending_review"
    assert client.post(decide, json=body, headers=sara).json()["sanction"]["status"] == "pending_review"
    done = client.post(decide, json=body, headers=sign_in(client, "sam")).json()["sanction"]
    assert done["status"] == "active"
    decided = [(row["actor"], row["action"]) for row in ledger.audit_rows() if row["action"] == "review.decided"]
    assert decided == [("sara", "review.decided"), ("sara", "review.decided"), ("sam", "review.decided")]


def test_a_protected_authors_case_is_a_seniors_and_a_changed_step_takes_effect(service):
    client, ledger, _, _ = service
    case = held(client, sign_in(client, "bob"), hold="受保护")[0]["case"]
    decide = f"/v1/review/cases/{case}/decision"
    assert client.post(decide, json={"decision": "reject", "reason": "玩笑"}, headers=sign_in(client, "bob")
                       ).status_code == 403
    changed = client.post(decide, json={"decision": "change", "reason": "从轻", "step": "d1"},
                          headers=sign_in(client, "sara"))
    assert changed.status_code == 200 and changed.json()["sanction"]["status"] == "active"
    wrong = client.post(decide, json={"decision": "approve", "reason": "again"}, headers=sign_in(client, "sara"))
    assert wrong.status_code == 409 and "not waiting for review" in wrong.json()["error"]["message"]


def test_a_reported_post_is_a_case_a_reviewer_dismisses_or_sanctions(service):
    client, ledger, engine, _ = service
    ledger.process(engine, post("n1", "今天天气不错", user="u3"))
    ledger.report("n1", "u9", "他在骂人")
    alice = sign_in(client, "alice")
    (case,) = held(client, alice, kind="report")
    assert case["case"] == "Rn1" and case["reports"] == 1
    assert client.get("/v1/review/cases/Rn1", headers=alice).json()["reports"][0]["reason"] == "他在骂人"
    decision = {"decision": "sanction", "reason": "确有辱骂", "step": "d1"}
    made = client.post("/v1/review/cases/Rn1/decision", json=decision, headers=alice).json()["sanction"]
    assert (made["user_id"], made["step"], made["status"]) == ("u3", "d1", "active")
    assert held(client, alice, kind="report") == []


# ---- appeals and a user's history --------------------------------------------------------------------

def test_overturning_an_appeal_lifts_the_sanction_and_corrects_the_users_history(service):
    client, ledger, _, verdicts = service
    appeal_id = ledger.appeal(verdicts[0].verdict_id, "我是在骂自己", user="u1")
    alice = sign_in(client, "alice")
    listed = client.get("/v1/appeals", params={"status": "open", "user": "u1"}, headers=alice).json()
    assert [a["appeal_id"] for a in listed["appeals"]] == [appeal_id]
    shown = client.get(f"/v1/appeals/{appeal_id}", headers=alice).json()
    assert shown["verdict"]["decision"] == "reject" and shown["sanctions"][0]["step"] == "d1"
    decided = client.post(f"/v1/appeals/{appeal_id}/decision", json={"outcome": "overturn", "reason": "不针对他人"},
                          headers=alice)
    assert decided.status_code == 200 and decided.json()["appeal"]["reviewer"] == "alice"
    history = client.get("/v1/users/u1", headers=alice).json()
    assert [s["status"] for s in history["strikes"]] == ["removed", "active", "active", "active"]
    live = [(s["post_id"], s["step"]) for s in history["sanctions"] if s["status"] in ("active", "pending_review")]
    assert live == [("p1", "d1"), ("p2", "d7"), ("p3", "d15")]  # the permanent one is gone, the rest step down
    again = client.post(f"/v1/appeals/{appeal_id}/decision", json={"outcome": "uphold", "reason": "x"}, headers=alice)
    assert again.status_code == 409
    assert client.get("/v1/appeals/999", headers=alice).status_code == 404


def test_verdicts_and_the_audit_chain_can_be_read_and_verified(service):
    client, _, _, verdicts = service
    alice = sign_in(client, "alice")
    assert client.get(f"/v1/verdicts/{verdicts[1].verdict_id}", headers=alice).json()["post_id"] == "p1"
    assert client.get("/v1/verdicts/nope", headers=alice).status_code == 404
    assert len(client.get("/v1/posts/p1/verdicts", headers=alice).json()["verdicts"]) == 1
    assert client.get("/v1/audit/verify", headers=alice).json()["ok"] is True
    rows = client.get("/v1/audit", params={"tail": 3}, headers=alice).json()["rows"]
    assert len(rows) == 3 and rows[-1]["action"] == "session.started"


# ---- the brake and bulk revert ----------------------------------------------------------------------

def test_only_a_senior_resets_a_brake_or_reverts_and_a_revert_is_a_dry_run_unless_told(service):
    client, ledger, engine, _ = service
    for i in range(25):  # every post an ad, within the week the new rules are watched: the brake trips
        ledger.process(engine, post(f"a{i}", "专业代发", user=f"w{i}"), at=T0 + timedelta(days=6, minutes=i))
    alice, sara = sign_in(client, "alice"), sign_in(client, "sara")
    assert [t["rule"] for t in client.get("/v1/brake", headers=alice).json()["tripped"]] == ["spam.ads"]
    since = (T0 + timedelta(days=6)).date().isoformat()
    body = {"rule": "spam.ads", "since": since, "reason": "误伤"}
    assert client.post("/v1/revert", json=body, headers=alice).status_code == 403
    dry = client.post("/v1/revert", json=body, headers=sara).json()
    assert dry["dry_run"] is True and len(dry["sanctions"]) == 25
    assert all(s.status != "reverted" for s in ledger.sanctions() if s.rule == "spam.ads")
    done = client.post("/v1/revert", json=dict(body, dry_run=False), headers=sara).json()
    assert len(done["sanctions"]) == 25
    assert client.post("/v1/brake/spam.ads/reset", json={"reason": "已修复"}, headers=alice).status_code == 403
    assert client.post("/v1/brake/spam.ads/reset", json={"reason": "已修复"}, headers=sara).status_code == 200
    assert client.get("/v1/brake", headers=alice).json()["tripped"] == []
    assert client.post("/v1/brake/spam.ads/reset", json={"reason": "again"}, headers=sara).status_code == 404


def test_an_admin_session_may_reload_the_policy_and_a_reviewer_session_may_not(service):
    client, _, _, _ = service
    assert client.post("/v1/policy/reload", headers=sign_in(client, "sara")).status_code == 403
    assert client.post("/v1/policy/reload", headers=sign_in(client, "ada")).json()["loaded"] is True


# ---- the command line ------------------------------------------------------------------------------

def test_policy_user_add_reads_the_password_from_stdin_and_refuses_a_short_one(ledger_target, capsys, monkeypatch):
    import io

    db = ledger_target
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["user", "add", "erin", "--role", "senior", "--password-stdin", "--db", db]) == 0
    assert open_ledger(db).sign_in("erin", PASSWORD) is not None
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["user", "add", "fay", "--password-stdin", "--db", db]) != 0
    assert "at least 10 characters" in capsys.readouterr().err
    assert main(["user", "disable", "erin", "--db", db]) == 0
    assert main(["user", "list", "--db", db]) == 0
    assert "disabled" in capsys.readouterr().out
    with pytest.raises(LedgerError):
        open_ledger(db).add_account("erin", "admin", PASSWORD)
