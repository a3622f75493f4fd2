"""Awarding, revoking and exporting stackable micro-credentials (Open Badges 3.0).

After every stored result the candidate's credentials are refreshed: a definition
newly met is awarded with the results that met it as evidence; an award whose
skills are no longer ``ready`` (a regrade or a later result said ``not_ready``)
is revoked. Staleness (``within_days``) only stops new awards. A revoked award
keeps its bit in the revocation status list, which the service publishes as a
signed ``BitstringStatusListCredential``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from api import storage
from api.tables import CredentialAward, CredentialDefinition, LogEntry, utcnow
from engine import openbadges, statuslist
from engine.credentials import Criteria, SkillRecord, check_definitions, met
from engine.errors import Conflict, NotFound, Problem
from engine.models import Pack
from engine.packs import PACK_FILE
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
    #: The candidate's result ids that must not count yet (an assessment still withholds them from the
    #: candidate: a credential would tell what the result does not).
    withheld: Callable[[Session, str], set[str]] | None = None

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
            check_definitions(
                {**existing, row.id: criteria(row)},
                known_skills=self.known_skills() if self.known_skills is not None else None,
            )
            session.add(row)
            session.commit()
            session.refresh(row)
            return row

    def sync_packs(self, live: Sequence[Pack], known_packs: Collection[str]) -> None:
        """Register what the live packs declare; retire what a known pack no longer declares in a live version.

        ``live``: the latest live version of each pack. A declaration becomes (or updates) the
        definition ``PACK_ID/ID``, awarded by the same rule as API-made ones. A definition whose
        pack has no live version declaring it any more is retired: it makes no new awards, and
        the awards it made stay valid (a retired pack does not undo what candidates proved;
        revocation is for evidence that no longer holds). Packs this process has not loaded are
        left alone (another process may know them). Idempotent: every API process may call it.

        A published credential's criteria never change (holders earned it on those): a new
        version that declares other criteria for the same id keeps the old ones (an upload
        saying so is refused earlier: ``criteria_changes``).
        """
        with self.session() as session:
            rows = {row.id: row for row in session.exec(select(CredentialDefinition)).all()}
            wanted = {pack_definition_id(pack.id, spec.id): (pack, spec) for pack in live for spec in pack.credentials}
            changed = False
            for definition_id, (pack, spec) in wanted.items():
                row = rows.get(definition_id)
                if row is None:
                    row = CredentialDefinition(
                        id=definition_id,
                        owner=f"pack {pack.id}",
                        pack_id=pack.id,
                        skills=list(spec.criteria.skills),
                        within_days=spec.criteria.within_days,
                        credentials=[pack_definition_id(pack.id, c) for c in spec.criteria.credentials],
                        name=spec.name,
                        description=spec.description,
                        image=spec.image,
                    )
                elif (row.pack_version, row.retired_at, row.name, row.description, row.image) == (
                    pack.version,
                    None,
                    spec.name,
                    spec.description,
                    spec.image,
                ):
                    continue
                row.pack_version, row.retired_at = pack.version, None
                row.name, row.description, row.image = spec.name, spec.description, spec.image
                session.add(row)
                changed = True
            for row in rows.values():
                if row.pack_id in known_packs and row.id not in wanted and row.retired_at is None:
                    row.retired_at = utcnow()
                    session.add(row)
                    changed = True
            if not changed:
                return
            try:
                session.commit()
            except IntegrityError:  # another process registered the same declaration first: it stands
                session.rollback()

    def criteria_changes(self, pack: Pack) -> list[Problem]:
        """What ``pack`` declares differently from the criteria its credentials were published with."""
        with self.session() as session:
            rows = {
                row.id: row
                for row in session.exec(
                    select(CredentialDefinition).where(CredentialDefinition.pack_id == pack.id)
                ).all()
            }
        problems = []
        for position, spec in enumerate(pack.credentials):
            row = rows.get(pack_definition_id(pack.id, spec.id))
            declared = Criteria(
                skills=spec.criteria.skills,
                within_days=spec.criteria.within_days,
                credentials=tuple(pack_definition_id(pack.id, c) for c in spec.criteria.credentials),
            )
            if row is not None and criteria(row) != declared:
                problems.append(
                    Problem(
                        PACK_FILE,
                        f"$.credentials[{position}]",
                        f"credential {spec.id!r} was published (version {row.pack_version}) with "
                        "other criteria; holders earned it on those, so they never change: give the "
                        "changed credential a new id (the old one retires with its last live version)",
                    )
                )
        return problems

    def refresh(self, candidate: str, now: datetime | None = None, *, attempts: int = 3) -> None:
        """Award what ``candidate`` newly meets; revoke what they no longer meet (from the results they may see).

        Retired definitions make no new awards but still count for stacking and revocation.
        """
        now = now or datetime.now(UTC)
        with self.session() as session:
            rows = session.exec(select(CredentialDefinition)).all()
            definitions = {d.id: criteria(d) for d in rows}
            retired = {d.id for d in rows if d.retired_at is not None}
            if not definitions:
                return
            withheld = self.withheld(session, candidate) if self.withheld is not None else set()
            evidence = [
                SkillRecord(skill=e.skill, verdict=e.verdict, at=_aware(e.at), result_id=e.result_id)
                for e in storage.skill_evidence(session=session, candidate=candidate)
                if e.result_id not in withheld
            ]
            meeting = met(definitions, evidence, now)
            still = met({k: replace(v, within_days=None) for k, v in definitions.items()}, evidence, now)
            active = {
                a.definition_id: a
                for a in session.exec(
                    select(CredentialAward).where(
                        CredentialAward.candidate == candidate, col(CredentialAward.revoked_at).is_(None)
                    )
                ).all()
            }
            for definition_id, award in active.items():
                if definition_id not in still:
                    award.revoked_at, award.revoked_reason = (
                        utcnow(),
                        "criteria no longer met: a later result is not ready",
                    )
                    session.add(award)
            try:  # a status index taken meanwhile fails the insert itself (both databases), not only the commit
                for definition_id, results in meeting.items():
                    if definition_id in retired:
                        continue
                    if definition_id not in active or active[definition_id].revoked_at is not None:
                        _award(session, definition_id=definition_id, candidate=candidate, evidence=results)
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

    def did(self) -> str:
        """The issuer: the service's did:web (its DID document lists every key, so rotation changes no issuer)."""
        return openbadges.did_web(self.public_url)

    def _signer(self) -> tuple[Any, str]:
        key = self.key()
        return key.private_key, f"{self.did()}#{key.kid}"

    def open_badge(self, award: CredentialAward) -> dict[str, Any]:
        """The award as a signed OpenBadgeCredential with a revocation status entry."""
        key, method = self._signer()
        with self.session() as session:
            definition = session.get(CredentialDefinition, award.definition_id)
            if definition is None:  # the award's foreign key: only a damaged database gets here
                raise NotFound(f"award {award.id} names an unknown credential definition {award.definition_id!r}")
            digests = {
                e.result_id: e.digest
                for e in session.exec(
                    select(LogEntry).where(col(LogEntry.result_id).in_(award.evidence), LogEntry.view == "candidate")
                )
            }
        identity, salt = openbadges.subject_identity(award.candidate, salt=award.id)
        base = self.public_url.rstrip("/")
        credential = openbadges.open_badge(
            openbadges.Award(
                credential_id=f"urn:uuid:{_uuid(award.id)}",
                name=definition.name,
                description=definition.description or definition.name,
                criteria=_narrative(definition),
                achievement_id=f"{base}/credentials/definitions/{definition.id}",
                image=definition.image,
                skills=[(s, f"{base}/skills/{s}") for s in definition.skills],
                subject_hash=identity,
                subject_salt=salt,
                identity_type="emailAddress" if "@" in award.candidate else "issuerDesignatedId",
                evidence=[
                    openbadges.Evidence(url=f"{base}/v1/results/{r}", digest=digests.get(r, "unknown"), name=r)
                    for r in award.evidence
                ],
                issuer_name=self.issuer_name,
                issuer_url=base,
                valid_from=_aware(award.awarded_at),
            ),
            issuer=self.did(),
        )
        status_url = base + STATUS_PATH
        credential["credentialStatus"] = {
            "id": f"{status_url}#{award.status_index}",
            "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation",
            "statusListIndex": str(award.status_index),
            "statusListCredential": status_url,
        }
        return openbadges.sign(credential, key, verification_method=method)

    def status_list(self) -> dict[str, Any]:
        """The signed revocation BitstringStatusListCredential."""
        with self.session() as session:
            revoked = session.exec(
                select(CredentialAward.status_index).where(col(CredentialAward.revoked_at).is_not(None))
            ).all()
        key, method = self._signer()
        url = self.public_url.rstrip("/") + STATUS_PATH
        credential = {
            "@context": [openbadges.VC_V2],
            "id": url,
            "type": ["VerifiableCredential", "BitstringStatusListCredential"],
            "issuer": self.did(),
            "validFrom": openbadges._timestamp(datetime.now(UTC)),
            "credentialSubject": {
                "id": f"{url}#list",
                "type": "BitstringStatusList",
                "statusPurpose": "revocation",
                "encodedList": statuslist.encode(revoked),
            },
        }
        return openbadges.sign(credential, key, verification_method=method)


def _award(session: Session, *, definition_id: str, candidate: str, evidence: list[str]) -> bool:
    """Insert an active award unless one exists already (another process's refresh won): idempotent in the
    database, through the partial unique index on active awards. Returns whether this call awarded.

    Only that index is the conflict target: a status index taken concurrently still raises
    ``IntegrityError``, and the caller retries with a fresh one.
    """
    insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else postgresql_insert
    row = CredentialAward(
        definition_id=definition_id, candidate=candidate, evidence=evidence, status_index=_next_index(session)
    )
    # SQLModel adds __table__ when it makes the class; mypy does not see it
    values = {column.name: getattr(row, column.name) for column in CredentialAward.__table__.columns}  # type: ignore[attr-defined]
    statement = (
        insert(CredentialAward)
        .values(**values)
        .on_conflict_do_nothing(
            index_elements=["candidate", "definition_id"], index_where=col(CredentialAward.revoked_at).is_(None)
        )
    )
    return session.exec(statement).rowcount == 1


def pack_definition_id(pack_id: str, credential_id: str) -> str:
    """``PACK_ID/ID``: a pack's credential as the service registers it (no API-made id has a slash)."""
    return f"{pack_id}/{credential_id}"


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
