//! Database access: [`Db`] hands out tenant-scoped transactions.
//!
//! Every service runs its queries inside a [`Tx`] opened for one tenant:
//! - on PostgreSQL the transaction first runs `set_config('app.tenant_id', $1, true)`,
//!   so row-level security admits only that tenant's rows (DESIGN.md §4, wall 3);
//! - queries are built with [`scoped`], which adds `tenant_id = $tenant` (wall 2);
//! - on SQLite, write transactions run on a dedicated pool of exactly one connection
//!   (the usual single-writer pattern; reads use the main pool, WAL lets them run
//!   alongside): a read-then-write transaction (check overlap, then insert) can never
//!   interleave with another writer, so the check inside the transaction is enough to
//!   prevent double booking. Because the writer is one connection, a transaction that
//!   is dropped without commit (its rollback is queued, not awaited) is rolled back
//!   before the next writer starts — no writer ever meets a lock left behind. (One
//!   SQLite file is served by one process; several instances use PostgreSQL.)

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use entities::TenantOwned;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, DatabaseTransaction, DbErr,
    EntityTrait, QueryFilter, QueryOrder, QueryResult, QuerySelect, Select, Statement,
    TransactionTrait,
};
use uuid::Uuid;

use crate::error::ApiError;

/// A select of `E` filtered to one tenant. Every tenant-table query starts here.
pub fn scoped<E: TenantOwned>(tenant_id: Uuid) -> Select<E> {
    E::find().filter(E::tenant_column().eq(tenant_id))
}

/// Shared database handle.
#[derive(Clone)]
pub struct Db {
    conn: DatabaseConnection,
    /// SQLite only: the single-connection pool for write transactions.
    sqlite_writer: Option<DatabaseConnection>,
    /// Statements executed (see [`Db::statements`]).
    statements: Arc<AtomicU64>,
    /// Tenant transactions opened (see [`Db::transactions`]).
    transactions: Arc<AtomicU64>,
}

/// A transaction bound to one tenant. Dereferences to the SeaORM transaction; dropped
/// without [`Tx::commit`] it rolls back. Inside an HTTP query ([`RequestReads::scope`])
/// a read transaction is the request's shared one: [`Tx::commit`] then leaves it open
/// and the request ends it.
pub struct Tx {
    txn: Conn,
    tenant_id: Uuid,
}

/// A transaction of its own, or a clone of the request's shared read transaction.
enum Conn {
    Own(DatabaseTransaction),
    Shared(Arc<DatabaseTransaction>),
}

impl Deref for Tx {
    type Target = DatabaseTransaction;
    fn deref(&self) -> &DatabaseTransaction {
        match &self.txn {
            Conn::Own(t) => t,
            Conn::Shared(t) => t,
        }
    }
}

impl Tx {
    /// The transaction's tenant row. Errors: `NOT_FOUND`.
    pub async fn tenant(&self) -> Result<entities::tenant::Model, ApiError> {
        use sea_orm::EntityTrait;
        entities::tenant::Entity::find_by_id(self.tenant_id)
            .one(&**self)
            .await?
            .ok_or(ApiError::NotFound("tenant"))
    }

    /// The tenant this transaction is bound to.
    pub fn tenant_id(&self) -> Uuid {
        self.tenant_id
    }

    /// Commits the transaction (a request's shared read transaction stays open: the
    /// request commits it when it ends). Errors: `INTERNAL`.
    pub async fn commit(self) -> Result<(), ApiError> {
        self.commit_or_conflict().await?;
        Ok(())
    }

    /// Commits and returns the database's own error, for callers that classify it with
    /// [`write_conflict`] (a deferred constraint is checked at commit).
    pub async fn commit_or_conflict(self) -> Result<(), DbErr> {
        match self.txn {
            Conn::Own(t) => t.commit().await,
            Conn::Shared(_) => Ok(()),
        }
    }
}

tokio::task_local! {
    /// The read transactions of the HTTP query being executed (see [`RequestReads`]).
    static REQUEST_READS: Arc<RequestReads>;
}

/// The read transactions of one HTTP query: one per tenant, opened on first use and
/// ended by [`RequestReads::finish`]. Inside [`RequestReads::scope`], [`Db::read`]
/// answers from them, so a query's resolvers, services and loaders read one snapshot,
/// set the tenant once (`BEGIN`, `set_config` and `COMMIT` once per request), and a
/// request holds one pooled connection while it runs instead of taking a second while
/// holding the first (requests that each held one and waited for another could take the
/// whole pool and wait on each other until `DATABASE_ACQUIRE_TIMEOUT_SECS`). Mutations
/// and WebSocket operations are not scoped: they read per transaction, so a read after a
/// write sees the write.
pub struct RequestReads {
    db: Db,
    txs: tokio::sync::Mutex<HashMap<Uuid, Arc<DatabaseTransaction>>>,
}

