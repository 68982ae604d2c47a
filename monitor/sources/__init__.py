"""The sources the monitor polls, one package each."""
