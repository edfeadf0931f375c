"""What each kind of delivery records in its feature when the outbox settles it: an auto-post in
``posts`` and the delivery log (what ``/feeds why`` reads), an alert in ``follow_alerts``, a watch
notice in ``watch_notices``, a digest in ``digest_runs``. Notices record nothing of their own."""

from __future__ import annotations


class PostRecorder:
    def __init__(self, archive):
        self.archive = archive

    def sent(self, ref: dict, message_id: int) -> None:
        channel_id, article_id = ref["channel_id"], ref["article_id"]
        self.archive.record_post(channel_id, article_id, message_id)
        self.archive.log_delivery(channel_id, article_id, None, "posted", "posted", message_id=message_id)

    def retrying(self, ref: dict, reason: str, attempts: int, next_try_at: float) -> None:
        self.archive.log_delivery(
            ref["channel_id"],
            ref["article_id"],
            ref.get("feed_id"),
            "retry",
            f"attempt {attempts} failed: {reason}",
            attempts=attempts,
            next_try_at=next_try_at,
        )

    def gave_up(self, ref: dict, reason: str, attempts: int, permanent: bool) -> None:
        self.archive.log_delivery(
            ref["channel_id"], ref["article_id"], ref.get("feed_id"), "failed", reason, attempts=attempts
        )


class UpdateRecorder:
    def __init__(self, archive):
        self.archive = archive

    def sent(self, ref: dict, message_id: int) -> None:
        reason = f"posted; reposted as updated (message {message_id})"
        self.archive.log_delivery(ref["channel_id"], ref["article_id"], None, "posted", reason)

    def retrying(self, ref: dict, reason: str, attempts: int, next_try_at: float) -> None:
        pass  # the post itself stands; the repost is retried quietly

    def gave_up(self, ref: dict, reason: str, attempts: int, permanent: bool) -> None:
        why = f"posted; the update could not be applied ({reason})"
        self.archive.log_delivery(ref["channel_id"], ref["article_id"], None, "posted", why)


class AlertRecorder:
    def __init__(self, following):
        self.following = following

    def sent(self, ref: dict, message_id: int) -> None:
        self.following.sent(ref["follow_id"], ref["article_id"], message_id)

    def retrying(self, ref: dict, reason: str, attempts: int, next_try_at: float) -> None:
        pass

    def gave_up(self, ref: dict, reason: str, attempts: int, permanent: bool) -> None:
        # a DM refused for good (closed DMs) pauses the member's DM follows, as before
        self.following.failed(ref["follow_id"], ref["article_id"], reason, dm_closed=bool(ref.get("dm")) and permanent)


class WatchRecorder:
    def __init__(self, archive):
        self.archive = archive

    def sent(self, ref: dict, message_id: int) -> None:
        self.archive.record_watch_notice(ref["watch_id"], ref["fingerprint"], message_id)

    def retrying(self, ref: dict, reason: str, attempts: int, next_try_at: float) -> None:
        pass

    def gave_up(self, ref: dict, reason: str, attempts: int, permanent: bool) -> None:
        self.archive.record_watch_notice(ref["watch_id"], ref["fingerprint"], None)


class DigestRecorder:
    def __init__(self, archive):
        self.archive = archive

    def sent(self, ref: dict, message_id: int) -> None:
        self.archive.record_digest_run(ref["schedule_id"], ref["period_key"], "posted", message_id, None)

    def retrying(self, ref: dict, reason: str, attempts: int, next_try_at: float) -> None:
        pass

    def gave_up(self, ref: dict, reason: str, attempts: int, permanent: bool) -> None:
        self.archive.record_digest_run(ref["schedule_id"], ref["period_key"], "failed", None, reason)


def recorders(archive, following) -> dict:
    return {
        "post": PostRecorder(archive),
        "update": UpdateRecorder(archive),
        "alert": AlertRecorder(following),
        "watch": WatchRecorder(archive),
        "digest": DigestRecorder(archive),
    }
