//! Admission: what every operation must pass before it runs, over HTTP and WebSocket
//! alike (an async-graphql extension, `prepare_request`):
//!
//! - no string may contain U+0000 (PostgreSQL text cannot hold it; refused on both
//!   backends, in the query text and in variables) → `BAD_USER_INPUT`;
//! - at most one `logIn`, `signUp` or `refreshToken` per operation, so aliases cannot
//!   multiply password guesses → `BAD_USER_INPUT`;
//! - selections nest at most `GRAPHQL_MAX_DEPTH` deep (default 12), except under
//!   `__schema`/`__type`, where the standard introspection query of graphql-js and
//!   graphql-core (15 deep with every option on) needs up to
//!   `GRAPHQL_MAX_INTROSPECTION_DEPTH` (default 15; the schema's own depth limit);
//!   introspection may not nest `fields`, `interfaces`, `possibleTypes` or
//!   `inputFields` three deep (graphql-js's `MaxIntrospectionDepthRule`, the circular
//!   `__type` attack) → `GRAPHQL_VALIDATION_FAILED`;
//! - at most `GRAPHQL_MAX_ROOT_FIELDS` root fields (default 20): one request cannot fan
//!   out into more parallel work (and database connections) than that →
//!   `BAD_USER_INPUT`;
//! - every query and mutation runs under the request timeout (`REQUEST_TIMEOUT_SECS`),
//!   over WebSocket as over HTTP;
//! - at most `DATABASE_CONNECTIONS_PER_REQUEST` root fields of one request resolve at
//!   once (default 4), so one request cannot take the connection pool;
//! - rate limits ([`crate::limits`]), charged per root field (aliases count): anonymous
//!   callers per client IP, users per tenant by plan, agents per key; plus `logIn`/
//!   `signUp`/`refreshToken` per client IP → `RATE_LIMITED` with `retryAfter`.

use std::any::TypeId;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest,
};
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, Selection, SelectionSet,
};
use async_graphql::{ErrorExtensions, Pos, Request, ServerError, ServerResult};
use entities::tenant;
use sea_orm::EntityTrait;

use crate::context::{Principal, Session};
use crate::error::ApiError;
use crate::platform::Plan;
use crate::state::GraphState;

/// Root fields that check a password or mint credentials: one per operation.
pub const CREDENTIAL_FIELDS: &[&str] = &["logIn", "signUp", "refreshToken"];

/// How deep fragments at the root are followed when counting root fields.
const MAX_FRAGMENT_DEPTH: usize = 8;

/// Root fields answered by introspection: their subtrees may nest deeper.
const INTROSPECTION_ROOTS: &[&str] = &["__schema", "__type"];
/// Introspection fields that list a type's members (graphql-js `MaxIntrospectionDepthRule`).
const INTROSPECTION_LISTS: &[&str] = &["fields", "interfaces", "possibleTypes", "inputFields"];
/// Nested [`INTROSPECTION_LISTS`] fields refused at this count (graphql-js: 3).
const MAX_INTROSPECTION_LISTS: usize = 3;

/// The extension factory (`Schema::build(..).extension(Admission { .. })`).
#[derive(Debug, Clone, Copy)]
pub struct Admission {
    /// Deepest nesting outside introspection (`GRAPHQL_MAX_DEPTH`); the schema's own
    /// depth limit is the introspection one.
    pub max_depth: usize,
    /// Most root fields per operation.
    pub max_root_fields: usize,
    /// Longest execution of a query or mutation.
    pub timeout: std::time::Duration,
    /// Root fields of one request resolving at once.
    pub concurrent_roots: usize,
}

impl ExtensionFactory for Admission {
    fn create(&self) -> Arc<dyn Extension> {
        // One extension instance per request: the semaphore bounds that request.
        Arc::new(AdmissionExtension(
            *self,
            tokio::sync::Semaphore::new(self.concurrent_roots.max(1)),
        ))
    }
}

struct AdmissionExtension(Admission, tokio::sync::Semaphore);