impl RequestReads {
    /// Read transactions over `db` for one request.
    pub fn new(db: Db) -> Arc<RequestReads> {
        Arc::new(RequestReads {
            db,
            txs: tokio::sync::Mutex::new(HashMap::new()),
        })
    }

    /// `fut` (the request's execution, or a loader batch spawned for it) with
    /// [`Db::read`] answering from these transactions. A task spawned by `fut` is
    /// outside the scope unless it is wrapped too.
    pub fn scope<F: std::future::Future>(
        self: &Arc<Self>,
        fut: F,
    ) -> tokio::task::futures::TaskLocalFuture<Arc<RequestReads>, F> {
        REQUEST_READS.scope(self.clone(), fut)
    }

    /// The request's read transaction for `tenant_id`, opened on first use. Errors:
    /// `INTERNAL`.
    pub async fn read(&self, tenant_id: Uuid) -> Result<Tx, ApiError> {
        let mut txs = self.txs.lock().await;
        let txn = match txs.get(&tenant_id) {
            Some(t) => t.clone(),
            None => {
                let t = Arc::new(self.db.begin_txn(tenant_id, false).await?);
                txs.insert(tenant_id, t.clone());
                t
            }
        };
        Ok(Tx {
            txn: Conn::Shared(txn),
            tenant_id,
        })
    }

    /// One of the request's open transactions, for a statement that reads no tenant
    /// row (a `SECURITY DEFINER` look-up), so that it does not take a second connection.
    async fn any_open(&self) -> Option<Arc<DatabaseTransaction>> {
        self.txs.lock().await.values().next().cloned()
    }

    /// Ends the request's read transactions (commit). A statement still running after a
    /// timeout keeps its transaction until it ends; it is then rolled back on drop.
    pub async fn finish(&self) {
        let txs = std::mem::take(&mut *self.txs.lock().await);
        for (_, txn) in txs {
            if let Ok(txn) = Arc::try_unwrap(txn)
                && let Err(e) = txn.commit().await
            {
                tracing::warn!(error = ?e, "ending a request's read transaction failed");
            }
        }
    }
}

/// Ends the current HTTP query's open read transactions before a call that waits on
/// the network (a routing provider), so that the query does not hold a pooled
/// connection for the call's duration; a later read of the query opens a new
/// transaction (and sees a newer snapshot). Outside an HTTP query it does nothing.
pub async fn release_request_reads() {
    if let Ok(reads) = REQUEST_READS.try_with(Arc::clone) {
        reads.finish().await;
    }
}

/// How a failed write should be understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteConflict {
    /// A unique key was violated (SQLSTATE 23505 / SQLite 2067, 1555).
    Unique,
    /// The PostgreSQL booking exclusion constraint was violated (SQLSTATE 23P01).
    Overlap,
    /// A foreign key was violated.
    ForeignKey,
}

/// Classifies a database error as a [`WriteConflict`], or `None` for anything else.
pub fn write_conflict(e: &DbErr) -> Option<WriteConflict> {
    use sea_orm::{RuntimeErr, SqlErr};
    if let DbErr::Exec(RuntimeErr::SqlxError(inner)) | DbErr::Query(RuntimeErr::SqlxError(inner)) =
        e
        && let sea_orm::sqlx::Error::Database(db) = inner.deref()
        && db.code().as_deref() == Some("23P01")
    {
        return Some(WriteConflict::Overlap);
    }
    match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => Some(WriteConflict::Unique),
        Some(SqlErr::ForeignKeyConstraintViolation(_)) => Some(WriteConflict::ForeignKey),
        _ => None,
    }
}

/// Counts statements executed through `conn` into `counter`, and traces each when
/// traces are exported (SeaORM's metric callback:
/// every query and execute, inside transactions too; `BEGIN`/`COMMIT` are not
/// statements to it).
fn count_into(conn: &mut DatabaseConnection, counter: &Arc<AtomicU64>) {
    let counter = counter.clone();
    conn.set_metric_callback(move |info| {
        counter.fetch_add(1, Ordering::Relaxed);
        crate::telemetry::statement_span(info);
    });
}

