"""Every use of a private Lightning or Hydra internal, in one place, each with its reason and what it gains.

`aelab.internals.hydra` holds Hydra's (imported by the console scripts at start-up, so it stays light);
`aelab.internals.lightning` holds Lightning's (imported only once a run starts, as Lightning itself is).
`tests/test_internals.py` checks each assumption against the installed versions and names the change that
broke it, so that an upgrade of either library is one failing test to read, not a hunt. The speed gains
quoted here are measured by `benchmarks/internals.py` (each path replaced alone by public API).
"""
