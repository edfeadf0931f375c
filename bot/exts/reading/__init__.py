"""Reading the archive: /ask (and mentions, DMs, follow-ups), /latest, /search, /article, /sources."""
