//! Rate limits, shared across server instances.
//!
//! Every limit is a GCRA ("generic cell rate algorithm", ITU-T I.371; the "leaky bucket
//! as a meter"): a [`Quota`] of `count` per `period` allows a burst of `count` and then
//! one more every `period / count`. Its only state per key is the theoretical arrival
//! time (TAT) of the next request. With Redis configured the TAT lives in Redis and is
//! updated by one Lua script ([`GCRA_LUA`], run atomically, Redis's own clock), so every
//! instance draws from one budget; when Redis is absent or down the same algorithm runs
//! in process (each instance then has its own budget; logged once a minute), and
//! requests keep flowing.
//!
//! What is limited (defaults in [`LimitsConfig::default`], variables in the README):
//! - per client IP: anonymous calls (each root field counts), and `logIn`/`signUp`/
//!   `refreshToken` calls;
//! - per account: failed log-ins (5 per 15 minutes, then one more every 3 minutes);
//! - per tenant: anonymous calls on its public pages, and authenticated calls by plan;
//! - per agent key.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use uuid::Uuid;

use crate::error::ApiError;
use crate::platform::Plan;

/// A rate: at most `count` in a burst, and `count` per `period` sustained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Burst size and requests per period (≥ 1).
    pub count: u32,
    /// The period.
    pub period: Duration,
}

impl Quota {
    /// `count` per minute.
    pub const fn per_minute(count: u32) -> Quota {
        Quota {
            count,
            period: Duration::from_secs(60),
        }
    }

    /// The emission interval `period / count`, in milliseconds (≥ 1).
    pub fn interval_ms(&self) -> i64 {
        let ms = self.period.as_millis().min(i64::MAX as u128) as i64;
        (ms / i64::from(self.count.max(1))).max(1)
    }
}

/// The limits, on by default (`RATE_LIMITS=off` turns them all off).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitsConfig {
    /// Whether limits apply at all.
    pub enabled: bool,
    /// `logIn`, `signUp` and `refreshToken` calls per client IP (default 20/min).
    pub auth_per_ip: Quota,
    /// Failed log-ins per account email (default 5 per 15 minutes).
    pub login_failures: Quota,
    /// Anonymous root fields per client IP (default 300/min).
    pub public_per_ip: Quota,
    /// Anonymous root fields per tenant, across clients (default 1 200/min).
    pub public_per_tenant: Quota,
    /// Authenticated root fields per tenant by plan: `STARTER`, `PRO`, `TEAMS` (defaults
    /// 1 200, 2 400, 6 000 per minute).
    pub tenant_by_plan: [Quota; 3],
    /// Root fields per agent key (default 600/min).
    pub agent_key: Quota,
    /// Active anonymous holds per tenant (default 10): anonymous callers cannot hold a
    /// tenant's calendar hostage.
    pub public_holds_per_tenant: u32,
    /// Active anonymous holds per client address (default 2).
    pub public_holds_per_client: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            enabled: true,
            auth_per_ip: Quota::per_minute(20),
            login_failures: Quota {
                count: 5,
                period: Duration::from_secs(15 * 60),
            },
            public_per_ip: Quota::per_minute(300),
            public_per_tenant: Quota::per_minute(1_200),
            tenant_by_plan: [
                Quota::per_minute(1_200),
                Quota::per_minute(2_400),
                Quota::per_minute(6_000),
            ],
            agent_key: Quota::per_minute(600),
            public_holds_per_tenant: 10,
            public_holds_per_client: 2,
        }
    }
}

impl LimitsConfig {
    /// The authenticated quota of a tenant on `plan` (`STARTER` when unknown).
    pub fn for_plan(&self, plan: Option<Plan>) -> Quota {
        self.tenant_by_plan[plan.unwrap_or(Plan::Starter).index()]
    }
}

/// GCRA over Redis. `KEYS[1]`: the bucket; `ARGV`: emission interval (ms), burst,
/// cost, commit (`1` to record, `0` to only ask). Returns `{allowed (0/1), retry after
/// (ms)}`. Uses Redis's clock (`TIME`), so instances with skewed clocks agree.
pub const GCRA_LUA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval * cost
local allow_at = new_tat - interval * burst
if allow_at > now then
  return {0, allow_at - now}
end
if ARGV[4] == '1' and cost > 0 then
  redis.call('SET', KEYS[1], new_tat, 'PX', math.max(1, new_tat - now))
end
return {1, 0}
"#;

/// The GCRA step, shared by the in-process store and the tests: given the stored TAT
/// (or none), `now` and the request, returns `Ok(new TAT to store)` or `Err(retry after
/// ms)`. Identical to [`GCRA_LUA`].
pub fn gcra(stored: Option<i64>, now: i64, q: Quota, cost: u32) -> Result<i64, i64> {
    let interval = q.interval_ms();
    let tat = stored.unwrap_or(now).max(now);
    let new_tat = tat + interval * i64::from(cost);
    let allow_at = new_tat - interval * i64::from(q.count.max(1));
    if allow_at > now {
        Err(allow_at - now)
    } else {
        Ok(new_tat)
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis().min(i64::MAX as u128) as i64)
        .unwrap_or(0)
}

