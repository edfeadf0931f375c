"""Following stories, not feeds: topic alerts (:class:`.alerts.Following`), standing questions
(:mod:`.watch_service`), answer feedback (:mod:`.feedback_service`), digests (:mod:`.digest_service`),
timelines and story comparison (:mod:`.stories`)."""
