//! Watch trigger tests.
