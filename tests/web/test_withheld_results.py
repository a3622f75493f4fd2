"""The web pages keep an assessment's withheld results from their member, as the API does."""

from __future__ import annotations

from api import storage
from api.tables import Role
from tests.api.cohort_helpers import attempt, setup
from tests.api.helpers import RETRY, work
from tests.web.conftest import sign_in


def test_a_withheld_result_stays_off_the_members_pages(api):
    made, test, organiser, alice_api = setup(api, result_visibility="after_close")
    accepted = attempt(api, alice_api, test["id"]).json()
    work(api, accepted["run_id"])
    with api.service.session() as session:
        result_id = storage.latest_result(session=session, submission_id=accepted["id"]).id
    alice = sign_in(api, Role.CANDIDATE, "alice")

    assert alice.get(f"/results/{result_id}").status_code == 404
    assert alice.get(f"/results/{result_id}/download").status_code == 404
    progress = alice.get(f"/submissions/{accepted['id']}", follow_redirects=False)
    assert progress.status_code == 200 and result_id not in progress.text
    with alice.stream("GET", f"/submissions/{accepted['id']}/events") as stream:
        body = "".join(stream.iter_text())
    assert "event: done" in body and result_id not in body and "score" not in body
    for path in ("/profile", f"/tasks/{RETRY}", f"/tasks/{RETRY}/history", "/tasks"):
        page = alice.get(path)
        assert page.status_code == 200 and result_id not in page.text, path
    assert "100/100" not in alice.get("/tasks").text  # no best score from the withheld attempt

    staff = sign_in(api, Role.AUTHOR, "olga")  # the organiser reads it
    assert staff.get(f"/results/{result_id}").status_code == 200
