"""Following stories (issue #15): topic alerts, standing questions, feedback, digests, timelines, comparison."""
