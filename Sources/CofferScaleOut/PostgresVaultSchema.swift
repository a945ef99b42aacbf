import CofferPostgres

/// The vault's tables on PostgreSQL: the same tables, columns and constraints as the SQLite
/// files (`VaultSchema`, the access log's migrator), in PostgreSQL's types (`BIGINT` for
/// integers, `BYTEA` for blobs), so the stores' shared SQL runs unchanged on both.
///
/// The main database (the content role's) holds the control tables, the content catalog and the
/// access log; the PII database (its own role, P2) only the PII tables. No table holds content:
/// segments live in object storage, and the catalog keeps only where they are.
enum PostgresVaultSchema {
    /// The control data: tenants, wrapped keys, principals, grants, lifecycle, erasure ledger.
    static let control: [String] = [
        "CREATE TABLE vault_info (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """
        CREATE TABLE tenant (id TEXT PRIMARY KEY, created_at BIGINT NOT NULL, plan TEXT NOT NULL DEFAULT 'free',
            closed_at BIGINT, erased_at BIGINT, location TEXT)
        """,
        "CREATE TABLE principal (id TEXT PRIMARY KEY, roles TEXT NOT NULL, created_at BIGINT NOT NULL, created_by TEXT NOT NULL, tenants TEXT)",
        """
        CREATE TABLE access_grant (id TEXT PRIMARY KEY, grantee TEXT NOT NULL, tenant TEXT NOT NULL, subject TEXT, purpose TEXT NOT NULL,
            reason TEXT NOT NULL, issued_by TEXT NOT NULL, issued_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, revoked_at BIGINT,
            revoked_by TEXT)
        """,
        "CREATE INDEX access_grant_grantee ON access_grant(grantee, tenant)",
        """
        CREATE TABLE legacy_subject_key (subject_id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenant(id), kek_id TEXT NOT NULL,
            wrapped BYTEA NOT NULL, created_at BIGINT NOT NULL, rewrapped_at BIGINT)
        """,
        "CREATE INDEX subject_key_kek ON legacy_subject_key(kek_id)",
        """
        CREATE TABLE pending_change (change_id TEXT PRIMARY KEY, kind TEXT NOT NULL, principal TEXT, roles TEXT, tenants TEXT,
            prune_before BIGINT, requested_by TEXT NOT NULL, requested_at BIGINT NOT NULL)
        """,
        """
        CREATE TABLE subject_key (key_id TEXT PRIMARY KEY, subject_id TEXT NOT NULL, tenant_id TEXT NOT NULL REFERENCES tenant(id),
            kek_id TEXT NOT NULL, wrapped BYTEA NOT NULL, pending BIGINT NOT NULL, created_at BIGINT NOT NULL, rewrapped_at BIGINT,
            role TEXT NOT NULL DEFAULT 'fields', retain_until BIGINT)
        """,
        "CREATE INDEX subject_key_subject ON subject_key(subject_id)",
        "CREATE INDEX subject_key_pii_kek ON subject_key(kek_id)",
        "CREATE INDEX subject_key_pending ON subject_key(pending) WHERE pending = 1",
        """
        CREATE TABLE retention_setting (tenant_id TEXT NOT NULL REFERENCES tenant(id), data_class TEXT NOT NULL, days BIGINT NOT NULL,
            set_by TEXT NOT NULL, set_at BIGINT NOT NULL, PRIMARY KEY (tenant_id, data_class))
        """,
        """
        CREATE TABLE legal_hold (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenant(id), subject_id TEXT, reason TEXT NOT NULL,
            placed_by TEXT NOT NULL, placed_at BIGINT NOT NULL, lifted_by TEXT, lifted_at BIGINT)
        """,
        "CREATE INDEX legal_hold_tenant ON legal_hold(tenant_id) WHERE lifted_at IS NULL",
        """
        CREATE TABLE data_key (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenant(id), data_class TEXT NOT NULL,
            kek_id TEXT NOT NULL, wrapped BYTEA NOT NULL, created_at BIGINT NOT NULL, rewrapped_at BIGINT, period_start BIGINT,
            period_end BIGINT, CHECK ((period_start IS NULL) = (period_end IS NULL)))
        """,
        "CREATE INDEX data_key_kek ON data_key(kek_id)",
        "CREATE UNIQUE INDEX data_key_index ON data_key(tenant_id, data_class) WHERE period_start IS NULL",
        "CREATE UNIQUE INDEX data_key_period ON data_key(tenant_id, data_class, period_start) WHERE period_start IS NOT NULL",
        "CREATE INDEX data_key_period_end ON data_key(period_end) WHERE period_end IS NOT NULL",
        """
        CREATE TABLE erasure_request (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenant(id), subject_id TEXT,
            reason TEXT NOT NULL, requested_by TEXT NOT NULL, requested_at BIGINT NOT NULL, deadline BIGINT NOT NULL,
            completed_at BIGINT, receipt TEXT)
        """,
        "CREATE INDEX erasure_request_open ON erasure_request(requested_at) WHERE completed_at IS NULL",
        "CREATE UNIQUE INDEX erasure_request_one_open ON erasure_request(subject_id) WHERE completed_at IS NULL",
        "CREATE UNIQUE INDEX erasure_request_one_open_tenant ON erasure_request(tenant_id) WHERE completed_at IS NULL AND subject_id IS NULL",
        """
        CREATE TABLE erasure_ledger (id TEXT PRIMARY KEY, at BIGINT NOT NULL, kind TEXT NOT NULL, tenant_id TEXT NOT NULL,
            subject_id TEXT, key_ids TEXT NOT NULL, request_id TEXT, tally TEXT)
        """,
        "CREATE INDEX erasure_ledger_order ON erasure_ledger(at, id)",
        "CREATE TABLE backup_location (path TEXT PRIMARY KEY, added_at BIGINT NOT NULL)",
    ]

    /// The content catalog: objects, versions, and the segment groups in object storage.
    static let content: [String] = [
        """
        CREATE TABLE object (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, kind TEXT NOT NULL, name_mac BYTEA NOT NULL,
            name_sealed BYTEA NOT NULL, latest_version BIGINT NOT NULL DEFAULT 0, next_version BIGINT NOT NULL DEFAULT 1,
            created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, name_key_id TEXT, UNIQUE (tenant_id, kind, name_mac))
        """,
        "CREATE INDEX object_listing ON object(tenant_id, updated_at, id)",
        "CREATE INDEX object_name_key ON object(name_key_id) WHERE name_key_id IS NOT NULL",
        """
        CREATE TABLE version (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            object_id TEXT NOT NULL REFERENCES object(id) ON DELETE CASCADE, version BIGINT NOT NULL, state BIGINT NOT NULL,
            writer TEXT, data_key_id TEXT NOT NULL, segment_size BIGINT NOT NULL, plaintext_size BIGINT, ciphertext_size BIGINT,
            segment_count BIGINT, digest BYTEA, created_at BIGINT NOT NULL, committed_at BIGINT, heartbeat_at BIGINT,
            UNIQUE (object_id, version))
        """,
        "CREATE INDEX version_pending ON version(state) WHERE state = 0",
        "CREATE INDEX version_data_key ON version(data_key_id)",
        // One row per object holding a run of a version's segments, written before the object is
        // uploaded (so a killed writer's uploads are known), removed with its version.
        """
        CREATE TABLE segment_group (version_id BIGINT NOT NULL REFERENCES version(id) ON DELETE CASCADE, first_idx BIGINT NOT NULL,
            segment_count BIGINT NOT NULL, lengths BYTEA NOT NULL, location TEXT NOT NULL, object_key TEXT NOT NULL UNIQUE,
            PRIMARY KEY (version_id, first_idx))
        """,
        // Objects no committed row references any more, deleted from object storage after a
        // grace period by one instance at a time. Filled by a trigger, in the transaction that
        // removed the reference, so nothing is ever deleted before that commit.
        """
        CREATE TABLE segment_garbage (object_key TEXT PRIMARY KEY, location TEXT NOT NULL, released_at BIGINT NOT NULL)
        """,
        """
        CREATE FUNCTION coffer_release_segment_group() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO segment_garbage (object_key, location, released_at)
            VALUES (OLD.object_key, OLD.location, (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT)
            ON CONFLICT (object_key) DO NOTHING;
            RETURN OLD;
        END
        $$
        """,
        """
        CREATE TRIGGER segment_group_released AFTER DELETE ON segment_group
            FOR EACH ROW EXECUTE FUNCTION coffer_release_segment_group()
        """,
    ]

    /// The access log: records, Merkle leaves, the chain head, signed checkpoints.
    static let audit: [String] = [
        """
        CREATE TABLE record (seq BIGINT PRIMARY KEY, time BIGINT NOT NULL, actor TEXT NOT NULL, role TEXT, tenant TEXT, subject TEXT,
            object_id TEXT, object_version BIGINT, object_kind TEXT, action TEXT NOT NULL, data_class TEXT NOT NULL,
            purpose TEXT NOT NULL, justification TEXT, outcome TEXT NOT NULL, error_code TEXT, bytes BIGINT, request_id TEXT,
            client TEXT, grant_id TEXT, reason TEXT)
        """,
        "CREATE INDEX record_time ON record(time)",
        "CREATE INDEX record_tenant ON record(tenant, seq)",
        "CREATE INDEX record_actor ON record(actor, seq)",
        "CREATE INDEX record_subject ON record(subject, seq) WHERE subject IS NOT NULL",
        "CREATE INDEX record_object ON record(object_id, seq) WHERE object_id IS NOT NULL",
        "CREATE INDEX record_action ON record(action, seq)",
        "CREATE INDEX record_purpose ON record(purpose, seq)",
        "CREATE INDEX record_outcome ON record(outcome, seq)",
        "CREATE TABLE leaf (seq BIGINT PRIMARY KEY, hash BYTEA NOT NULL, mac BYTEA NOT NULL)",
        """
        CREATE TABLE log_state (id BIGINT PRIMARY KEY CHECK (id = 1), tree_size BIGINT NOT NULL, last_mac BYTEA NOT NULL,
            frontier BYTEA NOT NULL, pruned_before BIGINT NOT NULL DEFAULT 1)
        """,
        """
        CREATE TABLE checkpoint (tree_size BIGINT PRIMARY KEY, root BYTEA NOT NULL, time BIGINT NOT NULL, key_id TEXT NOT NULL,
            public_key BYTEA NOT NULL, signature BYTEA NOT NULL, frontier BYTEA, last_mac BYTEA)
        """,
    ]

    /// The PII tables, in the PII database.
    static let pii: [String] = [
        """
        CREATE TABLE subject (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, status TEXT NOT NULL, created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL, key_id TEXT, fields TEXT NOT NULL DEFAULT '', consent_count BIGINT NOT NULL DEFAULT 0,
            consent_head BYTEA, tag BYTEA)
        """,
        "CREATE INDEX subject_tenant ON subject(tenant_id)",
        "CREATE INDEX subject_untagged ON subject(id) WHERE tag IS NULL",
        """
        CREATE TABLE field (subject_id TEXT NOT NULL REFERENCES subject(id) ON DELETE CASCADE, name TEXT NOT NULL, value BYTEA NOT NULL,
            updated_at BIGINT NOT NULL, PRIMARY KEY (subject_id, name))
        """,
        """
        CREATE TABLE consent (subject_id TEXT NOT NULL REFERENCES subject(id) ON DELETE CASCADE, seq BIGINT NOT NULL, value BYTEA NOT NULL,
            PRIMARY KEY (subject_id, seq))
        """,
        """
        CREATE TABLE identifier (id TEXT PRIMARY KEY, subject_id TEXT NOT NULL REFERENCES subject(id) ON DELETE CASCADE,
            value BYTEA NOT NULL, first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL)
        """,
        "CREATE INDEX identifier_subject ON identifier(subject_id)",
        """
        CREATE TABLE lookup (kind TEXT NOT NULL, mac BYTEA NOT NULL, subject_id TEXT NOT NULL REFERENCES subject(id) ON DELETE CASCADE,
            tag BYTEA, PRIMARY KEY (kind, mac, subject_id))
        """,
        "CREATE INDEX lookup_subject ON lookup(subject_id)",
        """
        CREATE TABLE retained (subject_id TEXT NOT NULL, tenant_id TEXT NOT NULL, kind TEXT NOT NULL, key_id TEXT NOT NULL,
            value BYTEA NOT NULL, retain_until BIGINT NOT NULL, PRIMARY KEY (subject_id, kind))
        """,
    ]

    /// The migrations of the main database.
    static let mainMigrations: [PostgresMigrator.Migration] = [
        .init("vault-v1-control", control), .init("vault-v1-content", content), .init("vault-v1-audit", audit),
        // The column an embedded log keeps for its outbox (unused here: a moved log keeps its value).
        .init("vault-v2-outbox-drained", ["ALTER TABLE log_state ADD COLUMN outbox_drained BIGINT NOT NULL DEFAULT 0"]),
    ]

    /// The migrations of the PII database.
    static let piiMigrations: [PostgresMigrator.Migration] = [.init("vault-v1-pii", pii)]

    /// The advisory lock keys of the writers of each set of tables ("Coffer" and a digit).
    enum WriterLock {
        static let control: Int64 = 0x436F_6666_6572_0001
        static let content: Int64 = 0x436F_6666_6572_0002
        static let audit: Int64 = 0x436F_6666_6572_0003
        static let pii: Int64 = 0x436F_6666_6572_0004
    }
}
