"""Topic alerts: follows of a topic for a server channel or a member's DMs (issue #15)."""
