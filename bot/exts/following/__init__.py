"""Following stories (issue #15): topic alerts, digests, timelines, story comparison."""
