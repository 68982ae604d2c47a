"""The Tweede Kamer SyncFeed source: its feed client, poll, observations and read-ahead."""
