"""The one sender of everything the bot sends on its own (see index/delivery/outbox.py).

A cog queues a delivery (``desk.outbox.queue_…``, with its feature's claim) and hands its key to
:meth:`Sender.deliver`; the ``Deliveries`` cog drains what is left (retries, unknown outcomes,
deliveries of a process that died) every ``DRAIN_SECONDS``. Each message carries its delivery
token twice: as Discord's ``nonce`` (discord.py adds ``enforce_nonce`` to every message with a
nonce, which makes Discord itself drop a second send of it within a few minutes) and as an
invisible marker (zero-width characters) at the end of its text, or of its first embed's footer
when it has no text, which history returns — the nonce is not always in history. A delivery whose
last attempt may have gone out is looked for in the target's last ``HISTORY_LIMIT`` messages from
the bot before it is sent again: found, it is recorded; not found, it is sent. Every step of an
attempt is timed out so that the whole attempt ends well inside the outbox's lease, and no other
sender takes the delivery over while this one may still send it. A DM that carries a server's
content (its row names the server) is sent only while the member is still in that server, asked
before every attempt (bot/membership.py): gone, it is dropped, never sent."""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Any

import aiohttp
import discord

from . import render
from .loops import PeriodicCog
from .membership import may_dm

log = logging.getLogger(__name__)

NONE = discord.AllowedMentions.none()
SEND_TIMEOUT_SECONDS = 30.0  # well inside the outbox's lease: a send past it counts as unknown
STEP_TIMEOUT_SECONDS = 20.0  # each step before the send (membership, target, history look-up):
# with the send, an attempt ends inside the outbox's 120 s lease, so no sender takes it over meanwhile
HISTORY_LIMIT = 100  # messages of the target looked at to resolve an unknown outcome
FORUM_THREADS_LIMIT = 50  # a forum's newest threads looked at for the same
DRAIN_SECONDS = 30
MESSAGE_LIMIT = 2000
FOOTER_LIMIT = 2048  # an embed footer's text

# the marker: the 64-bit token in base 3 over three zero-width characters, between two word joiners
_DIGITS = ("\u200b", "\u200c", "\u200d")
_EDGE = "\u2060"
_MARK_LENGTH = 41  # 3**41 > 2**64
_MARK_RE = re.compile(f"{_EDGE}([{''.join(_DIGITS)}]{{{_MARK_LENGTH}}}){_EDGE}")  # fixed length: linear
_SHOWN_MARK_RE = re.compile(" ?" + _MARK_RE.pattern)  # as send_kwargs appends it to a text


def marker(token: str) -> str:
    value = int(token, 16)
    digits = []
    for _ in range(_MARK_LENGTH):
        value, digit = divmod(value, 3)
        digits.append(_DIGITS[digit])
    return _EDGE + "".join(digits) + _EDGE


def marked_token(text: str | None) -> str | None:
    """The delivery token a message's text carries, if any."""
    found = _MARK_RE.search(text or "")
    if found is None:
        return None
    value = 0
    for char in reversed(found.group(1)):
        value = value * 3 + _DIGITS.index(char)
    return f"{value:016x}"


def carries(message: discord.Message, token: str) -> bool:
    if str(message.nonce or "") == token or marked_token(message.content) == token:
        return True
    return any(marked_token(embed.footer.text) == token for embed in message.embeds[:1])


def visible(text: str | None) -> str:
    """A message's text without its delivery marker."""
    return _SHOWN_MARK_RE.sub("", text or "")


# -- payloads: what the outbox stores of a message ---------------------------------------------
def payload_of(kwargs: dict, *, thread: str | None = None, forum: dict | None = None) -> dict:
    """send() arguments as JSON: content, embeds, the roles it may ping; a thread to open on it, or
    the forum post (title and tags) it is."""
    embeds = list(kwargs.get("embeds") or ([kwargs["embed"]] if kwargs.get("embed") else []))
    allowed = kwargs.get("allowed_mentions")
    roles = allowed.roles if isinstance(allowed, discord.AllowedMentions) else False
    return {
        "content": kwargs.get("content"),
        "embeds": [e.to_dict() for e in embeds],
        "roles": [r.id for r in roles] if isinstance(roles, list) else [],
        "thread": thread,
        "forum": forum,
    }


def send_kwargs(payload: dict, token: str) -> dict:
    mark = marker(token)
    embeds = [discord.Embed.from_dict(e) for e in payload.get("embeds") or []]
    content: str | None = payload.get("content") or ""
    if not content and embeds:
        # a message whose text is only the marker shows an empty line above its embed: the marker
        # rides at the end of the first embed's footer instead, just as invisible
        first = embeds[0]
        footer = (first.footer.text or "")[: FOOTER_LIMIT - len(mark)]
        first.set_footer(text=footer + mark, icon_url=first.footer.icon_url)
        content = None
    else:
        # after a space: a text ending in a link keeps its link whole (the marker is no whitespace)
        mark = " " + mark
        content = (content or "")[: MESSAGE_LIMIT - len(mark)] + mark
    roles = payload.get("roles") or []
    out: dict[str, Any] = {
        "content": content,
        "embeds": embeds,
        "allowed_mentions": render.ping_mentions(roles) if roles else NONE,
        "nonce": token,
    }
    return out