impl Db {
    /// Wraps a PostgreSQL connection pool (writers and readers share it).
    pub fn new(mut conn: DatabaseConnection) -> Db {
        let statements = Arc::new(AtomicU64::new(0));
        count_into(&mut conn, &statements);
        Db {
            conn,
            sqlite_writer: None,
            statements,
            transactions: Arc::default(),
        }
    }

    /// Wraps SQLite pools: `readers` for reads, `writer` (a pool of exactly one
    /// connection to the same file) for write transactions.
    pub fn sqlite(mut readers: DatabaseConnection, mut writer: DatabaseConnection) -> Db {
        let statements = Arc::new(AtomicU64::new(0));
        count_into(&mut readers, &statements);
        count_into(&mut writer, &statements);
        Db {
            conn: readers,
            sqlite_writer: Some(writer),
            statements,
            transactions: Arc::default(),
        }
    }

    /// Statements executed through this handle since it was created (queries and
    /// executes, including the tenant setting; not `BEGIN`/`COMMIT`).
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// Tenant transactions ([`Db::read`], [`Db::write`]) opened through this handle
    /// since it was created.
    pub fn transactions(&self) -> u64 {
        self.transactions.load(Ordering::Relaxed)
    }

    /// The raw connection, for migrations, health checks and tenant-less look-ups only.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// The backend in use.
    pub fn backend(&self) -> DatabaseBackend {
        self.conn.get_database_backend()
    }

    async fn begin(&self, tenant_id: Uuid, write: bool) -> Result<Tx, ApiError> {
        Ok(Tx {
            txn: Conn::Own(self.begin_txn(tenant_id, write).await?),
            tenant_id,
        })
    }

