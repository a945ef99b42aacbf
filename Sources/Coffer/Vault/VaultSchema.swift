import GRDB

/// The migrations of the vault's files. Each file has its own migrator; GRDB records applied
/// migrations in the file itself, so opening an older vault migrates it and a newer one is refused.
enum VaultSchema {
    /// `control.sqlite`: tenants, wrapped data keys, principals. Kept apart from the content file
    /// so that destroying a data key here cannot be undone from a copy of the content file.
    static var control: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE vault_info (name TEXT PRIMARY KEY, value TEXT NOT NULL);
                CREATE TABLE tenant (id TEXT PRIMARY KEY, created_at INTEGER NOT NULL);
                CREATE TABLE data_key (
                    id TEXT PRIMARY KEY,
                    tenant_id TEXT NOT NULL REFERENCES tenant(id),
                    data_class TEXT NOT NULL,
                    kek_id TEXT NOT NULL,
                    wrapped BLOB NOT NULL,
                    created_at INTEGER NOT NULL,
                    rewrapped_at INTEGER,
                    UNIQUE (tenant_id, data_class)
                );
                CREATE INDEX data_key_kek ON data_key(kek_id);
                CREATE TABLE principal (
                    id TEXT PRIMARY KEY,
                    roles TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    created_by TEXT NOT NULL
                );
                """)
        }
        migrator.registerMigration("v2-access") { db in
            try db.execute(sql: """
                ALTER TABLE principal ADD COLUMN tenants TEXT;
                CREATE TABLE access_grant (
                    id TEXT PRIMARY KEY,
                    grantee TEXT NOT NULL,
                    tenant TEXT NOT NULL,
                    subject TEXT,
                    purpose TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    issued_by TEXT NOT NULL,
                    issued_at INTEGER NOT NULL,
                    expires_at INTEGER NOT NULL,
                    revoked_at INTEGER,
                    revoked_by TEXT
                );
                CREATE INDEX access_grant_grantee ON access_grant(grantee, tenant);
                """)
        }
        migrator.registerMigration("v3-pii-keys") { db in
            // One data key per data subject: erasing a person is destroying this row's key.
            try db.execute(sql: """
                CREATE TABLE subject_key (
                    subject_id TEXT PRIMARY KEY,
                    tenant_id TEXT NOT NULL REFERENCES tenant(id),
                    kek_id TEXT NOT NULL,
                    wrapped BLOB NOT NULL,
                    created_at INTEGER NOT NULL,
                    rewrapped_at INTEGER
                );
                CREATE INDEX subject_key_kek ON subject_key(kek_id);
                """)
        }
        migrator.registerMigration("v4-pending-principals") { db in
            // Principals with powers that open PII, erase evidence or approve others wait here
            // for a second admin (dual control).
            try db.execute(sql: """
                CREATE TABLE pending_principal (
                    change_id TEXT PRIMARY KEY,
                    id TEXT NOT NULL,
                    roles TEXT NOT NULL,
                    tenants TEXT,
                    requested_by TEXT NOT NULL,
                    requested_at INTEGER NOT NULL
                );
                """)
        }
        migrator.registerMigration("v5-pending-changes") { db in
            // Every change under dual control waits in one queue, by kind: principals added,
            // updated or removed, and prunes of the access log. Pending principals move over.
            try db.execute(sql: """
                CREATE TABLE pending_change (
                    change_id TEXT PRIMARY KEY,
                    kind TEXT NOT NULL,
                    principal TEXT,
                    roles TEXT,
                    tenants TEXT,
                    prune_before INTEGER,
                    requested_by TEXT NOT NULL,
                    requested_at INTEGER NOT NULL
                );
                INSERT INTO pending_change (change_id, kind, principal, roles, tenants, requested_by, requested_at)
                    SELECT change_id, 'principal-add', id, roles, tenants, requested_by, requested_at FROM pending_principal;
                DROP TABLE pending_principal;
                """)
        }
        migrator.registerMigration("v6-subject-key-generations") { db in
            // A subject's key is replaced at every change of its fields (the old one destroyed),
            // so keys get ids of their own; a key is pending until the PII file names it. Keys
            // made before, wrapped under the content KEK, wait in legacy_subject_key until the
            // vault moves their subjects to keys under the PII KEK (at open).
            try db.execute(sql: """
                ALTER TABLE subject_key RENAME TO legacy_subject_key;
                CREATE TABLE subject_key (
                    key_id TEXT PRIMARY KEY,
                    subject_id TEXT NOT NULL,
                    tenant_id TEXT NOT NULL REFERENCES tenant(id),
                    kek_id TEXT NOT NULL,
                    wrapped BLOB NOT NULL,
                    pending INTEGER NOT NULL,
                    created_at INTEGER NOT NULL,
                    rewrapped_at INTEGER
                );
                CREATE INDEX subject_key_subject ON subject_key(subject_id);
                CREATE INDEX subject_key_pii_kek ON subject_key(kek_id);
                CREATE INDEX subject_key_pending ON subject_key(pending) WHERE pending = 1;
                """)
        }
        migrator.registerMigration("v7-lifecycle") { db in
            // Tenants get a plan and a closure time (the event retention clocks start at), their
            // retention settings and legal holds. Tenants from before are on the free plan: the
            // stricter telemetry period, as for a new tenant.
            try db.execute(sql: """
                ALTER TABLE tenant ADD COLUMN plan TEXT NOT NULL DEFAULT 'free';
                ALTER TABLE tenant ADD COLUMN closed_at INTEGER;
                CREATE TABLE retention_setting (
                    tenant_id TEXT NOT NULL REFERENCES tenant(id),
                    data_class TEXT NOT NULL,
                    days INTEGER NOT NULL,
                    set_by TEXT NOT NULL,
                    set_at INTEGER NOT NULL,
                    PRIMARY KEY (tenant_id, data_class)
                );
                CREATE TABLE legal_hold (
                    id TEXT PRIMARY KEY,
                    tenant_id TEXT NOT NULL REFERENCES tenant(id),
                    subject_id TEXT,
                    reason TEXT NOT NULL,
                    placed_by TEXT NOT NULL,
                    placed_at INTEGER NOT NULL,
                    lifted_by TEXT,
                    lifted_at INTEGER
                );
                CREATE INDEX legal_hold_tenant ON legal_hold(tenant_id) WHERE lifted_at IS NULL;
                """)
        }
        migrator.registerMigration("v8-erasure") { db in
            // Erasure requests and their signed receipts; subject keys get a role: a subject's
            // field key, or the key of records a legal retention keeps after erasure (billing,
            // P11), destroyed when that retention ends.
            try db.execute(sql: """
                ALTER TABLE subject_key ADD COLUMN role TEXT NOT NULL DEFAULT 'fields';
                ALTER TABLE subject_key ADD COLUMN retain_until INTEGER;
                CREATE TABLE erasure_request (
                    id TEXT PRIMARY KEY,
                    tenant_id TEXT NOT NULL REFERENCES tenant(id),
                    subject_id TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    requested_by TEXT NOT NULL,
                    requested_at INTEGER NOT NULL,
                    deadline INTEGER NOT NULL,
                    completed_at INTEGER,
                    receipt TEXT
                );
                CREATE INDEX erasure_request_open ON erasure_request(requested_at) WHERE completed_at IS NULL;
                """)
        }
        migrator.registerMigration("v9-one-open-erasure") { db in
            // At most one open erasure request per subject, even when two are asked for at once.
            try db.execute(sql: "CREATE UNIQUE INDEX erasure_request_one_open ON erasure_request(subject_id) WHERE completed_at IS NULL")
        }
        migrator.registerMigration("v10-period-keys") { db in try ControlPeriodKeys.migrate(db) }
        migrator.registerMigration("v11-ledger-tally") { db in
            // What each erasure removed besides keys (ErasureTally, JSON), so an erasure's receipt
            // is built from its ledger entries, those of a run a crash interrupted included. Only
            // the live vault writes and reads it: backups' and witnesses' ledgers do without.
            try db.execute(sql: "ALTER TABLE erasure_ledger ADD COLUMN tally TEXT")
        }
        return migrator
    }

    /// `pii.sqlite`: data subjects and their fields, each sealed under the subject's own key, and
    /// the blind index that finds a subject by email or IP without storing either.
    static var pii: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE subject (
                    id TEXT PRIMARY KEY,
                    tenant_id TEXT NOT NULL,
                    status TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL
                );
                CREATE INDEX subject_tenant ON subject(tenant_id);
                CREATE TABLE field (
                    subject_id TEXT NOT NULL REFERENCES subject(id) ON DELETE CASCADE,
                    name TEXT NOT NULL,
                    value BLOB NOT NULL,
                    updated_at INTEGER NOT NULL,
                    PRIMARY KEY (subject_id, name)
                );
                CREATE TABLE consent (
                    subject_id TEXT NOT NULL REFERENCES subject(id) ON DELETE CASCADE,
                    seq INTEGER NOT NULL,
                    value BLOB NOT NULL,
                    PRIMARY KEY (subject_id, seq)
                );
                CREATE TABLE identifier (
                    id TEXT PRIMARY KEY,
                    subject_id TEXT NOT NULL REFERENCES subject(id) ON DELETE CASCADE,
                    value BLOB NOT NULL,
                    first_seen INTEGER NOT NULL,
                    last_seen INTEGER NOT NULL
                );
                CREATE INDEX identifier_subject ON identifier(subject_id);
                CREATE TABLE lookup (
                    kind TEXT NOT NULL,
                    mac BLOB NOT NULL,
                    subject_id TEXT NOT NULL REFERENCES subject(id) ON DELETE CASCADE,
                    PRIMARY KEY (kind, mac, subject_id)
                );
                CREATE INDEX lookup_subject ON lookup(subject_id);
                """)
        }
        migrator.registerMigration("v2-authenticated") { db in
            // The bookkeeping a write to this file alone could change is authenticated with a
            // tenant's PII integrity key: each subject row (tenant, status, key, field names,
            // consent count and chain head) and each blind-index row carry a tag. Rows from
            // before have none until the vault moves them to a fresh key (at open).
            try db.execute(sql: """
                ALTER TABLE subject ADD COLUMN key_id TEXT;
                ALTER TABLE subject ADD COLUMN fields TEXT NOT NULL DEFAULT '';
                ALTER TABLE subject ADD COLUMN consent_count INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE subject ADD COLUMN consent_head BLOB;
                ALTER TABLE subject ADD COLUMN tag BLOB;
                ALTER TABLE lookup ADD COLUMN tag BLOB;
                CREATE INDEX subject_untagged ON subject(id) WHERE tag IS NULL;
                """)
        }
        migrator.registerMigration("v3-retained") { db in
            // What a legal retention keeps of an erased subject (billing records, P11), sealed
            // under a key of its own that is destroyed when the retention ends.
            try db.execute(sql: """
                CREATE TABLE retained (
                    subject_id TEXT NOT NULL,
                    tenant_id TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    key_id TEXT NOT NULL,
                    value BLOB NOT NULL,
                    retain_until INTEGER NOT NULL,
                    PRIMARY KEY (subject_id, kind)
                );
                """)
        }
        return migrator
    }

    /// `content.sqlite`: objects, versions and their ciphertext segments, one segment per row.
    static var content: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE object (
                    id TEXT PRIMARY KEY,
                    tenant_id TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    name_mac BLOB NOT NULL,
                    name_sealed BLOB NOT NULL,
                    latest_version INTEGER NOT NULL DEFAULT 0,
                    next_version INTEGER NOT NULL DEFAULT 1,
                    created_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL,
                    UNIQUE (tenant_id, kind, name_mac)
                );
                CREATE INDEX object_listing ON object(tenant_id, updated_at, id);
                CREATE TABLE version (
                    id INTEGER PRIMARY KEY,
                    object_id TEXT NOT NULL REFERENCES object(id) ON DELETE CASCADE,
                    version INTEGER NOT NULL,
                    state INTEGER NOT NULL,
                    writer TEXT,
                    data_key_id TEXT NOT NULL,
                    segment_size INTEGER NOT NULL,
                    plaintext_size INTEGER,
                    ciphertext_size INTEGER,
                    segment_count INTEGER,
                    digest BLOB,
                    created_at INTEGER NOT NULL,
                    committed_at INTEGER,
                    UNIQUE (object_id, version)
                );
                CREATE INDEX version_pending ON version(state) WHERE state = 0;
                CREATE TABLE segment (
                    version_id INTEGER NOT NULL REFERENCES version(id) ON DELETE CASCADE,
                    idx INTEGER NOT NULL,
                    data BLOB NOT NULL,
                    PRIMARY KEY (version_id, idx)
                );
                """)
        }
        migrator.registerMigration("v2-period-keys") { db in
            // A new object's name is sealed under the data key of the period it was made in (NULL:
            // the class's index key, as before); the retention run asks which keys rows still use.
            try db.execute(sql: """
                ALTER TABLE object ADD COLUMN name_key_id TEXT;
                CREATE INDEX object_name_key ON object(name_key_id) WHERE name_key_id IS NOT NULL;
                CREATE INDEX version_data_key ON version(data_key_id);
                """)
        }
        migrator.registerMigration("v3-audit-outbox") { db in
            // The records of small puts, written in the put's own transaction until the access
            // log takes them (AuditOutbox).
            try db.execute(sql: AuditOutbox.schema)
        }
        return migrator
    }
}
