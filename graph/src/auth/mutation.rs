//! Mutations: `signUp`, `logIn`, `refreshToken`, `logOut`, `createUser`.

use async_graphql::{Context, Object};

use super::service::{self, Session};
use super::types::{
    AuthPayload, CreateUserInput, CreateUserPayload, LogInInput, LogOutPayload, SignUpInput,
    Tenant, User,
};
use crate::error::Outcome;
use crate::state::{caller, state};

fn payload(outcome: Outcome<Session>) -> AuthPayload {
    match outcome {
        Ok(s) => AuthPayload {
            access_token: Some(s.access_token),
            refresh_token: Some(s.refresh_token),
            access_token_expires_at: Some(s.access_expires_at),
            user: Some(User(s.user)),
            tenant: Some(Tenant(s.tenant)),
            user_errors: vec![],
        },
        Err(user_errors) => AuthPayload {
            user_errors,
            ..Default::default()
        },
    }
}

/// Auth mutations.
#[derive(Default)]
pub struct AuthMutation;

/// Auth mutations.
#[Object]
impl AuthMutation {
    /// Creates a business (tenant) and its owner, and logs the owner in. User errors:
    /// `INVALID_INPUT`, `SLUG_TAKEN`, `INVALID_TIMEZONE`, `INVALID_CURRENCY`,
    /// `INVALID_EMAIL`, `WEAK_PASSWORD`.
    async fn sign_up(
        &self,
        ctx: &Context<'_>,
        input: SignUpInput,
    ) -> async_graphql::Result<AuthPayload> {
        Ok(payload(service::sign_up(state(ctx)?, input).await?))
    }

    /// Logs in with email and password. User errors: `INVALID_CREDENTIALS`,
    /// `TENANT_REQUIRED`.
    async fn log_in(
        &self,
        ctx: &Context<'_>,
        input: LogInInput,
    ) -> async_graphql::Result<AuthPayload> {
        Ok(payload(service::log_in(state(ctx)?, input).await?))
    }

    /// Exchanges a refresh token for new tokens. Each refresh token works once; reusing
    /// one revokes every token of its log-in. User error: `INVALID_REFRESH_TOKEN`.
    async fn refresh_token(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The refresh token from `logIn`, `signUp` or a previous refresh.")]
        refresh_token: String,
    ) -> async_graphql::Result<AuthPayload> {
        Ok(payload(
            service::refresh(state(ctx)?, &refresh_token).await?,
        ))
    }

    /// Revokes the refresh token and every token rotated from the same log-in. Access
    /// tokens already issued stay valid until they expire (≤ 15 minutes). User error:
    /// `INVALID_REFRESH_TOKEN`.
    async fn log_out(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The refresh token to revoke.")] refresh_token: String,
    ) -> async_graphql::Result<LogOutPayload> {
        Ok(match service::log_out(state(ctx)?, &refresh_token).await? {
            Ok(()) => LogOutPayload {
                success: true,
                user_errors: vec![],
            },
            Err(user_errors) => LogOutPayload {
                success: false,
                user_errors,
            },
        })
    }

    /// Adds a team member who can log in. Owners may add any role, managers only
    /// technicians. Errors: `UNAUTHENTICATED`, `FORBIDDEN`. User errors: `INVALID_EMAIL`,
    /// `EMAIL_TAKEN`, `WEAK_PASSWORD`, `INVALID_INPUT`.
    async fn create_user(
        &self,
        ctx: &Context<'_>,
        input: CreateUserInput,
    ) -> async_graphql::Result<CreateUserPayload> {
        let rc = caller(ctx)?;
        Ok(match service::create_user(state(ctx)?, rc, input).await? {
            Ok(u) => CreateUserPayload {
                user: Some(User(u)),
                user_errors: vec![],
            },
            Err(user_errors) => CreateUserPayload {
                user: None,
                user_errors,
            },
        })
    }
}
