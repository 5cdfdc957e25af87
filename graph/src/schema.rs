//! `build_schema`: the merged query, mutation and subscription roots, with limits.

use async_graphql::{MergedObject, MergedSubscription, Schema};

use crate::agents::{AgentMutation, AgentQuery};
use crate::auth::mutation::AuthMutation;
use crate::auth::query::AuthQuery;
use crate::availability::AvailabilityQuery;
use crate::bookings::{BookingMutation, BookingQuery, BookingSubscription};
use crate::calendar::{CalendarMutation, CalendarQuery};
use crate::catalog::{CatalogMutation, CatalogQuery};
use crate::customers::{CustomerMutation, CustomerQuery};
use crate::dispatch::{DispatchMutation, DispatchQuery, DispatchSubscription};
use crate::messaging::{MessagingMutation, MessagingQuery, MessagingSubscription};
use crate::notifications::{NotificationMutation, NotificationQuery};
use crate::payments::{PaymentMutation, PaymentQuery};
use crate::public::{PublicMutation, PublicQuery};
use crate::scheduling::{SchedulingMutation, SchedulingQuery};
use crate::staff::{StaffMutation, StaffQuery};
use crate::state::GraphState;
use crate::tenant_plugins::{PluginMutation, PluginQuery};
use crate::voice::assistant::{AssistantMutation, AssistantQuery};
use crate::voice::calls::CallQuery;
use crate::voice::{VoiceMutation, VoiceQuery, VoiceSubscription};

/// The query root.
#[derive(MergedObject, Default)]
pub struct Query(
    AuthQuery,
    CatalogQuery,
    StaffQuery,
    CustomerQuery,
    BookingQuery,
    AvailabilityQuery,
    SchedulingQuery,
    AgentQuery,
    PublicQuery,
    PaymentQuery,
    NotificationQuery,
    PluginQuery,
    MessagingQuery,
    CalendarQuery,
    DispatchQuery,
    VoiceQuery,
    AssistantQuery,
    CallQuery,
);

/// The mutation root.
#[derive(MergedObject, Default)]
pub struct Mutation(
    AuthMutation,
    CatalogMutation,
    StaffMutation,
    CustomerMutation,
    BookingMutation,
    SchedulingMutation,
    AgentMutation,
    PublicMutation,
    PaymentMutation,
    NotificationMutation,
    PluginMutation,
    MessagingMutation,
    CalendarMutation,
    DispatchMutation,
    VoiceMutation,
    AssistantMutation,
);

/// The subscription root.
#[derive(MergedSubscription, Default)]
pub struct Subscription(
    BookingSubscription,
    MessagingSubscription,
    DispatchSubscription,
    VoiceSubscription,
);

/// The Servicegraph schema type.
pub type AppSchema = Schema<Query, Mutation, Subscription>;

/// Query limits (DESIGN.md §8).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Deepest selection nesting outside introspection.
    pub max_depth: usize,
    /// Deepest nesting under `__schema`/`__type` (the standard introspection query of
    /// graphql-js 16/17 and graphql-core 3.3, every option on, is 15 deep).
    pub max_introspection_depth: usize,
    /// Largest complexity (one per field by default).
    pub max_complexity: usize,
    /// Deepest recursion while parsing.
    pub max_recursive_depth: usize,
    /// Most root fields (aliases included) in one operation.
    pub max_root_fields: usize,
    /// Longest execution of one query or mutation (HTTP and WebSocket alike).
    pub request_timeout: std::time::Duration,
    /// Most directives on one field.
    pub max_directives: usize,
    /// Root fields of one request resolving at once (bounds its database connections).
    pub concurrent_roots: usize,
    /// Whether introspection (`__schema`, `__type`) is answered.
    pub introspection: bool,
    /// Whether validation errors suggest field names ("did you mean …").
    pub suggestions: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 12,
            max_introspection_depth: 15,
            max_complexity: 500,
            max_recursive_depth: 32,
            max_root_fields: 20,
            request_timeout: std::time::Duration::from_secs(30),
            max_directives: 10,
            concurrent_roots: 4,
            introspection: true,
            suggestions: true,
        }
    }
}

/// Builds the schema. `state` is `None` only for exporting the SDL. Every operation
/// passes [`crate::admission`] (an extension) before it runs.
pub fn build_schema(state: Option<GraphState>, limits: Limits) -> AppSchema {
    build(state, limits, true)
}

/// The same schema without the admission extension, for callers that run
/// [`crate::admission::admit`] themselves and whose operation has at most
/// `limits.concurrent_roots` root fields (the extension's per-request bound on root
/// fields resolving at once is then met by construction).
///
/// Why a second schema: with any extension registered, async-graphql 7 wraps every
/// field of every response in the extension chain (a boxed future, two registry look-ups
/// by name and, per list item, two type-name strings), whether or not the extension
/// hooks field resolution. On a page of 50 bookings with three edges that was ~17 % of
/// our CPU per request (measured, README "Performance"). Without the extension, errors
/// raised before execution carry no `extensions.code`; see
/// [`crate::admission::uncoded_refusal`].
pub fn build_lean_schema(state: Option<GraphState>, limits: Limits) -> AppSchema {
    build(state, limits, false)
}

fn build(state: Option<GraphState>, limits: Limits, admission: bool) -> AppSchema {
    let mut b = Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    // The schema-wide limit is the larger one; admission holds other fields to
    // `max_depth` (async-graphql has no per-field depth limit).
    .limit_depth(limits.max_depth.max(limits.max_introspection_depth))
    .limit_complexity(limits.max_complexity)
    .limit_recursive_depth(limits.max_recursive_depth)
    .limit_directives(limits.max_directives);
    if admission {
        b = b.extension(admission_rules(&limits));
    }
    if !limits.introspection {
        b = b.disable_introspection();
    }
    if !limits.suggestions {
        b = b.disable_suggestions();
    }
    if let Some(st) = state {
        b = b.data(st);
    }
    b.finish()
}

/// The admission rules `limits` gives (what [`build_schema`]'s extension enforces).
pub fn admission_rules(limits: &Limits) -> crate::admission::Admission {
    crate::admission::Admission {
        max_depth: limits.max_depth,
        max_root_fields: limits.max_root_fields,
        timeout: limits.request_timeout,
        concurrent_roots: limits.concurrent_roots,
    }
}

/// The SDL of the schema, as committed in `schema/schema.graphql`; custom scalars carry
/// `@specifiedBy(url:)` as introspection reports them (so a client schema built from
/// introspection prints the same SDL).
pub fn sdl() -> String {
    build_schema(None, Limits::default())
        .sdl_with_options(async_graphql::SDLExportOptions::new().include_specified_by())
}
