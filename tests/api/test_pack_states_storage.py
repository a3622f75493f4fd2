"""Pack version states in storage, on SQLite and a real PostgreSQL: the 0002 migration and compare-and-set moves."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text
from sqlmodel import Session

from api import db, storage
from api.tables import PackState


def test_versions_uploaded_before_checks_existed_stay_live(database_url):
    engine = db.make_engine(database_url)
    config = db.alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.execute(
            text(
                "INSERT INTO pack_version (id, pack_id, version, digest, owner, created_at) "
                "VALUES ('v1', 'old', '1.0.0', 'sha256:x', 'ada', CURRENT_TIMESTAMP)"
            )
        )
    db.migrate(engine)
    with Session(engine) as session:
        assert storage.pack_states(session=session) == {("old", "1.0.0"): "live"}
        row = storage.record_pack_version(
            session=session, pack_id="new", version="1.0.0", digest="sha256:y", owner="ada"
        )
        assert row.state == "checking" and row.report is None
    engine.dispose()


def test_a_state_moves_only_from_the_states_named(database_url):
    engine = db.make_engine(database_url)
    db.migrate(engine)
    with Session(engine) as session:
        row = storage.record_pack_version(session=session, pack_id="p", version="1.0.0", digest="sha256:y", owner="a")
        assert storage.move_pack_version(
            session=session, version_id=row.id, from_states=[PackState.CHECKING], to=PackState.LIVE, report={"ok": True}
        )
        assert not storage.move_pack_version(
            session=session,
            version_id=row.id,
            from_states=[PackState.CHECKING],
            to=PackState.REJECTED,
            report={"ok": False},
        )
        stored = storage.get_pack_version(session=session, pack_id="p", version="1.0.0")
        session.refresh(stored)
        assert (stored.state, stored.report, stored.checked_at is not None) == ("live", {"ok": True}, True)
    engine.dispose()
