//! The Servicegraph GraphQL schema (async-graphql).
//!
//! Layout (DESIGN.md §2): one module per domain (`auth`, `catalog`, `staff`,
//! `customers`, `bookings`, `availability`, `payments`, `public`), each with its GraphQL
//! types, thin resolvers and a `service` module that holds the business rules. Services
//! take a [`context::RequestCtx`] first and reach the database only through
//! tenant-scoped transactions ([`db::Db`]).
//!
//! Infrastructure modules import no domain: [`jobs`] (the durable queue and periodic
//! jobs), [`lifecycle`] (booking hooks), [`events`] (the bus), [`idempotency`],
//! [`inbound`] (webhook dedupe and handlers), [`notifications`], [`routes`] (provider
//! routing table), [`ledger`] (payment read model), [`extensions`]. Domains that react
//! to others plug in through them; [`domains`] lists who registers what.

pub mod admission;
pub mod agents;
pub mod auth;
pub mod availability;
pub mod bookings;
pub mod calendar;
pub mod catalog;
pub mod context;
pub mod cost;
pub mod customers;
pub mod db;
pub mod dispatch;
pub mod domains;
pub mod error;
pub mod events;
pub mod extensions;
pub mod geo;
pub mod guards;
pub mod idempotency;
pub mod inbound;
pub mod jobs;
pub mod ledger;
pub mod lifecycle;
pub mod limits;
pub mod loaders;
pub mod messaging;
pub mod notifications;
pub mod pagination;
pub mod payments;
pub mod platform;
pub mod public;
pub mod routes;
pub mod scheduling;
pub mod schema;
pub mod seed;
pub mod staff;
pub mod state;
pub mod telemetry;
pub mod tenant_plugins;
pub mod util;
pub mod voice;

pub use context::{Principal, RequestCtx, Role, Session};
pub use schema::{AppSchema, Limits, build_lean_schema, build_schema, sdl};
pub use state::GraphState;
