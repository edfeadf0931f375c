"""Delivery: what the auto-poster does with each new article of a feed with a channel —
filters (:mod:`.filters`), flood control (:mod:`.limits`), templates (:mod:`.templates`) and the
delivery log the archive keeps (:mod:`index.archive.delivery`). The posting loop calls
:class:`.service.DeliveryService` (``desk.delivery``); admins change a feed's settings through
:class:`.settings.FeedSettingsService` (``desk.settings``)."""
