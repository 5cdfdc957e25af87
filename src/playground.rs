//! The playground: GraphiQL served by this server alone, and the published SDL.
//!
//! | route | what |
//! |---|---|
//! | `GET /playground` | the GraphiQL page (`playground/index.html`) |
//! | `GET /playground/{file}` | its script and style (`app.js`, `app.css`) |
//! | `GET /playground/vendor/{file}` | GraphiQL 3.8.3 and React 18.3.1 from npm (`playground/vendor/`, pinned by `SHA256SUMS`) |
//! | `GET /playground/operations.json` | the saved operations of `playground/*.graphql` |
//! | `GET /schema.graphql` | the schema's SDL, as committed in `schema/schema.graphql` |
//!
//! Every file is embedded in the binary at build time (`rust-embed`), so the page works
//! with no internet access and no files beside the binary. Each playground answer carries
//! a Content-Security-Policy that allows only this origin (scripts, styles, fonts as
//! `data:` URLs, `fetch` and WebSocket back to the server), so the page cannot load or
//! send anything elsewhere; files are revalidated by `ETag` (their SHA-256).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rust_embed::RustEmbed;
use serde::Serialize;

use crate::app_state::AppState;

/// The files of `playground/` (page, script, style, vendored GraphiQL, saved operations).
#[derive(RustEmbed)]
#[folder = "playground/"]
#[include = "*.html"]
#[include = "*.js"]
#[include = "*.css"]
#[include = "*.graphql"]
#[include = "vendor/LICENSE"]
#[include = "vendor/SHA256SUMS"]
pub struct Files;

/// The Content-Security-Policy of the playground's answers. `'self'` covers the
/// same-origin WebSocket (`ws:`/`wss:`, CSP Level 3 §6.7.2.8); GraphiQL sets element
/// styles from script, hence `'unsafe-inline'` for styles only; its fonts are `data:` URLs.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     font-src 'self' data:; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// The playground's routes (mounted when `PLAYGROUND` is on) and `/schema.graphql`.
pub fn routes(enabled: bool) -> Router<Arc<AppState>> {
    let r = Router::new().route("/schema.graphql", get(sdl));
    if !enabled {
        return r;
    }
    r.route("/playground", get(page))
        .route("/playground/", get(page))
        .route("/playground/operations.json", get(operations))
        .route("/playground/{file}", get(file))
        .route("/playground/vendor/{file}", get(vendor_file))
}

/// One saved operation of `playground/`, as the page lists it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SavedOperation {
    /// File name, e.g. `login.graphql`.
    pub file: String,
    /// The operation's name (`LogIn`), or the file stem when it has none.
    pub name: String,
    /// `query`, `mutation` or `subscription`.
    pub kind: &'static str,
    /// The file's leading `#` comment, without the `#`s.
    pub description: String,
    /// Whether it runs without a login (files with `public` in their name).
    pub public: bool,
    /// The whole file (comment included).
    pub document: String,
}

/// The saved operations of `playground/*.graphql`, sorted by file name. A file whose
/// operation does not parse is listed with kind `query` (the playground test keeps them
/// valid).
pub fn saved_operations() -> Vec<SavedOperation> {
    let mut out: Vec<SavedOperation> = Files::iter()
        .filter(|f| f.ends_with(".graphql") && !f.contains('/'))
        .filter_map(|f| {
            let text = String::from_utf8(Files::get(&f)?.data.into_owned()).ok()?;
            Some(describe(&f, text))
        })
        .collect();
    out.sort_by(|a, b| a.file.cmp(&b.file));
    out
}

fn describe(file: &str, document: String) -> SavedOperation {
    use async_graphql::parser::types::{DocumentOperations, OperationType};
    let stem = file.trim_end_matches(".graphql").to_string();
    let description = document
        .lines()
        .take_while(|l| l.starts_with('#'))
        .map(|l| l.trim_start_matches('#').trim())
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string();
    let (name, kind) = match async_graphql::parser::parse_query(&document) {
        Ok(doc) => {
            let (name, ty) = match &doc.operations {
                DocumentOperations::Single(op) => (None, op.node.ty),
                DocumentOperations::Multiple(ops) => match ops.iter().next() {
                    Some((n, op)) => (Some(n.to_string()), op.node.ty),
                    None => (None, OperationType::Query),
                },
            };
            let kind = match ty {
                OperationType::Query => "query",
                OperationType::Mutation => "mutation",
                OperationType::Subscription => "subscription",
            };
            (name.unwrap_or_else(|| stem.clone()), kind)
        }
        Err(_) => (stem.clone(), "query"),
    };
    SavedOperation {
        public: file.contains("public"),
        file: file.to_string(),
        name,
        kind,
        description,
        document,
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("graphql") => "application/graphql; charset=utf-8",
        _ => "text/plain; charset=utf-8",
    }
}

/// Adds the playground's security headers.
fn secure(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

/// An embedded file, `304 Not Modified` when `If-None-Match` names its hash.
fn serve(path: &str, headers: &HeaderMap) -> Response {
    let Some(f) = Files::get(path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = format!("\"{}\"", hex::encode(f.metadata.sha256_hash()));
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let etag = HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\""));
    let cache = (header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if fresh {
        return secure((StatusCode::NOT_MODIFIED, [(header::ETAG, etag), cache]).into_response());
    }
    secure(
        (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(content_type(path)),
                ),
                (header::ETAG, etag),
                cache,
            ],
            f.data.into_owned(),
        )
            .into_response(),
    )
}

/// `GET /playground`: the page, with the demo login filled in when the demo tenant is
/// seeded (development), as `data-` attributes (the CSP allows no inline script).
async fn page(State(app): State<Arc<AppState>>) -> Response {
    let Some(f) = Files::get("index.html") else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let html = String::from_utf8_lossy(&f.data).into_owned();
    let demo = if app.demo_login {
        format!(
            "data-demo-email=\"{}\" data-demo-password=\"{}\" data-demo-tenant=\"{}\"",
            graph::seed::DEMO_OWNER_EMAIL,
            graph::seed::DEMO_PASSWORD,
            graph::seed::DEMO_SLUG
        )
    } else {
        String::new()
    };
    let html = html.replace("data-sg-demo", &demo);
    secure(
        (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            html,
        )
            .into_response(),
    )
}

/// `GET /playground/{file}`: `app.js`, `app.css` (never a saved operation's raw file).
async fn file(Path(name): Path<String>, headers: HeaderMap) -> Response {
    if name.ends_with(".js") || name.ends_with(".css") {
        serve(&name, &headers)
    } else {
        StatusCode::NOT_FOUND.into_response()
    }
}

/// `GET /playground/vendor/{file}`: GraphiQL, React, their licence and checksums.
async fn vendor_file(Path(name): Path<String>, headers: HeaderMap) -> Response {
    serve(&format!("vendor/{name}"), &headers)
}

/// `GET /playground/operations.json`: [`saved_operations`].
async fn operations() -> Response {
    secure(axum::Json(saved_operations()).into_response())
}

/// `GET /schema.graphql`: the SDL ([`graph::sdl`], what `export-schema` writes), rendered
/// once.
async fn sdl() -> Response {
    static SDL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    (
        [(header::CONTENT_TYPE, "application/graphql; charset=utf-8")],
        SDL.get_or_init(graph::sdl).clone(),
    )
        .into_response()
}
