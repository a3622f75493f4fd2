"""The similarity report through the API: flags a copied pair for staff, side by side, and changes no score."""

from __future__ import annotations

from api.tables import Role
from tests.api.cohort_helpers import assessment, attempt, cohort, member
from tests.api.helpers import work
from tests.engine.test_similarity import ORIGINAL, OTHER, RENAMED


def test_a_copied_pair_is_flagged_side_by_side_and_no_score_changes(api):
    organiser = api.token(Role.AUTHOR, "olga")
    made = cohort(api, organiser, "subject,display_name,email\na,A,a@x.org\nb,B,b@x.org\nc,C,c@x.org\n")
    test = assessment(api, organiser, made["id"])
    ids = {}
    for subject, text in (("a", ORIGINAL), ("b", RENAMED), ("c", OTHER)):
        headers = member(api, made["invitations"][subject])
        accepted = attempt(api, headers, test["id"], files={"retry.py": text.decode()}).json()
        work(api, accepted["run_id"], passed=True)
        ids[subject] = accepted["id"]
    before = api.client.get(f"/v1/assessments/{test['id']}/matrix", headers=organiser).json()
    report = api.client.get(f"/v1/assessments/{test['id']}/similarity", headers=organiser).json()
    assert [(p["a"]["candidate"], p["b"]["candidate"]) for p in report["data"]] in ([("a", "b")], [("b", "a")])
    assert "never changed" in report["note"]
    pair = report["data"][0]
    side = api.client.get(pair["links"]["side_by_side"], headers=organiser).json()
    assert side["a"]["matched_lines"] and side["b"]["matched_lines"]
    assert "def again" in side["a"]["files"].get("retry.py", "") + side["b"]["files"].get("retry.py", "")
    assert api.client.get(f"/v1/assessments/{test['id']}/matrix", headers=organiser).json() == before
    alice = member(
        api, api.client.post(f"/v1/cohorts/{made['id']}/members/a/invitation", headers=organiser).json()["invitation"]
    )
    assert api.client.get(f"/v1/assessments/{test['id']}/similarity", headers=alice).status_code == 404
    wrong = api.client.get(f"/v1/assessments/{test['id']}/similarity/{ids['a']}/no-such", headers=organiser)
    assert wrong.status_code == 404