/// `extensions.code` of a document that does not parse (Apollo Server's name for it).
pub const PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
/// `extensions.code` of a document that breaks a validation rule: unknown fields, wrong
/// argument types, `GRAPHQL_MAX_DEPTH`, `GRAPHQL_MAX_COMPLEXITY` (Apollo Server's name).
pub const VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";
/// `extensions.code` of an operation stopped after `REQUEST_TIMEOUT_SECS`.
pub const TIMEOUT: &str = "TIMEOUT";

/// The error of an operation stopped after `REQUEST_TIMEOUT_SECS` (code `TIMEOUT`).
pub fn timed_out() -> ServerError {
    with_code(ServerError::new("request timed out", None), TIMEOUT)
}

/// `e` with `extensions.code = code`, unless it already has a code.
fn with_code(mut e: ServerError, code: &'static str) -> ServerError {
    let ext = e.extensions.get_or_insert_with(Default::default);
    if ext.get("code").is_none() {
        ext.set("code", code);
    }
    e
}

/// The request-level error (no location: it concerns the whole operation).
fn refuse(e: ApiError) -> ServerError {
    let mut se = e.extend().into_server_error(Pos::default());
    se.locations.clear();
    se
}

#[async_trait::async_trait]
impl Extension for AdmissionExtension {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let mut request = request;
        if request.data.get(&TypeId::of::<Admitted>()).is_none() {
            let session = request
                .data
                .get(&TypeId::of::<Session>())
                .and_then(|d| d.downcast_ref::<Session>())
                .or_else(|| ctx.data_opt::<Session>())
                .cloned()
                .unwrap_or_default();
            admit(
                ctx.data_opt::<GraphState>(),
                &session,
                &mut request,
                &self.0,
            )
            .await?;
        }
        next.run(ctx, request).await
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: async_graphql::extensions::ResolveInfo<'_>,
        next: async_graphql::extensions::NextResolve<'_>,
    ) -> ServerResult<Option<async_graphql::Value>> {
        if info.path_node.parent.is_some() {
            return next.run(ctx, info).await;
        }
        let _permit = self.1.acquire().await.ok();
        next.run(ctx, info).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &async_graphql::Variables,
        next: async_graphql::extensions::NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        next.run(ctx, query, variables)
            .await
            .map_err(|e| with_code(e, PARSE_FAILED))
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: async_graphql::extensions::NextValidation<'_>,
    ) -> Result<async_graphql::ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|errs| {
            errs.into_iter()
                .map(|e| with_code(e, VALIDATION_FAILED))
                .collect()
        })
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: async_graphql::extensions::NextExecute<'_>,
    ) -> async_graphql::Response {
        match tokio::time::timeout(self.0.timeout, next.run(ctx, operation_name)).await {
            Ok(resp) => resp,
            Err(_) => {
                tracing::warn!("operation timed out");
                async_graphql::Response::from_errors(vec![timed_out()])
            }
        }
    }
}

/// Whether `s` holds U+0000, literally or as a GraphQL `\u0000` escape (any case).
fn has_nul_text(s: &str) -> bool {
    s.contains('\0')
        || s.as_bytes()
            .windows(6)
            .any(|w| w.eq_ignore_ascii_case(b"\\u0000"))
}

fn has_nul_value(v: &async_graphql::Value) -> bool {
    use async_graphql::Value as V;
    match v {
        V::String(s) => s.contains('\0'),
        V::List(l) => l.iter().any(has_nul_value),
        V::Object(o) => o
            .iter()
            .any(|(k, v)| k.as_str().contains('\0') || has_nul_value(v)),
        _ => false,
    }
}