/// Entries kept in process before expired ones are pruned.
const LOCAL_PRUNE_AT: usize = 50_000;
/// How long a Redis call may take before the in-process fallback answers.
const REDIS_TIMEOUT: Duration = Duration::from_millis(100);
/// After a Redis failure, how long before trying Redis again.
const REDIS_RETRY: Duration = Duration::from_secs(5);

struct RedisStore {
    client: redis::Client,
    conn: tokio::sync::Mutex<Option<redis::aio::ConnectionManager>>,
    down_until: Mutex<Option<Instant>>,
    script: redis::Script,
}

/// Checks and records rate limits (see the module documentation).
pub struct RateLimiter {
    config: LimitsConfig,
    prefix: String,
    redis: Option<RedisStore>,
    local: Mutex<HashMap<String, i64>>,
    plans: Mutex<HashMap<Uuid, (Option<Plan>, Instant)>>,
    last_fallback_log: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("config", &self.config)
            .field("prefix", &self.prefix)
            .field("redis", &self.redis.is_some())
            .finish()
    }
}

impl RateLimiter {
    /// A limiter with `config`, keys prefixed with `prefix` (instances that should share
    /// budgets use the same prefix), over Redis at `redis_url` when given (connected on
    /// first use; unreachable Redis falls back to in-process). Errors: a malformed
    /// Redis URL.
    pub fn new(
        config: LimitsConfig,
        prefix: &str,
        redis_url: Option<&str>,
    ) -> Result<RateLimiter, redis::RedisError> {
        let redis = match redis_url {
            Some(url) => Some(RedisStore {
                client: redis::Client::open(url)?,
                conn: tokio::sync::Mutex::new(None),
                down_until: Mutex::new(None),
                script: redis::Script::new(GCRA_LUA),
            }),
            None => None,
        };
        Ok(RateLimiter {
            config,
            prefix: prefix.to_string(),
            redis,
            local: Mutex::new(HashMap::new()),
            plans: Mutex::new(HashMap::new()),
            last_fallback_log: Mutex::new(None),
        })
    }

    /// A limiter that allows everything (`RATE_LIMITS=off`).
    pub fn disabled() -> RateLimiter {
        RateLimiter {
            config: LimitsConfig {
                enabled: false,
                ..LimitsConfig::default()
            },
            prefix: String::new(),
            redis: None,
            local: Mutex::new(HashMap::new()),
            plans: Mutex::new(HashMap::new()),
            last_fallback_log: Mutex::new(None),
        }
    }

    /// The limits.
    pub fn config(&self) -> &LimitsConfig {
        &self.config
    }

    /// Charges `cost` to `key` under `quota`. Errors: `RATE_LIMITED` with the seconds to
    /// wait (nothing is charged then). Always `Ok` when limits are off or `cost` is 0.
    pub async fn charge(&self, key: &str, quota: Quota, cost: u32) -> Result<(), ApiError> {
        self.run(key, quota, cost, true).await
    }

    /// Whether `key` could take one more under `quota`, without charging it. Errors:
    /// `RATE_LIMITED` when it could not.
    pub async fn peek(&self, key: &str, quota: Quota) -> Result<(), ApiError> {
        self.run(key, quota, 1, false).await
    }

    async fn run(&self, key: &str, quota: Quota, cost: u32, commit: bool) -> Result<(), ApiError> {
        if !self.config.enabled || cost == 0 {
            return Ok(());
        }
        let full = format!("{}{key}", self.prefix);
        let verdict = match self.redis_check(&full, quota, cost, commit).await {
            Some(v) => v,
            None => self.local_check(&full, quota, cost, commit),
        };
        match verdict {
            Ok(()) => Ok(()),
            Err(ms) => {
                // The key's kind (`ip`, `auth-ip`, `tenant`, `agent`, …): few values.
                let scope = key.split(':').next().unwrap_or("other").to_string();
                metrics::counter!("rate_limit_refusals_total", "scope" => scope).increment(1);
                Err(ApiError::RateLimited {
                    retry_after_secs: ((ms + 999) / 1000).max(1) as u64,
                })
            }
        }
    }

    fn local_check(&self, key: &str, quota: Quota, cost: u32, commit: bool) -> Result<(), i64> {
        let now = now_ms();
        let Ok(mut map) = self.local.lock() else {
            return Ok(());
        };
        if map.len() >= LOCAL_PRUNE_AT {
            map.retain(|_, tat| *tat > now);
        }
        let new_tat = gcra(map.get(key).copied(), now, quota, cost)?;
        if commit {
            map.insert(key.to_string(), new_tat);
        }
        Ok(())
    }

