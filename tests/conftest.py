"""CI runs property tests derandomized, so a landing never depends on which examples
hypothesis happened to draw; locally they keep searching for new counterexamples."""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
