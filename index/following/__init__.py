"""Following stories, not feeds (issue #15): digests, timelines, story comparison and alerts."""
