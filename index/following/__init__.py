"""Following stories, not feeds (issue #15): topic alerts, standing questions, answer feedback, digests,
timelines, story comparison."""
