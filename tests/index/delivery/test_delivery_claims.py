"""What the posting loop claims (on the archive, across processes): each post and each feed-health
notice exactly once."""

from __future__ import annotations


def test_each_post_and_notice_is_claimed_once(two_servers):
    desk, one, *_ = two_servers
    article = desk.retriever.search("volcano", limit=1).hits[0].article
    assert desk.archive.claim_delivery(555, article.id, one.id) is True
    assert desk.archive.claim_delivery(555, article.id, one.id) is False
    assert desk.archive.claim_delivery(556, article.id, one.id) is True  # another channel is another delivery
    assert desk.archive.unannounced_feed_health() == []  # every feed fetched fine: nothing to announce
    assert desk.archive.claim_feed_notice(one.id, "error") is True
    assert desk.archive.claim_feed_notice(one.id, "error") is False
