"""Following stories (issue #15): digests, timelines, story comparison."""