@dataclass(frozen=True)
class Outcome:
    key: str
    sent: bool  # the message is in the channel (sent now, or found there)
    message: Any = None  # the message sent now (None when found in history)
    message_id: int | None = None
    found: bool = False
    reason: str | None = None
    gave_up: bool = False
    status: int | None = None
    dropped: bool = False  # a DM to a member who left the server it belongs to: settled, never sent


class _Gone(Exception):
    """The delivery's target no longer exists (or the member cannot be reached): given up."""


class Sender:
    def __init__(self, bot):
        self.bot = bot
        self.sent = 0
        self.found = 0
        self.failed = 0

    async def deliver(self, key: str, members: dict | None = None) -> Outcome | None:
        """Take a delivery and settle this attempt; None when it is not ours to send now.
        ``members``: the membership answers of this pass (see ``may_dm``), asked once each."""
        bot = self.bot
        taken = await bot.call(bot.desk.outbox.take, key)
        if taken is None:
            return None
        item = taken.item
        if item.channel_id is None:
            # asked at every attempt, not only when queued: a member may leave before a retry
            try:
                member = await asyncio.wait_for(may_dm(bot, item.guild_id, item.user_id, members), STEP_TIMEOUT_SECONDS)
            except TimeoutError:
                member = None  # unanswered: the delivery waits, untried
            if member is False:
                return await self._dropped(item, "the member is no longer in the server")
            if member is None:
                reason = "the member's membership of the server is unknown now"
                await bot.call(bot.desk.outbox.postpone, key, reason, unknown=taken.unknown)
                return Outcome(key, False, reason=reason)
        try:
            target = await asyncio.wait_for(self._target(item), STEP_TIMEOUT_SECONDS)
        except _Gone as exc:
            return await self._failed(item, str(exc), permanent=True)
        except discord.HTTPException as exc:
            # an earlier attempt that may have gone out stays unknown: looked for before any resend
            reason = f"the target is not reachable ({exc.status})"
            return await self._failed(item, reason, unknown=taken.unknown, status=exc.status)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            reason = f"the target is not reachable ({exc.__class__.__name__})"
            return await self._failed(item, reason, unknown=taken.unknown)
        if taken.unknown:
            try:
                found = await asyncio.wait_for(self._find(target, item.token), STEP_TIMEOUT_SECONDS)
            except (TimeoutError, discord.HTTPException, aiohttp.ClientError, OSError) as exc:
                return await self._failed(item, f"looking for an earlier attempt failed ({exc})", unknown=True)
            if found is not None:
                await bot.call(bot.desk.outbox.sent, key, found.id)
                self.found += 1
                return Outcome(key, True, None, found.id, found=True)
        try:
            message = await asyncio.wait_for(self._send(target, item), SEND_TIMEOUT_SECONDS)
        except discord.Forbidden as exc:
            reason = f"sending failed ({exc.status} {render.trim(exc.text, 100)})"
            return await self._failed(item, reason, permanent=item.user_id is not None, status=exc.status)
        except discord.HTTPException as exc:
            reason = f"posting failed ({exc.status} {render.trim(exc.text, 100)})"
            return await self._failed(item, reason, unknown=exc.status >= 500, status=exc.status)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            reason = f"no answer from Discord ({exc.__class__.__name__})"
            return await self._failed(item, reason, unknown=True)
        except Exception as exc:  # noqa: BLE001 - a bug (a payload that cannot be sent): counted, given up in time
            log.exception("delivery %s: cannot be sent", key)
            return await self._failed(item, f"cannot be sent ({exc.__class__.__name__})")
        await bot.call(bot.desk.outbox.sent, key, message.id)
        self.sent += 1
        await self._open_thread(target, message, item.payload)
        return Outcome(key, True, message, message.id)

    async def fail_now(self, key: str, reason: str) -> Outcome | None:
        """Count an attempt that could not even start (the target cannot be posted to) as failed."""
        taken = await self.bot.call(self.bot.desk.outbox.take, key)
        if taken is None:
            return None
        return await self._failed(taken.item, reason, unknown=taken.unknown)

    async def drain(self) -> int:
        """Settle every delivery that is due (of any process's making); returns the messages now in
        their channels."""
        done = 0
        members: dict = {}
        for key in await self.bot.call(self.bot.desk.outbox.due):
            outcome = await self.deliver(key, members)
            done += bool(outcome and outcome.sent)
        return done

    # -- the parts -------------------------------------------------------------------------------
    async def _target(self, item):
        bot = self.bot
        if item.channel_id is not None:
            channel = bot.get_channel(item.channel_id)
            if channel is None:
                try:
                    channel = await bot.fetch_channel(item.channel_id)
                except discord.NotFound:
                    raise _Gone("the channel no longer exists") from None
            if not isinstance(channel, (discord.abc.Messageable, discord.ForumChannel)):
                raise _Gone("not a text channel")
            return channel
        if item.user_id is None:
            raise _Gone("the delivery has no target")
        user = bot.get_user(item.user_id)
        if user is None:
            try:
                user = await bot.fetch_user(item.user_id)
            except discord.NotFound:
                raise _Gone("the member cannot be found") from None
        return user.dm_channel or await user.create_dm()

    async def _send(self, target, item):
        kwargs = send_kwargs(item.payload, item.token)
        forum = item.payload.get("forum")
        if isinstance(target, discord.ForumChannel):
            names = (forum or {}).get("tags") or []
            tags = [t for t in target.available_tags if t.name in names][:5]
            kwargs.pop("nonce")  # a forum post is a thread: no nonce there
            created = await target.create_thread(name=(forum or {}).get("title") or "News", applied_tags=tags, **kwargs)
            return created.message
        return await target.send(**kwargs)

    async def _open_thread(self, target, message, payload: dict) -> None:
        title = payload.get("thread")
        if title and isinstance(target, discord.TextChannel):
            try:
                await message.create_thread(name=title)
            except discord.HTTPException as exc:  # the post itself went out; the thread is a nicety
                log.warning("cannot open a thread in channel %s: %s", target.id, exc)

    async def _find(self, target, token: str):
        """The bot's message carrying the token among the target's recent messages, if any."""
        me = self.bot.user.id
        if isinstance(target, discord.ForumChannel):
            threads = sorted((t for t in target.threads if t.owner_id == me), key=lambda t: t.id, reverse=True)
            for thread in threads[:FORUM_THREADS_LIMIT]:
                starter = thread.starter_message or await thread.fetch_message(thread.id)
                if carries(starter, token):
                    return starter
            return None
        async for message in target.history(limit=HISTORY_LIMIT):
            if message.author.id == me and carries(message, token):
                return message
        return None

    async def _dropped(self, item, reason: str) -> Outcome:
        """Settled without sending: not a failure (never retried, not reported to the admins)."""
        await self.bot.call(self.bot.desk.outbox.dropped, item.key, reason)
        log.info("delivery %s: dropped: %s", item.key, reason)
        return Outcome(item.key, False, reason=reason, dropped=True)

    async def _failed(
        self, item, reason: str, *, unknown: bool = False, permanent: bool = False, status: int | None = None
    ) -> Outcome:
        bot = self.bot
        verdict = await bot.call(bot.desk.outbox.failed, item.key, reason, unknown=unknown, permanent=permanent)
        self.failed += 1
        log.warning("delivery %s: %s%s", item.key, reason, " (given up)" if verdict.gave_up else "")
        # closed DMs are the member's choice, not the admins' problem: recorded (the follow pauses), not reported
        dm_refused = permanent and item.user_id is not None
        if verdict.report and item.kind not in ("notice", "report") and not dm_refused:
            await self._report(item, reason, verdict.attempts)
        return Outcome(item.key, False, reason=reason, gave_up=verdict.gave_up, status=status)

    async def _report(self, item, reason: str, attempts: int) -> None:
        """Tell the admins once that a delivery was given up (itself a delivery, not reported)."""
        bot = self.bot
        channel_id = bot.config.discord.admin_channel
        text = render.message_text(
            f"⚠️ Gave up {describe(item)} after {attempts} attempt(s): {render.safe(render.trim(reason, 300))}"
        )
        if not channel_id:
            log.warning("admin notice (no admin_channel configured): %s", text)
            return
        key = f"report:{item.key}"
        if await bot.call(bot.desk.outbox.queue, "report", key, {"content": text}, channel_id=channel_id):
            await self.deliver(key)


def describe(item) -> str:
    ref = item.ref
    where = f"<#{item.channel_id}>" if item.channel_id else "a member's DMs"
    if item.kind == "post":
        return f"posting article {ref.get('article_id')} to {where}"
    if item.kind == "update":
        return f"reposting updated article {ref.get('article_id')} to {where}"
    if item.kind == "alert":
        return f"a topic alert of follow #{ref.get('follow_id')} to {where}"
    if item.kind == "watch":
        return f"watch #{ref.get('watch_id')}'s notice to {where}"
    if item.kind == "digest":
        return f"digest #{ref.get('schedule_id')} to {where}"
    return f"a message to {where}"


def sender_of(bot) -> Sender:
    """The bot's one sender (made on first use)."""
    found = getattr(bot, "_newsdesk_sender", None)
    if found is None:
        found = Sender(bot)
        bot._newsdesk_sender = found
    return found


class Deliveries(PeriodicCog):
    """Every ``DRAIN_SECONDS``: settle the deliveries that are due (retries, unknown outcomes, and
    those of a process that died), whoever queued them."""

    job = "deliveries"

    def __init__(self, bot):
        super().__init__(bot, seconds=DRAIN_SECONDS)

    async def tick(self) -> None:
        await sender_of(self.bot).drain()
