"""Capacity planning: the model, sweeps on the mocks, claim verdicts, knee detection."""