/// The operation `request` runs (by name, or the only one).
fn operation<'d>(
    doc: &'d ExecutableDocument,
    name: Option<&str>,
) -> Option<&'d OperationDefinition> {
    match (&doc.operations, name) {
        (DocumentOperations::Single(op), _) => Some(&op.node),
        (DocumentOperations::Multiple(ops), Some(n)) => ops.get(n).map(|op| &op.node),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|op| &op.node)
        }
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// Names of the root fields of `set` (each alias counts), following fragments at the
/// root.
fn root_fields<'d>(
    doc: &'d ExecutableDocument,
    set: &'d SelectionSet,
    depth: usize,
    out: &mut Vec<&'d str>,
) {
    if depth > MAX_FRAGMENT_DEPTH {
        return;
    }
    for sel in &set.items {
        match &sel.node {
            Selection::Field(f) => out.push(f.node.name.node.as_str()),
            Selection::InlineFragment(f) => {
                root_fields(doc, &f.node.selection_set.node, depth + 1, out)
            }
            Selection::FragmentSpread(s) => {
                if let Some(frag) = doc.fragments.get(&s.node.fragment_name.node) {
                    root_fields(doc, &frag.node.selection_set.node, depth + 1, out);
                }
            }
        }
    }
}

async fn plan_of(st: &GraphState, tenant_id: uuid::Uuid) -> Option<Plan> {
    st.limiter
        .plan_of(tenant_id, || async move {
            let tx = st.db.read(tenant_id).await.ok()?;
            let t = tenant::Entity::find_by_id(tenant_id)
                .one(&*tx)
                .await
                .ok()??;
            let _ = tx.commit().await;
            Plan::parse(&t.plan)
        })
        .await
}

/// How deep a selection nests, and how many introspection member lists it nests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Nesting {
    /// Deepest path of fields outside introspection (a root field counts 1, as
    /// async-graphql counts).
    depth: usize,
    /// Most [`INTROSPECTION_LISTS`] fields on one path under `__schema`/`__type`.
    lists: usize,
}

impl Nesting {
    fn max(self, o: Nesting) -> Nesting {
        Nesting {
            depth: self.depth.max(o.depth),
            lists: self.lists.max(o.lists),
        }
    }
}

/// Measures [`Nesting`], each fragment once per mode (so fragments spread many times
/// cost nothing extra); a fragment cycle counts as empty (validation refuses it).
struct Measure<'d> {
    doc: &'d ExecutableDocument,
    /// `(fragment, inside introspection)` → its nesting; `None` while being measured.
    memo: HashMap<(&'d str, bool), Option<Nesting>>,
}

impl<'d> Measure<'d> {
    fn set(&mut self, set: &'d SelectionSet, introspection: bool) -> Nesting {
        let mut out = Nesting::default();
        for sel in &set.items {
            let n = match &sel.node {
                Selection::Field(f) => {
                    let name = f.node.name.node.as_str();
                    let inner = introspection || INTROSPECTION_ROOTS.contains(&name);
                    let child = self.set(&f.node.selection_set.node, inner);
                    if inner {
                        Nesting {
                            depth: 0,
                            lists: child.lists
                                + usize::from(introspection && INTROSPECTION_LISTS.contains(&name)),
                        }
                    } else {
                        Nesting {
                            depth: child.depth + 1,
                            lists: child.lists,
                        }
                    }
                }
                Selection::InlineFragment(f) => self.set(&f.node.selection_set.node, introspection),
                Selection::FragmentSpread(s) => {
                    let name = s.node.fragment_name.node.as_str();
                    match self.memo.get(&(name, introspection)) {
                        Some(Some(n)) => *n,
                        Some(None) => Nesting::default(),
                        None => match self.doc.fragments.get(&s.node.fragment_name.node) {
                            Some(frag) => {
                                self.memo.insert((name, introspection), None);
                                let n = self.set(&frag.node.selection_set.node, introspection);
                                self.memo.insert((name, introspection), Some(n));
                                n
                            }
                            None => Nesting::default(),
                        },
                    }
                }
            };
            out = out.max(n);
        }
        out
    }
}

/// [`Nesting`] of `op`.
fn nesting(doc: &ExecutableDocument, op: &OperationDefinition) -> Nesting {
    Measure {
        doc,
        memo: HashMap::new(),
    }
    .set(&op.selection_set.node, false)
}

