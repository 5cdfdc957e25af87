//! Sign-up, log-in, rotating refresh tokens, log-out, users and `me`.

pub mod mutation;
pub mod password;
pub mod query;
pub mod service;
pub mod tokens;
pub mod types;
