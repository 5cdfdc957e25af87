//! Staff members and their weekly working hours.

pub mod service;
pub mod types;

use async_graphql::{Context, ID, Object};

use crate::guards::{MANAGE, RoleGuard};
use crate::pagination::{Page, PageArgs};
use crate::state::{caller, state};
use crate::util::parse_id;
use types::{CreateStaffMemberInput, StaffMember, StaffMemberPayload, UpdateStaffMemberInput};

/// Staff queries.
#[derive(Default)]
pub struct StaffQuery;

/// Staff queries.
#[Object]
impl StaffQuery {
    /// The tenant's staff members by name; archived ones only with `includeArchived`.
    /// Any logged-in user. Errors: `UNAUTHENTICATED`, `BAD_USER_INPUT`.
    #[graphql(complexity = "crate::cost::page(first, last, child_complexity)")]
    async fn staff_members(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = false, desc = "Include archived (inactive) staff members.")]
        include_archived: bool,
        #[graphql(desc = "Page forward: at most this many (0–100, default 20).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Page forward: after this cursor.")] after: Option<String>,
        #[graphql(desc = "Page backward: at most this many (0–100).")] last: Option<i32>,
        #[graphql(desc = "Page backward: before this cursor.")] before: Option<String>,
    ) -> async_graphql::Result<Page<StaffMember>> {
        let rc = caller(ctx)?;
        let args = PageArgs::of(ctx, first, after, last, before);
        let st = state(ctx)?;
        let tx = st.db.read(rc.tenant_id).await?;
        let page = service::list(&*tx, rc, include_archived, args).await?;
        tx.commit().await?;
        Ok(page.into_page(StaffMember))
    }

    /// One staff member. Errors: `UNAUTHENTICATED`, `NOT_FOUND`.
    async fn staff_member(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<StaffMember> {
        let rc = caller(ctx)?;
        let id = parse_id(&id, "id")?;
        Ok(StaffMember(service::get(state(ctx)?, rc, id).await?))
    }
}

/// Staff mutations (owners and managers).
#[derive(Default)]
pub struct StaffMutation;

/// Staff mutations (owners and managers).
#[Object]
impl StaffMutation {
    /// Adds a staff member with a weekly schedule. Errors: `UNAUTHENTICATED`,
    /// `FORBIDDEN`. User errors: `INVALID_INPUT`, `NOT_FOUND` (userId).
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn create_staff_member(
        &self,
        ctx: &Context<'_>,
        input: CreateStaffMemberInput,
    ) -> async_graphql::Result<StaffMemberPayload> {
        let rc = caller(ctx)?;
        Ok(service::create(state(ctx)?, rc, input).await?.into())
    }

    /// Changes a staff member; `weeklyHours`, when given, replaces the whole schedule.
    /// Existing bookings are kept. Errors: `UNAUTHENTICATED`, `FORBIDDEN`, `NOT_FOUND`.
    /// User errors: `INVALID_INPUT`, `NOT_FOUND` (userId).
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn update_staff_member(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateStaffMemberInput,
    ) -> async_graphql::Result<StaffMemberPayload> {
        let rc = caller(ctx)?;
        let id = parse_id(&id, "id")?;
        Ok(service::update(state(ctx)?, rc, id, input).await?.into())
    }

    /// Archives a staff member: no new bookings; existing ones stay. Errors:
    /// `UNAUTHENTICATED`, `FORBIDDEN`, `NOT_FOUND`.
    #[graphql(guard = "RoleGuard::new(MANAGE)")]
    async fn archive_staff_member(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<StaffMemberPayload> {
        let rc = caller(ctx)?;
        let id = parse_id(&id, "id")?;
        let input = UpdateStaffMemberInput {
            active: Some(false),
            ..Default::default()
        };
        Ok(service::update(state(ctx)?, rc, id, input).await?.into())
    }
}
