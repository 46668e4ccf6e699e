"""The audit log: per tenant and zone, append-only, hash-chained, closed by signed checkpoints."""
