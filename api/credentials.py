"""Awarding, revoking and exporting stackable micro-credentials (Open Badges 3.0).

After every stored result the candidate's credentials are refreshed: a definition
newly met is awarded with the results that met it as evidence; an award whose
skills are no longer ``ready`` (a regrade or a later result said ``not_ready``)
is revoked. Staleness (``within_days``) only stops new awards. A revoked award
keeps its bit in the revocation status list, which the service publishes as a
signed ``BitstringStatusListCredential``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from api import storage
from api.tables import CredentialAward, CredentialDefinition, LogEntry, utcnow
from engine import openbadges, statuslist
from engine.checkpoints import raw_public
from engine.credentials import Criteria, SkillRecord, check_definitions, met
from engine.errors import Conflict, NotFound
from engine.signing import SigningKey

STATUS_PATH = "/credentials/status/revocation"


def criteria(row: CredentialDefinition) -> Criteria:
    return Criteria(skills=tuple(row.skills), within_days=row.within_days, credentials=tuple(row.credentials))


@dataclass
class Credentials:
    session: Callable[[], Session]
    public_url: str
    key: Callable[[], SigningKey]
    #: The micro-skills the catalogue's tasks assess: a definition may require only these.
    known_skills: Callable[[], set[str]] | None = None
    issuer_name: str = "tasktrial"

    def define(self, row: CredentialDefinition) -> CredentialDefinition:
        """Store a new definition once it is consistent with the others.

        Raises:
            CredentialDefinitionError: an unknown skill or stacked credential, a cycle, nothing required.
            Conflict: the id is taken.
        """
        with self.session() as session:
            existing = {d.id: criteria(d) for d in session.exec(select(CredentialDefinition)).all()}
            if row.id in existing:
                raise Conflict(f"credential definition {row.id!r} already exists")
            check_definitions({**existing, row.id: criteria(row)},
                              known_skills=self.known_skills() if self.known_skills is not None else None)
            session.add(row)
            session.commit()
            session.refresh(row)
            return row

    def refresh(self, candidate: str, now: datetime | None = None, *, attempts: int = 3) -> None:
        """Award what ``candidate`` newly meets; revoke what they no longer meet."""
        now = now or datetime.now(UTC)
        with self.session() as session:
            definitions = {d.id: criteria(d) for d in session.exec(select(CredentialDefinition)).all()}
            if not definitions:
                return
            evidence = [SkillRecord(skill=e.skill, verdict=e.verdict, at=_aware(e.at), result_id=e.result_id)
                        for e in storage.skill_evidence(session=session, candidate=candidate)]
            meeting = met(definitions, evidence, now)
            still = met({k: replace(v, within_days=None) for k, v in definitions.items()}, evidence, now)
            active = {a.definition_id: a for a in session.exec(
                select(CredentialAward).where(CredentialAward.candidate == candidate,
                                              col(CredentialAward.revoked_at).is_(None))).all()}
            for definition_id, award in active.items():
                if definition_id not in still:
                    award.revoked_at, award.revoked_reason = utcnow(), "criteria no longer met: a later result is not ready"
                    session.add(award)
            for definition_id, results in meeting.items():
                if definition_id not in active or active[definition_id].revoked_at is not None:
                    session.add(CredentialAward(definition_id=definition_id, candidate=candidate, evidence=results,
                                                status_index=_next_index(session)))
                    session.flush()
            try:
                session.commit()
            except IntegrityError:  # another process took the same status index: its refresh stands, retry ours
                session.rollback()
                if attempts <= 1:
                    raise
                self.refresh(candidate, now, attempts=attempts - 1)

    def revoke(self, award_id: str, reason: str) -> CredentialAward:
        """Revoke an award (an admin's decision). Revoking twice keeps the first reason.

        Raises:
            NotFound: no such award.
        """
        with self.session() as session:
            award = session.get(CredentialAward, award_id)
            if award is None:
                raise NotFound(f"unknown credential {award_id!r}")
            if award.revoked_at is None:
                award.revoked_at, award.revoked_reason = utcnow(), reason
                session.add(award)
                session.commit()
                session.refresh(award)
            return award

    def open_badge(self, award: CredentialAward) -> dict[str, Any]:
        """The award as a signed OpenBadgeCredential with a revocation status entry."""
        key = self.key().private_key
        with self.session() as session:
            definition = session.get(CredentialDefinition, award.definition_id)
            if definition is None:  # the award's foreign key: only a damaged database gets here
                raise NotFound(f"award {award.id} names an unknown credential definition {award.definition_id!r}")
            digests = {e.result_id: e.digest for e in session.exec(
                select(LogEntry).where(col(LogEntry.result_id).in_(award.evidence), LogEntry.view == "candidate"))}
        identity, salt = openbadges.subject_identity(award.candidate, salt=award.id)
        base = self.public_url.rstrip("/")
        credential = openbadges.open_badge(openbadges.Award(
            credential_id=f"urn:uuid:{_uuid(award.id)}", name=definition.name,
            description=definition.description or definition.name,
            criteria=_narrative(definition), achievement_id=f"{base}/credentials/definitions/{definition.id}",
            image=definition.image, skills=[(s, f"{base}/skills/{s}") for s in definition.skills],
            subject_hash=identity, subject_salt=salt,
            identity_type="emailAddress" if "@" in award.candidate else "issuerDesignatedId",
            evidence=[openbadges.Evidence(url=f"{base}/v1/results/{r}", digest=digests.get(r, "unknown"), name=r)
                      for r in award.evidence],
            issuer_name=self.issuer_name, issuer_url=base, valid_from=_aware(award.awarded_at)), raw_public(key))
        status_url = base + STATUS_PATH
        credential["credentialStatus"] = {
            "id": f"{status_url}#{award.status_index}", "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation", "statusListIndex": str(award.status_index),
            "statusListCredential": status_url}
        return openbadges.sign(credential, key)

    def status_list(self) -> dict[str, Any]:
        """The signed revocation BitstringStatusListCredential."""
        with self.session() as session:
            revoked = session.exec(select(CredentialAward.status_index)
                                   .where(col(CredentialAward.revoked_at).is_not(None))).all()
        key = self.key().private_key
        url = self.public_url.rstrip("/") + STATUS_PATH
        credential = {
            "@context": [openbadges.VC_V2], "id": url,
            "type": ["VerifiableCredential", "BitstringStatusListCredential"],
            "issuer": openbadges.did_key(raw_public(key)), "validFrom": openbadges._timestamp(datetime.now(UTC)),
            "credentialSubject": {"id": f"{url}#list", "type": "BitstringStatusList", "statusPurpose": "revocation",
                                  "encodedList": statuslist.encode(revoked)},
        }
        return openbadges.sign(credential, key)


def _next_index(session: Session) -> int:
    highest = session.exec(select(func.max(CredentialAward.status_index))).one()
    return 0 if highest is None else int(highest) + 1


def _narrative(definition: CredentialDefinition) -> str:
    parts = []
    if definition.skills:
        stale = f" within {definition.within_days} days" if definition.within_days else ""
        parts.append(f"The micro-skills {', '.join(definition.skills)} graded ready{stale}")
    if definition.credentials:
        parts.append(f"the credentials {', '.join(definition.credentials)}")
    return "; and ".join(parts) + ", each shown in a sandboxed task with a signed result."


def _uuid(hex_id: str) -> str:
    import uuid

    try:
        return str(uuid.UUID(hex=hex_id))
    except ValueError:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, hex_id))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
