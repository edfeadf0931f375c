"""Limits counted inside the insert, on both backends.

A few writes count rows and insert one only while the count is under a limit (follows per target,
digest schedules per server, watches per server and member) or read a row before replacing it
(a voter's previous vote). On SQLite the count and the insert are safe as they are: ``BEGIN
IMMEDIATE`` takes the database's one write lock, so every writer, in any process, waits for the
previous one to commit. PostgreSQL's READ COMMITTED does not serialise writers: two transactions
can both count N-1 and both insert. There is no parent row to lock with ``SELECT … FOR UPDATE``
(servers and members have no table), so :func:`serialise_writers` takes a transaction-scoped
advisory lock on the limit's key (``pg_advisory_xact_lock``): the writers of the same key wait for
each other until commit or rollback, and the count, being a new statement, sees what the previous
holder committed. Writers of other keys do not wait. A hash collision of two keys only makes
them wait for each other."""

from __future__ import annotations

from ..errors import ArchiveError
from .db import Database

# the first key of pg_advisory_xact_lock(int, int): newsdesk's limit locks. (The two-key form has
# its own key space, apart from the one-key migration lock of index.archive.pg.)
LOCK_SPACE = 0x6E64


def serialise_writers(archive: Database, *key: object) -> None:
    """Inside a write transaction: writers passing the same ``key`` run one after the other until
    commit (PostgreSQL; SQLite's write transaction already serialises every writer)."""
    if archive.backend != "postgresql":
        return
    if not archive.db.conn.in_transaction:  # an xact lock outside a transaction ends with its statement
        raise ArchiveError("serialise_writers needs a write transaction (archive.transaction())")
    archive.db.execute("SELECT pg_advisory_xact_lock(?, hashtext(?))", [LOCK_SPACE, ":".join(map(str, key))])
