"""Following stories, not feeds (issue #15): topic alerts, digests, timelines, story comparison."""
