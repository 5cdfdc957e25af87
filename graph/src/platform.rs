//! Platform-level settings shared by several domains: the plans the platform sells,
//! application fees, the platform's webhook secrets and public base URL.

use async_graphql::Enum;

/// The platform's subscription plans for tenants.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Plan {
    /// One operator, the essentials.
    Starter,
    /// A growing business.
    Pro,
    /// Several crews.
    Teams,
}

impl Plan {
    /// Stored spelling (`STARTER`, `PRO`, `TEAMS`).
    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Starter => "STARTER",
            Plan::Pro => "PRO",
            Plan::Teams => "TEAMS",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Plan> {
        match s {
            "STARTER" => Some(Plan::Starter),
            "PRO" => Some(Plan::Pro),
            "TEAMS" => Some(Plan::Teams),
            _ => None,
        }
    }

    /// Index into per-plan settings arrays.
    pub fn index(self) -> usize {
        match self {
            Plan::Starter => 0,
            Plan::Pro => 1,
            Plan::Teams => 2,
        }
    }

    /// Every plan, in order.
    pub const ALL: [Plan; 3] = [Plan::Starter, Plan::Pro, Plan::Teams];
}

/// Platform payment settings (see the README's configuration table).
#[derive(Clone, Default)]
pub struct PlatformConfig {
    /// Base URL customers and Stripe reach this server at, without a trailing slash.
    pub public_base_url: String,
    /// Signing secrets of `/webhooks/platform/stripe` (several during rotation).
    pub stripe_webhook_secrets: Vec<String>,
    /// Recurring Price id per plan (`price_…`), indexed by [`Plan::index`].
    pub prices: [Option<String>; 3],
    /// Free trial of a new subscription, in days.
    pub trial_days: u32,
    /// Application fee per plan in basis points (1/100 of a percent).
    pub fee_bps: [i64; 3],
    /// Text-message settings.
    pub sms: SmsPlatform,
    /// The built-in phone assistant's limits.
    pub voice: VoicePlatform,
    /// Google Calendar (OAuth client and API), when `GOOGLE_CLIENT_ID` and
    /// `GOOGLE_CLIENT_SECRET` are set.
    pub google_calendar: Option<std::sync::Arc<crate::calendar::GoogleSetup>>,
}

/// Limits of the built-in phone assistant (Twilio Voice turn loop).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoicePlatform {
    /// Time the model may take in one caller turn, all tool rounds together
    /// (`VOICE_LLM_BUDGET_MS`, default 8 s: Twilio waits 15 s for a webhook answer,
    /// <https://www.twilio.com/docs/usage/webhooks/webhooks-connection-overrides>).
    pub llm_budget: std::time::Duration,
    /// Caller turns per call before the assistant hands over (or says goodbye)
    /// (`VOICE_MAX_TURNS`, default 30).
    pub max_turns: u32,
    /// New calls the assistant takes per tenant per hour; more are offered the
    /// transfer or a goodbye (`VOICE_MAX_CALLS_PER_HOUR`, default 120).
    pub max_calls_per_hour: u32,
    /// Streaming mode: longest stream of one call; past it the caller is handed over
    /// (`VOICE_STREAM_MAX_SECONDS`, default 900).
    pub stream_max_duration: std::time::Duration,
    /// Streaming mode: Media Streams of one tenant open at once on one server instance;
    /// more are refused before the upgrade (`VOICE_MAX_STREAMS_PER_TENANT`, default 10).
    pub max_streams_per_tenant: u32,
}

impl Default for VoicePlatform {
    fn default() -> Self {
        VoicePlatform {
            llm_budget: std::time::Duration::from_secs(8),
            max_turns: 30,
            max_calls_per_hour: 120,
            stream_max_duration: std::time::Duration::from_secs(900),
            max_streams_per_tenant: 10,
        }
    }
}

/// Platform-level text-message settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsPlatform {
    /// Outbound texts per calendar month (UTC) per plan, indexed by [`Plan::index`]
    /// (`SMS_QUOTA_STARTER` / `_PRO` / `_TEAMS`, default 100 / 500 / 2,000). Texts
    /// recorded by the built-in log do not count.
    pub monthly_quota: [i64; 3],
    /// How long a send whose outcome is unknown (the server stopped between Twilio's
    /// answer and our record) waits for Twilio's status callback before it is sent
    /// again (`SMS_UNKNOWN_OUTCOME_WAIT_SECS`, default 300).
    pub unknown_outcome_wait: std::time::Duration,
    /// Sends per second per sending number (`SMS_SENDS_PER_SECOND`, default 1: Twilio
    /// queues about one message per second per long code).
    pub sends_per_second: u32,
}

impl Default for SmsPlatform {
    fn default() -> Self {
        SmsPlatform {
            monthly_quota: [100, 500, 2_000],
            unknown_outcome_wait: std::time::Duration::from_secs(300),
            sends_per_second: 1,
        }
    }
}

impl SmsPlatform {
    /// The monthly quota of `plan` (Starter when unknown).
    pub fn quota(&self, plan: Option<Plan>) -> i64 {
        self.monthly_quota[plan.unwrap_or(Plan::Starter).index()]
    }
}

impl std::fmt::Debug for PlatformConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformConfig")
            .field("public_base_url", &self.public_base_url)
            .field("stripe_webhook_secrets", &self.stripe_webhook_secrets.len())
            .field("prices", &self.prices)
            .field("trial_days", &self.trial_days)
            .field("fee_bps", &self.fee_bps)
            .field("sms", &self.sms)
            .finish()
    }
}

impl PlatformConfig {
    /// The application fee on `amount_cents` for a tenant on `plan`, rounded half up to
    /// whole cents (Stripe's `application_fee_amount` is an integer of the smallest
    /// currency unit).
    pub fn application_fee(&self, plan: Option<Plan>, amount_cents: i64) -> i64 {
        let bps = self.fee_bps[plan.unwrap_or(Plan::Starter).index()].clamp(0, 10_000);
        (amount_cents * bps + 5_000) / 10_000
    }

    /// Whether the platform bills tenants: a platform Stripe key, a Price for some plan and
    /// a trial length.
    pub fn billing_enabled(&self, has_platform_key: bool) -> bool {
        has_platform_key && self.trial_days > 0 && self.prices.iter().any(Option::is_some)
    }

    /// The plan whose Price id is `price`.
    pub fn plan_for_price(&self, price: &str) -> Option<Plan> {
        Plan::ALL
            .into_iter()
            .find(|p| self.prices[p.index()].as_deref() == Some(price))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fee_rounds_half_up_and_depends_on_plan() {
        let c = PlatformConfig {
            fee_bps: [200, 100, 50],
            ..PlatformConfig::default()
        };
        assert_eq!(c.application_fee(Some(Plan::Starter), 10_000), 200);
        assert_eq!(c.application_fee(Some(Plan::Pro), 10_050), 101);
        assert_eq!(c.application_fee(Some(Plan::Teams), 999), 5);
        assert_eq!(c.application_fee(None, 1), 0);
    }
}