    /// The Redis verdict, or `None` when Redis is not configured or not answering.
    async fn redis_check(
        &self,
        key: &str,
        quota: Quota,
        cost: u32,
        commit: bool,
    ) -> Option<Result<(), i64>> {
        let r = self.redis.as_ref()?;
        if r.down_until
            .lock()
            .ok()
            .and_then(|d| *d)
            .is_some_and(|until| Instant::now() < until)
        {
            return None;
        }
        let attempt = async {
            let mut guard = r.conn.lock().await;
            if guard.is_none() {
                *guard = Some(r.client.get_connection_manager().await?);
            }
            let mut conn = match guard.as_ref() {
                Some(c) => c.clone(),
                None => {
                    return Err(redis::RedisError::from((
                        redis::ErrorKind::Io,
                        "no connection",
                    )));
                }
            };
            drop(guard);
            let (allowed, retry): (i64, i64) = r
                .script
                .key(key)
                .arg(quota.interval_ms())
                .arg(quota.count.max(1))
                .arg(cost)
                .arg(if commit { "1" } else { "0" })
                .invoke_async(&mut conn)
                .await?;
            Ok::<_, redis::RedisError>((allowed, retry))
        };
        match tokio::time::timeout(REDIS_TIMEOUT, attempt).await {
            Ok(Ok((1, _))) => Some(Ok(())),
            Ok(Ok((_, retry))) => Some(Err(retry.max(1))),
            failed => {
                if let Ok(mut d) = r.down_until.lock() {
                    *d = Some(Instant::now() + REDIS_RETRY);
                }
                if let Ok(mut conn) = r.conn.try_lock() {
                    *conn = None;
                }
                self.log_fallback(&failed);
                None
            }
        }
    }

    fn log_fallback<T: std::fmt::Debug>(&self, why: &T) {
        let Ok(mut last) = self.last_fallback_log.lock() else {
            return;
        };
        if last.is_none_or(|t| t.elapsed() > Duration::from_secs(60)) {
            *last = Some(Instant::now());
            tracing::warn!(reason = ?why, "rate limits: Redis unavailable; counting in process");
        }
    }

    /// The plan of `tenant_id` as last seen (cached one minute), loading it with `load`
    /// when unknown or stale.
    pub async fn plan_of<F, Fut>(&self, tenant_id: Uuid, load: F) -> Option<Plan>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Option<Plan>>,
    {
        if let Ok(plans) = self.plans.lock()
            && let Some((plan, at)) = plans.get(&tenant_id)
            && at.elapsed() < Duration::from_secs(60)
        {
            return *plan;
        }
        let plan = load().await;
        if let Ok(mut plans) = self.plans.lock() {
            if plans.len() > 100_000 {
                plans.clear();
            }
            plans.insert(tenant_id, (plan, Instant::now()));
        }
        plan
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn gcra_allows_a_burst_then_one_per_interval() {
        let q = Quota {
            count: 5,
            period: Duration::from_secs(15 * 60),
        };
        assert_eq!(q.interval_ms(), 180_000);
        let now = 1_000_000;
        let mut tat = None;
        for _ in 0..5 {
            tat = Some(gcra(tat, now, q, 1).unwrap());
        }
        // The sixth is refused; the wait is one interval.
        assert_eq!(gcra(tat, now, q, 1), Err(180_000));
        // One interval later one more fits, and only one.
        let later = now + 180_000;
        let t2 = gcra(tat, later, q, 1).unwrap();
        assert!(gcra(Some(t2), later, q, 1).is_err());
        // A cost larger than the burst never fits.
        assert!(gcra(None, now, q, 6).is_err());
        // A cost of 0 asks without changing anything.
        assert_eq!(gcra(tat, now, q, 0), Ok(tat.unwrap()));
    }

    #[tokio::test]
    async fn in_process_limits_charge_peek_and_recover() {
        let q = Quota {
            count: 2,
            period: Duration::from_millis(400),
        };
        let l = RateLimiter::new(LimitsConfig::default(), "t:", None).unwrap();
        l.peek("k", q).await.unwrap();
        l.charge("k", q, 1).await.unwrap();
        l.charge("k", q, 1).await.unwrap();
        let e = l.charge("k", q, 1).await.unwrap_err();
        assert!(
            matches!(
                e,
                ApiError::RateLimited {
                    retry_after_secs: 1
                }
            ),
            "{e:?}"
        );
        assert!(l.peek("k", q).await.is_err());
        // Other keys have their own budget.
        l.charge("other", q, 2).await.unwrap();
        tokio::time::sleep(Duration::from_millis(250)).await;
        l.charge("k", q, 1).await.unwrap();
        // Off: everything passes.
        let off = RateLimiter::disabled();
        for _ in 0..10 {
            off.charge("k", q, 1).await.unwrap();
        }
    }
}
