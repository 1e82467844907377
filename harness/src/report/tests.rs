//! Unit tests of the verdict logic on constructed results.
