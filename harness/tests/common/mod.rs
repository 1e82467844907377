//! Test helpers shared by several integration-test files (a directory, so cargo does not build it
//! as a test of its own). Each file that needs one says `mod common;`.

pub(crate) mod raw_grpc;
