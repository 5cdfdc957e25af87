//! Integration tests: the real server over HTTP and WebSocket, on SQLite by default and
//! on PostgreSQL (+ Redis) when `TEST_DATABASE_URL` (+ `TEST_REDIS_URL`) are set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod auth;
mod availability;
mod binary;
mod bookings;
mod calendar;
mod clients;
mod dispatch;
mod edge;
mod faults;
mod helpers;
mod isolation;
mod jobs;
mod limits;
mod messaging;
mod metrics;
mod payments;
mod playground;
mod plugins;
mod roles;
mod routing;
mod scheduling;
mod schema_snapshot;
mod security;
mod sgd;
mod sockets;
mod statements;
mod team_dispatch;
mod traces;
mod upgrade;
mod voice_calls;
mod voice_sgd;
mod voice_sgd_turns;
mod voice_stream;
mod voice_tools;
