//! `message_templates`: a tenant's own body for one kind of automatic message.

use sea_orm::entity::prelude::*;

use crate::kinds::MessageKind;

/// A tenant's template for one [`MessageKind`] (unique per tenant and kind).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "message_templates")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// Which automatic message it replaces.
    pub kind: MessageKind,
    /// Text with `{variables}`.
    pub body: String,
    /// Last change (UTC).
    pub updated_at: DateTimeUtc,
}

/// No SeaORM relations are declared.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
