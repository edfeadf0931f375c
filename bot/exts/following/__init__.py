"""Topic alerts: follows of a topic and their delivery."""
