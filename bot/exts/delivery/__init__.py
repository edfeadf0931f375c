"""Delivery: polling the feeds, auto-posting new articles, feed-health notices to admins."""
