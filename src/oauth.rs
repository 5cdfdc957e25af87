//! `GET /oauth/google/callback`: where Google's consent page sends the user back
//! (`?code=…&state=…`, or `?error=access_denied&state=…`). The `state` must be one we
//! handed out (single use, 10 minutes); the page tells the user what happened and
//! never echoes the code, the state or any token.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use graph::calendar::service::{self, CallbackError};

use crate::app_state::AppState;

fn page(status: StatusCode, title: &str, text: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         </head><body><h1>{title}</h1><p>{text}</p></body></html>"
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'"),
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
        .into_response()
}

/// `GET /oauth/google/callback`.
pub async fn google_callback(
    State(app): State<Arc<AppState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let state = q.get("state").map(String::as_str).unwrap_or_default();
    let code = q.get("code").map(String::as_str);
    let error = q.get("error").map(String::as_str);
    match service::complete(&app.graph, state, code, error).await {
        Ok(_) => page(
            StatusCode::OK,
            "Google Calendar connected",
            "Busy time from your calendar now blocks bookings, and your bookings appear in \
             your calendar. You can close this window.",
        ),
        Err(e) => {
            let status = match e {
                CallbackError::InvalidState | CallbackError::Refused => StatusCode::BAD_REQUEST,
                CallbackError::Denied => StatusCode::OK,
                CallbackError::Unavailable => StatusCode::BAD_GATEWAY,
            };
            page(status, "Google Calendar not connected", &e.to_string())
        }
    }
}