/// A validation refusal (`GRAPHQL_VALIDATION_FAILED`), as async-graphql's own.
fn invalid(message: &str) -> ServerError {
    with_code(ServerError::new(message, None), VALIDATION_FAILED)
}

/// The checks of the module documentation, for one request; rate limits only when the
/// schema has its state. Errors: `BAD_USER_INPUT`, `GRAPHQL_VALIDATION_FAILED`,
/// `RATE_LIMITED`.
///
/// Returns the operation's root field count (aliases included), or `None` when the
/// document does not parse or names no operation (the executor then reports that).
///
/// The document is parsed once, into the request (`Request::parsed_query`), so the
/// executor that runs it next does not parse it again.
pub async fn admit(
    st: Option<&GraphState>,
    session: &Session,
    request: &mut Request,
    rules: &Admission,
) -> ServerResult<Option<usize>> {
    let Some(roots) = shape(request, rules)? else {
        return Ok(None);
    };
    if let Some(st) = st {
        charge(st, session, roots).await.map_err(refuse)?;
    }
    Ok(Some(roots.count))
}

/// Request data saying that [`admit`] already ran on this request (the HTTP edge admits
/// before it picks a schema); the extension then does not charge the limits twice.
#[derive(Debug, Clone, Copy)]
pub struct Admitted;

/// Whether `resp` is a refusal from before execution that carries no
/// `extensions.code`: no data, and only errors without a path (validation, a
/// parse-time limit, an unknown operation). A schema built without the admission
/// extension ([`crate::schema::build_lean_schema`]) answers such requests uncoded; the
/// edge then runs them again on the full schema, which codes them (nothing ran, so
/// nothing happens twice).
pub fn uncoded_refusal(resp: &async_graphql::Response) -> bool {
    resp.data == async_graphql::Value::Null
        && !resp.errors.is_empty()
        && resp.errors.iter().all(|e| {
            e.path.is_empty()
                && e.extensions
                    .as_ref()
                    .is_none_or(|x| x.get("code").is_none())
        })
}

/// What the rate limits charge for: the operation's root fields.
#[derive(Debug, Clone, Copy)]
struct Roots {
    /// Root fields, aliases included.
    count: usize,
    /// How many of them are `logIn`, `signUp` or `refreshToken` (0 or 1 once admitted).
    credential_calls: usize,
}

/// The request's root fields after the checks that need no state (`None` when the
/// document does not parse or names no operation: the executor reports that as usual).
fn shape(request: &mut Request, rules: &Admission) -> ServerResult<Option<Roots>> {
    let max_root_fields = rules.max_root_fields;
    if has_nul_text(&request.query)
        || request
            .variables
            .iter()
            .any(|(k, v)| k.contains('\0') || has_nul_value(v))
        || request
            .operation_name
            .as_deref()
            .is_some_and(|n| n.contains('\0'))
    {
        return Err(refuse(ApiError::BadUserInput(
            "strings may not contain the NUL character (U+0000)".into(),
        )));
    }
    let operation_name = request.operation_name.clone();
    let Ok(doc) = request.parsed_query() else {
        return Ok(None);
    };
    let Some(op) = operation(doc, operation_name.as_deref()) else {
        return Ok(None);
    };
    let mut roots = Vec::new();
    root_fields(doc, &op.selection_set.node, 0, &mut roots);
    if roots.len() > max_root_fields {
        return Err(refuse(ApiError::BadUserInput(format!(
            "at most {max_root_fields} root fields (aliases included) per operation"
        ))));
    }
    let credential_calls = roots
        .iter()
        .filter(|n| CREDENTIAL_FIELDS.contains(n))
        .count();
    if credential_calls > 1 {
        return Err(refuse(ApiError::BadUserInput(
            "at most one logIn, signUp or refreshToken per operation".into(),
        )));
    }
    let n = nesting(doc, op);
    if n.depth > rules.max_depth {
        // async-graphql's own wording for its depth limit.
        return Err(invalid("Query is nested too deep."));
    }
    if n.lists >= MAX_INTROSPECTION_LISTS {
        // graphql-js's wording (MaxIntrospectionDepthRule).
        return Err(invalid("Maximum introspection depth exceeded"));
    }
    Ok(Some(Roots {
        count: roots.len(),
        credential_calls,
    }))
}

