//! Integration tests of the `routing` crate: one binary, one module per subject.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod exact;
mod feasibility;
mod helpers;
mod parse;
mod solver;
