import GRDB

/// Control migration `v10-period-keys`: content keys narrow enough to destroy.
///
/// - `data_key` loses its one-key-per-(tenant, class) constraint. The row of each class with no
///   period is the class's *index key* (name lookup and content digests, and everything sealed
///   before this migration); every other row covers one period (`period_start` to `period_end`,
///   Unix milliseconds) and seals the versions and names made in it, so the retention run can
///   destroy it once nothing of that period is left.
/// - `tenant.erased_at`: a tenant erased whole (no keys, objects or subjects are made for it again).
/// - `erasure_request.subject_id` may be NULL: a request to erase a whole tenant.
/// - `erasure_ledger`: every erasure and every key a retention run destroyed, in order, which a
///   restore from backup applies again (`docs/lifecycle.md`, Backups);
/// - `backup_location`: the directories backups were written to, which every erasure reaches.
enum ControlPeriodKeys {
    static func migrate(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE data_key_v10 (
                id TEXT PRIMARY KEY,
                tenant_id TEXT NOT NULL REFERENCES tenant(id),
                data_class TEXT NOT NULL,
                kek_id TEXT NOT NULL,
                wrapped BLOB NOT NULL,
                created_at INTEGER NOT NULL,
                rewrapped_at INTEGER,
                period_start INTEGER,
                period_end INTEGER,
                CHECK ((period_start IS NULL) = (period_end IS NULL))
            );
            INSERT INTO data_key_v10 (id, tenant_id, data_class, kek_id, wrapped, created_at, rewrapped_at)
                SELECT id, tenant_id, data_class, kek_id, wrapped, created_at, rewrapped_at FROM data_key;
            DROP TABLE data_key;
            ALTER TABLE data_key_v10 RENAME TO data_key;
            CREATE INDEX data_key_kek ON data_key(kek_id);
            CREATE UNIQUE INDEX data_key_index ON data_key(tenant_id, data_class) WHERE period_start IS NULL;
            CREATE UNIQUE INDEX data_key_period ON data_key(tenant_id, data_class, period_start) WHERE period_start IS NOT NULL;
            CREATE INDEX data_key_period_end ON data_key(period_end) WHERE period_end IS NOT NULL;

            ALTER TABLE tenant ADD COLUMN erased_at INTEGER;

            CREATE TABLE erasure_request_v10 (
                id TEXT PRIMARY KEY,
                tenant_id TEXT NOT NULL REFERENCES tenant(id),
                subject_id TEXT,
                reason TEXT NOT NULL,
                requested_by TEXT NOT NULL,
                requested_at INTEGER NOT NULL,
                deadline INTEGER NOT NULL,
                completed_at INTEGER,
                receipt TEXT
            );
            INSERT INTO erasure_request_v10 SELECT id, tenant_id, subject_id, reason, requested_by, requested_at, deadline, completed_at, receipt
                FROM erasure_request;
            DROP TABLE erasure_request;
            ALTER TABLE erasure_request_v10 RENAME TO erasure_request;
            CREATE INDEX erasure_request_open ON erasure_request(requested_at) WHERE completed_at IS NULL;
            CREATE UNIQUE INDEX erasure_request_one_open ON erasure_request(subject_id) WHERE completed_at IS NULL;
            CREATE UNIQUE INDEX erasure_request_one_open_tenant ON erasure_request(tenant_id) WHERE completed_at IS NULL AND subject_id IS NULL;

            CREATE TABLE erasure_ledger (
                id TEXT PRIMARY KEY,
                at INTEGER NOT NULL,
                kind TEXT NOT NULL,
                tenant_id TEXT NOT NULL,
                subject_id TEXT,
                key_ids TEXT NOT NULL,
                request_id TEXT
            );
            CREATE INDEX erasure_ledger_order ON erasure_ledger(at, id);
            CREATE TABLE backup_location (path TEXT PRIMARY KEY, added_at INTEGER NOT NULL);
            """)
    }
}
