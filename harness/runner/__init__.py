"""The batch runner: engine, caller, limits, retries, checkpoint, inputs and output, transports."""
