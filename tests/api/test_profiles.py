"""Profiles read from the standings give what the evidence gives, in every view: the candidate's own
(withheld assessments left out), a cohort's staff (other cohorts left out), an admin's."""

from __future__ import annotations

from api import cohorts, storage
from api.routes.submissions import profile_from_evidence
from api.tables import Role
from tests.api.cohort_helpers import ROSTER, assessment, attempt, cohort, member
from tests.api.helpers import submit, work


def _from_evidence(api, candidate: str, hidden: set[str]) -> dict:
    """The profile as it was built before the standings: every piece of evidence, in time order."""
    with api.service.session() as session:
        evidence = [
            r for r in storage.skill_evidence(session=session, candidate=candidate) if r.result_id not in hidden
        ]
    return profile_from_evidence(candidate, evidence).model_dump(mode="json")


def test_profiles_from_the_standings_equal_the_profiles_from_the_evidence(api):
    olga, oscar = api.token(Role.AUTHOR, "olga"), api.token(Role.AUTHOR, "oscar")
    first, second = cohort(api, olga), cohort(api, oscar, roster=ROSTER, name="B")
    api.client.post(f"/v1/cohorts/{first['id']}/staff", headers=olga, json={"subject": "rita"})
    api.client.post(f"/v1/cohorts/{second['id']}/staff", headers=oscar, json={"subject": "rex"})
    shown = assessment(api, olga, first["id"], title="Shown")
    held = assessment(api, olga, first["id"], title="Held", result_visibility="after_close")
    other = assessment(api, oscar, second["id"], title="Other")
    alice = api.token(Role.CANDIDATE, "alice")
    in_first = member(api, first["invitations"]["alice"])
    in_second = member(api, second["invitations"]["alice"])
    # Practice and assessment work, passing and failing, interleaved: the latest and best move between scopes.
    for headers, test, passed in (
        (alice, None, False),
        (in_first, shown, True),
        (alice, None, True),
        (in_first, held, True),
        (in_second, other, False),
        (alice, None, False),
        (in_second, other, True),
    ):
        accepted = submit(api, headers) if test is None else attempt(api, headers, test["id"]).json()
        work(api, accepted["run_id"], passed=passed)

    with api.service.session() as session:
        withheld = cohorts.withheld_results(session, "alice")
        assert len(withheld) == 1  # the held assessment's attempt
    mine = api.client.get("/v1/profile", headers=alice).json()
    assert mine == _from_evidence(api, "alice", withheld)
    for reviewer in ("rita", "rex"):
        headers = api.token(Role.REVIEWER, reviewer)
        with api.service.session() as session:
            scope = cohorts.work_scope(session, api.service.principal(headers["Authorization"].split()[1]))
            hidden = cohorts.out_of_scope_results(session, "alice", scope)
        assert hidden  # the other cohort's work
        assert api.client.get("/v1/candidates/alice/profile", headers=headers).json() == _from_evidence(
            api, "alice", hidden
        )
    everything = api.client.get("/v1/candidates/alice/profile", headers=api.token(Role.ADMIN, "ada")).json()
    assert everything == _from_evidence(api, "alice", set())
    assert everything != mine and all(len(s["results"]) == 7 for s in everything["skills"].values())
