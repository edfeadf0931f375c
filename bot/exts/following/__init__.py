"""Following stories, not feeds (issue #15)."""
