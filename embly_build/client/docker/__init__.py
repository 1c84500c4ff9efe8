"""The Docker side of the client: the engine, the build server image (and later its container)."""
