"""What survives: load from a second process (nothing accepted lost), bounded abuse and image
bombs against a local stack, one tenant's flood against another's photo (fair queueing), and
Redis Sentinel failovers under uploads."""
