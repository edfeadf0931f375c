"""How many standing things one server or member may hold: the one place each limit is stated.

The services enforce them and word the refusal (:class:`index.errors.LimitReached`); the archive only
counts, inside the write that adds, so two processes cannot both pass a limit.
"""

from __future__ import annotations

WATCHES_PER_GUILD = 25  # standing questions a server may hold
WATCHES_PER_MEMBER = 5  # …and each member (in a server, or in DMs)
CHANNEL_FOLLOWS_PER_GUILD = 25  # per server: channel follows
DM_FOLLOWS_PER_MEMBER = 10  # per member: DM follows (all servers together)
CLI_FOLLOWS = 100  # follows made on the command line without a channel or member
DIGEST_SCHEDULES_PER_GUILD = 5  # scheduled digests per server
