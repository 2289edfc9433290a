"""What survives: load from a second process (nothing accepted lost), bounded abuse and image
bombs against a local stack, and Redis Sentinel failovers under uploads."""
