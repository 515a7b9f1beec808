//! Property test: replicas with the same history agree (digest and snapshot bytes).