    /// Begins a transaction for `tenant_id` (the tenant set on PostgreSQL).
    async fn begin_txn(
        &self,
        tenant_id: Uuid,
        write: bool,
    ) -> Result<DatabaseTransaction, ApiError> {
        // A query only reads: a write would take a second connection while the
        // request holds its read transaction.
        debug_assert!(
            !write || REQUEST_READS.try_with(|_| ()).is_err(),
            "write transaction inside an HTTP query"
        );
        self.transactions.fetch_add(1, Ordering::Relaxed);
        let txn = match (&self.sqlite_writer, write) {
            (Some(writer), true) => writer.begin().await?,
            _ => self.conn.begin().await?,
        };
        if self.backend() == DatabaseBackend::Postgres {
            txn.execute_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "SELECT set_config('app.tenant_id', $1, true)",
                [tenant_id.to_string().into()],
            ))
            .await?;
        }
        Ok(txn)
    }

    /// Opens a write transaction outside any tenant, for platform tables that have no
    /// `tenant_id` (`periodic_jobs`); never for tenant tables (row-level security would
    /// see no tenant and refuse). Serialised with other writers on SQLite.
    pub async fn platform_write(&self) -> Result<DatabaseTransaction, ApiError> {
        Ok(match &self.sqlite_writer {
            Some(writer) => writer.begin().await?,
            None => self.conn.begin().await?,
        })
    }

    /// Opens a read transaction for `tenant_id`; inside an HTTP query
    /// ([`RequestReads::scope`]) returns the request's shared one. Errors: `INTERNAL`.
    pub async fn read(&self, tenant_id: Uuid) -> Result<Tx, ApiError> {
        match REQUEST_READS.try_with(Arc::clone) {
            Ok(reads) => reads.read(tenant_id).await,
            Err(_) => self.begin(tenant_id, false).await,
        }
    }

    /// Runs a statement that reads no tenant row: on one of the request's open read
    /// transactions inside an HTTP query (no second connection), else on the pool.
    async fn query_one_plain(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        if let Ok(reads) = REQUEST_READS.try_with(Arc::clone)
            && let Some(txn) = reads.any_open().await
        {
            return txn.query_one_raw(stmt).await;
        }
        self.conn.query_one_raw(stmt).await
    }

    /// Opens a write transaction for `tenant_id` (serialised with other writers on SQLite).
    pub async fn write(&self, tenant_id: Uuid) -> Result<Tx, ApiError> {
        self.begin(tenant_id, true).await
    }

    /// Serialises schedule and money writers of one tenant on PostgreSQL for the rest of
    /// `tx` (`pg_advisory_xact_lock`), so that a check inside the transaction is
    /// authoritative: availability for holds and bookings (the exclusion constraint stays
    /// as a backstop), balances and refundable amounts for payments and refunds (read
    /// committed would let a concurrent commit land between two reads). Tenants are independent, so this costs nothing across tenants. On
    /// SQLite writers are already serialised.
    pub async fn lock_schedule(&self, tx: &Tx) -> Result<(), ApiError> {
        if self.backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let bytes = tx.tenant_id().into_bytes();
        let mut key = [0u8; 8];
        key.copy_from_slice(&bytes[8..16]);
        tx.execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1)",
            [i64::from_be_bytes(key).into()],
        ))
        .await?;
        Ok(())
    }

    /// Defers the booking overlap check (`bookings_no_overlap`) to the commit of `tx` on
    /// PostgreSQL, so that one transaction may swap two bookings' staff members; the
    /// final state is still checked (commit fails with SQLSTATE 23P01). SQLite has no
    /// such constraint: callers check overlaps themselves before committing.
    pub async fn defer_overlap_check(&self, tx: &Tx) -> Result<(), ApiError> {
        if self.backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        tx.execute_raw(Statement::from_string(
            DatabaseBackend::Postgres,
            "SET CONSTRAINTS bookings_no_overlap DEFERRED",
        ))
        .await?;
        Ok(())
    }

    /// The id of the tenant with `slug`, across tenants (public booking pages). On
    /// PostgreSQL this calls the `SECURITY DEFINER` function `app_tenant_id_by_slug`,
    /// which reveals the id only.
    pub async fn tenant_id_by_slug(&self, slug: &str) -> Result<Option<Uuid>, ApiError> {
        self.tenant_lookup("app_tenant_id_by_slug", "slug", slug)
            .await
    }

    /// `(tenant_id, tenant slug)` of every tenant in which `email` (lower-cased) has a
    /// user, ordered by slug. On PostgreSQL through the `SECURITY DEFINER` function
    /// `app_login_tenants`.
    pub async fn login_tenants(&self, email: &str) -> Result<Vec<(Uuid, String)>, ApiError> {
        let stmt = match self.backend() {
            DatabaseBackend::Postgres => Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "SELECT tenant_id, slug FROM app_login_tenants($1)",
                [email.into()],
            ),
            backend => Statement::from_sql_and_values(
                backend,
                "SELECT u.tenant_id AS tenant_id, t.slug AS slug FROM users u \
                 JOIN tenants t ON t.id = u.tenant_id WHERE u.email = ? ORDER BY t.slug",
                [email.into()],
            ),
        };
        let rows = self.conn.query_all_raw(stmt).await?;
        rows.iter()
            .map(|r| Ok((r.try_get("", "tenant_id")?, r.try_get("", "slug")?)))
            .collect()
    }

    /// `PENDING` bookings whose deposit deadline has passed, across tenants:
    /// `(tenant_id, id)` (PostgreSQL: `app_expired_deposits`).
    pub async fn expired_deposits(
        &self,
        at: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<(Uuid, Uuid)>, ApiError> {
        if self.backend() == DatabaseBackend::Postgres {
            return self
                .pairs(
                    "SELECT tenant_id, id FROM app_expired_deposits($1, $2)",
                    at,
                    limit,
                )
                .await;
        }
        Ok(entities::booking::Entity::find()
            .select_only()
            .column(entities::booking::Column::TenantId)
            .column(entities::booking::Column::Id)
            .filter(entities::booking::Column::Status.eq("PENDING"))
            .filter(entities::booking::Column::DepositExpiresAt.lte(at))
            .order_by_asc(entities::booking::Column::DepositExpiresAt)
            .limit(limit)
            .into_tuple()
            .all(&self.conn)
            .await?)
    }

    async fn pairs(
        &self,
        sql: &str,
        at: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<(Uuid, Uuid)>, ApiError> {
        let rows = self
            .conn
            .query_all_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                sql,
                [at.into(), (limit.min(i32::MAX as u64) as i32).into()],
            ))
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("", "tenant_id")?, r.try_get("", "id")?)))
            .collect()
    }

    async fn tenant_lookup(
        &self,
        function: &'static str,
        column: &'static str,
        value: &str,
    ) -> Result<Option<Uuid>, ApiError> {
        let stmt = match self.backend() {
            DatabaseBackend::Postgres => Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                format!("SELECT {function}($1) AS id"),
                [value.into()],
            ),
            backend => Statement::from_sql_and_values(
                backend,
                format!("SELECT id FROM tenants WHERE {column} = ?"),
                [value.into()],
            ),
        };
        match self.query_one_plain(stmt).await? {
            Some(row) => Ok(row.try_get::<Option<Uuid>>("", "id")?),
            None => Ok(None),
        }
    }

    /// `SELECT 1`, for `/health`.
    pub async fn ping(&self) -> Result<(), ApiError> {
        self.conn.ping().await?;
        Ok(())
    }
}
