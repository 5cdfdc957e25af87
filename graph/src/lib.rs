//! The Servicegraph GraphQL schema (async-graphql).
//!
//! Layout (DESIGN.md §2): one module per domain (`auth`, `catalog`, `staff`,
//! `customers`, `bookings`, `availability`, `public`), each with its GraphQL types,
//! thin resolvers and a `service` module that holds the business rules. Services take a
//! [`context::RequestCtx`] first and reach the database only through tenant-scoped
//! transactions ([`db::Db`]).

pub mod agents;
pub mod auth;
pub mod availability;
pub mod bookings;
pub mod catalog;
pub mod context;
pub mod customers;
pub mod db;
pub mod error;
pub mod events;
pub mod guards;
pub mod loaders;
pub mod outbox;
pub mod pagination;
pub mod payments;
pub mod public;
pub mod scheduling;
pub mod schema;
pub mod seed;
pub mod staff;
pub mod state;
pub mod tenant_plugins;
pub mod util;

pub use context::{Principal, RequestCtx, Role, Session};
pub use schema::{AppSchema, Limits, build_schema, sdl};
pub use state::GraphState;
