//! Every plugin this build knows about: one module per plugin, one line in [`ALL`].
//! Built-ins (no configuration) are built for every tenant before its configured
//! plugins, so a configured plugin of the same capability replaces the fallback.

pub mod email_log;
pub mod manual;
pub mod mapbox;
pub mod openai;
pub mod retell;
pub mod routing;
pub mod sms_log;
pub mod smtp;
pub mod stripe;
pub mod twilio;

use crate::catalog::PluginSpec;
use crate::plugin::Plugin;

/// The plugins, in catalog display order.
pub static ALL: &[&dyn Plugin] = &[
    &stripe::Stripe,
    &manual::Manual,
    &twilio::Twilio,
    &sms_log::SmsLog,
    &smtp::Smtp,
    &email_log::EmailLog,
    &mapbox::Mapbox,
    &routing::BuiltinRouting,
    &retell::Retell,
    &openai::OpenAi,
];

/// The plugin with catalog id `id`.
pub fn find(id: &str) -> Option<&'static dyn Plugin> {
    ALL.iter().copied().find(|p| p.spec().id == id)
}

/// The catalog entry of every plugin, in display order.
pub fn specs() -> impl Iterator<Item = &'static PluginSpec> {
    ALL.iter().map(|p| p.spec())
}

/// The catalog entry of plugin `id`.
pub fn spec(id: &str) -> Option<&'static PluginSpec> {
    find(id).map(|p| p.spec())
}
