//! GraphQL types of customers.

use async_graphql::{ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entities::customer;

use crate::error::{Outcome, UserError};

/// A client of the business.
#[derive(Clone)]
pub struct Customer(pub customer::Model);

/// A client of the business.
#[Object]
impl Customer {
    /// Customer id (UUID).
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Full name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Phone, E.164 (e.g. `+14155550100`).
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }
    /// Email (lower-case).
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    /// Service address.
    async fn address(&self) -> Option<&str> {
        self.0.address.as_deref()
    }
    /// Operator notes (never shown to the customer).
    async fn notes(&self) -> Option<&str> {
        self.0.notes.as_deref()
    }
    /// True once archived.
    async fn archived(&self) -> bool {
        self.0.archived_at.is_some()
    }
    /// When the customer was added (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Input of `createCustomer`; at least a name. Phone and email are normalised (E.164,
/// lower-case); a phone without `+` is read as a US number.
#[derive(InputObject, Debug, Clone, Default)]
pub struct CustomerInput {
    /// Full name, 1–200 characters.
    pub name: String,
    /// Phone number.
    pub phone: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// Service address.
    pub address: Option<String>,
    /// Operator notes.
    pub notes: Option<String>,
}

/// Input of `updateCustomer`: omitted fields are unchanged; `""` clears an optional one.
#[derive(InputObject, Debug, Clone, Default)]
pub struct UpdateCustomerInput {
    /// Full name, 1–200 characters.
    pub name: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// Service address.
    pub address: Option<String>,
    /// Operator notes.
    pub notes: Option<String>,
}

/// Result of customer mutations.
#[derive(SimpleObject, Default)]
pub struct CustomerPayload {
    /// The customer after the change.
    pub customer: Option<Customer>,
    /// Why the change was refused.
    pub user_errors: Vec<UserError>,
}

impl From<Outcome<customer::Model>> for CustomerPayload {
    fn from(o: Outcome<customer::Model>) -> Self {
        match o {
            Ok(c) => CustomerPayload {
                customer: Some(Customer(c)),
                user_errors: vec![],
            },
            Err(user_errors) => CustomerPayload {
                customer: None,
                user_errors,
            },
        }
    }
}
