"""newsdesk's core: feeds, archive, chunking, embeddings, retrieval and answers.

Everything here is plain synchronous Python. The Discord layer (``bot/``) and the
command line (``index.cli``) are thin shells over :class:`index.service.Newsdesk`, which builds
and holds the feature services (``desk.feeds``, ``desk.reading``, ``desk.delivery`` …).
"""
