"""Benchmarks of the monitor against the test suite's local servers: ``python -m bench``.

One module per measurement (``idle``, ``catchup``, ``latency``, ``steady``, ``firststart``,
``store``), each returning a :class:`bench.common.Section`; ``report`` writes BENCHMARKS.md.
The monitor runs in child processes (``bench.worker``, or ``python -m monitor run``) so that
its CPU time and memory are its own; the servers run in the bench process.
"""