/// Charges the request's rate limits ([`crate::limits`]). Errors: `RATE_LIMITED`.
async fn charge(st: &GraphState, session: &Session, roots: Roots) -> Result<(), ApiError> {
    let limits = st.limiter.config();
    if !limits.enabled {
        return Ok(());
    }
    let cost = roots.count.max(1).min(u32::MAX as usize) as u32;
    let ip = session.client_ip;
    if roots.credential_calls > 0
        && let Some(ip) = ip
    {
        st.limiter
            .charge(&format!("auth-ip:{}", ip_key(ip)), limits.auth_per_ip, 1)
            .await?;
    }
    match session
        .auth
        .as_ref()
        .map(|rc| (&rc.principal, rc.tenant_id))
    {
        Some((Principal::Agent { key_id }, _)) => {
            st.limiter
                .charge(&format!("agent:{key_id}"), limits.agent_key, cost)
                .await
        }
        Some((_, tenant_id)) => {
            let quota = limits.for_plan(plan_of(st, tenant_id).await);
            st.limiter
                .charge(&format!("tenant:{tenant_id}"), quota, cost)
                .await
        }
        None => match ip {
            Some(ip) => {
                st.limiter
                    .charge(&format!("ip:{}", ip_key(ip)), limits.public_per_ip, cost)
                    .await
            }
            None => Ok(()),
        },
    }
}

/// The key of a client address: IPv4 as is, IPv6 by its /64 (one subscriber's
/// allocation, RFC 6177), so rotating addresses inside it does not buy more budget.
pub fn ip_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn roots(q: &str, name: Option<&str>) -> Vec<String> {
        let doc = async_graphql::parser::parse_query(q).unwrap();
        let op = operation(&doc, name).unwrap();
        let mut out = Vec::new();
        root_fields(&doc, &op.selection_set.node, 0, &mut out);
        out.into_iter().map(str::to_string).collect()
    }

    #[test]
    fn root_fields_count_aliases_and_fragments() {
        assert_eq!(
            roots(
                "mutation { a: logIn(x: 1) { t } b: logIn(x: 2) { t } }",
                None
            ),
            ["logIn", "logIn"]
        );
        assert_eq!(
            roots(
                "query { ...F ... on Query { me { id } } } fragment F on Query { publicTenant(slug: \"x\") { name } }",
                None
            ),
            ["publicTenant", "me"]
        );
        assert_eq!(
            roots("query A { a } query B { b c }", Some("B")),
            ["b", "c"]
        );
        // A fragment that spreads itself stops at the depth limit.
        let r = roots("query { ...F } fragment F on Query { x ...F }", None);
        assert_eq!(r.len(), MAX_FRAGMENT_DEPTH);
    }

    #[test]
    fn nul_is_found_in_text_and_variables() {
        assert!(has_nul_text(
            "{ publicTenant(slug: \"demo\\u0000\") { name } }"
        ));
        assert!(!has_nul_text("{ publicTenant(slug: \"demo\") { name } }"));
        let v = async_graphql::Value::from_json(
            serde_json::json!({"input": {"names": ["ok", "bad\u{0}"]}}),
        )
        .unwrap();
        assert!(has_nul_value(&v));
        let v = async_graphql::Value::from_json(serde_json::json!({"input": {"name": "fine"}}))
            .unwrap();
        assert!(!has_nul_value(&v));
    }

    #[test]
    fn ipv6_clients_share_their_slash_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(ip_key(a), ip_key(b));
        assert_eq!(ip_key("::ffff:10.0.0.1".parse().unwrap()), "10.0.0.1");
        assert_eq!(ip_key("192.0.2.7".parse().unwrap()), "192.0.2.7");
    }
}
