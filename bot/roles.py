"""Which roles ``/subscribe`` may hand out: a role a member gives themselves must give them
nothing but the pings, so only a role without permissions, not managed by an integration, below
the bot's top role and (when an admin opens it) below that admin's top role."""

from __future__ import annotations

import discord


def handout_problem(role: discord.Role, me: discord.Member | None) -> str | None:
    """Why the bot must not hand ``role`` to whoever asks, or None. Checked when an admin opens
    the role and again at each hand-out (its permissions or position may have changed since)."""
    if role.is_default() or role.managed:
        return f"{role.name} is managed by Discord or an integration"
    if role.permissions.value:
        return f"{role.name} carries permissions; only a role without any can be handed out by /subscribe"
    if me is not None and role >= me.top_role:
        return f"{role.name} is not below my highest role"
    return None


def opening_problem(role: discord.Role, caller: discord.Member | None, me: discord.Member | None) -> str | None:
    """:func:`handout_problem`, and the admin may only open a role below their own top role (the
    server's owner any)."""
    problem = handout_problem(role, me)
    if problem is None and caller is not None and caller.id != caller.guild.owner_id and role >= caller.top_role:
        problem = f"{role.name} is not below your highest role"
    return problem
