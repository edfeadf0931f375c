"""Following stories: topic alerts, standing questions, feedback, digests, timelines, comparison."""
