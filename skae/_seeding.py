"""Seeds from ``random_state``, never from or into a global random state."""

from numbers import Integral

import numpy as np


def seed_from_random_state(random_state):
    """An integer seed from ``random_state`` without touching global state.

    A ``RandomState`` instance is copied before drawing, so the caller's
    generator is not advanced; ``None`` draws fresh OS entropy rather than
    consuming NumPy's global generator.
    """
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1)[0] >> 1)
    if isinstance(random_state, Integral):
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        state = np.random.RandomState()
        state.set_state(random_state.get_state())
        return int(state.randint(np.iinfo(np.int32).max))
    raise ValueError(
        f"random_state must be None, an int or a numpy RandomState; got {random_state!r}."
    )


class SeedStream:
    """Distinct, reproducible integer seeds for the random pieces of a network."""

    def __init__(self, seed):
        self._rng = np.random.default_rng(seed)

    def __call__(self):
        return int(self._rng.integers(np.iinfo(np.int32).max))
