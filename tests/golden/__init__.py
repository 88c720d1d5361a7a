"""Golden runs: replayed teams on the seed scenario and the scores they must get."""
