"""Administration: /feeds, /reindex, /status (admins only, checked at run time)."""
