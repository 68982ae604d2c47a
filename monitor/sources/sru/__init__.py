"""The officiële bekendmakingen (SRU) source: its search client, poll and observations."""
