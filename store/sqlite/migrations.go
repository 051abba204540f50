package sqlite

// migrations are applied in order; each runs once, in its own transaction,
// and schema_migrations records the versions applied. Never edit a
// released migration: add a new one.
var migrations = []string{
	// 1: the initial schema.
	`CREATE TABLE jobs (
		id           TEXT PRIMARY KEY,
		tenant       TEXT NOT NULL,
		state        TEXT NOT NULL,
		spec         TEXT NOT NULL,
		reasons      TEXT NOT NULL DEFAULT '',
		placement    TEXT NOT NULL DEFAULT '',
		attempts     INTEGER NOT NULL DEFAULT 0,
		accelerators INTEGER NOT NULL,
		submitted_at INTEGER NOT NULL,
		started_at   INTEGER NOT NULL DEFAULT 0,
		ended_at     INTEGER NOT NULL DEFAULT 0,
		idem_key     TEXT,
		request_hash TEXT NOT NULL DEFAULT '',
		version      INTEGER NOT NULL
	);
	CREATE UNIQUE INDEX jobs_idem ON jobs (tenant, idem_key);
	CREATE INDEX jobs_state ON jobs (state, id);
	CREATE INDEX jobs_tenant ON jobs (tenant, id);
	CREATE TABLE allocations (
		job_id       TEXT NOT NULL REFERENCES jobs (id),
		node         TEXT NOT NULL,
		accelerators TEXT NOT NULL,
		PRIMARY KEY (job_id, node)
	);
	CREATE INDEX allocations_node ON allocations (node);
	CREATE TABLE nodes (
		name          TEXT PRIMARY KEY,
		model         TEXT NOT NULL,
		accelerators  INTEGER NOT NULL,
		address       TEXT NOT NULL DEFAULT '',
		labels        TEXT NOT NULL DEFAULT '',
		state         TEXT NOT NULL,
		registered_at INTEGER NOT NULL,
		heartbeat_at  INTEGER NOT NULL,
		draw_w        REAL NOT NULL DEFAULT -1,
		version       INTEGER NOT NULL
	);
	CREATE TABLE events (
		seq     INTEGER PRIMARY KEY AUTOINCREMENT,
		time    INTEGER NOT NULL,
		kind    TEXT NOT NULL,
		job     TEXT NOT NULL DEFAULT '',
		node    TEXT NOT NULL DEFAULT '',
		message TEXT NOT NULL DEFAULT ''
	);
	CREATE INDEX events_job ON events (job, seq);
	CREATE TABLE tokens (
		id         TEXT PRIMARY KEY,
		hash       TEXT NOT NULL UNIQUE,
		role       TEXT NOT NULL,
		tenant     TEXT NOT NULL DEFAULT '',
		name       TEXT NOT NULL DEFAULT '',
		created_at INTEGER NOT NULL
	);
	CREATE TABLE leases (
		name       TEXT PRIMARY KEY,
		holder     TEXT NOT NULL,
		epoch      INTEGER NOT NULL,
		expires_at INTEGER NOT NULL
	);`,
	// 2: find silent nodes without scanning them all.
	`CREATE INDEX nodes_heartbeat ON nodes (heartbeat_at) WHERE state <> 'lost';`,
	// 3: the power controller's per-accelerator cap of a running job.
	`ALTER TABLE jobs ADD COLUMN cap_w REAL NOT NULL DEFAULT 0;`,
	// 4: the drain intent, kept while a node is lost and re-registers.
	`ALTER TABLE nodes ADD COLUMN drained INTEGER NOT NULL DEFAULT 0;
	UPDATE nodes SET drained = 1 WHERE state = 'draining';`,
	// 5: node credentials and join tokens limited to a node prefix; the
	// output of jobs' processes; the times a job's processes failed.
	`ALTER TABLE tokens ADD COLUMN node TEXT NOT NULL DEFAULT '';
	ALTER TABLE tokens ADD COLUMN node_prefix TEXT NOT NULL DEFAULT '';
	CREATE INDEX tokens_node ON tokens (node);
	CREATE TABLE job_logs (
		seq     INTEGER PRIMARY KEY AUTOINCREMENT,
		job     TEXT NOT NULL,
		attempt INTEGER NOT NULL,
		node    TEXT NOT NULL,
		off     INTEGER NOT NULL,
		data    BLOB NOT NULL,
		UNIQUE (job, attempt, node, off)
	);
	CREATE INDEX job_logs_job ON job_logs (job, seq);
	ALTER TABLE jobs ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;`,
	// 6: tenants managed at run time.
	`CREATE TABLE tenants (
		name       TEXT PRIMARY KEY,
		weight     REAL NOT NULL,
		quota      INTEGER NOT NULL DEFAULT 0,
		updated_at INTEGER NOT NULL
	);`,
	// 7: jobs held out of the queue until released.
	`ALTER TABLE jobs ADD COLUMN held INTEGER NOT NULL DEFAULT 0;`,
	// 8: job arrays.
	`ALTER TABLE jobs ADD COLUMN array_job TEXT NOT NULL DEFAULT '';
	ALTER TABLE jobs ADD COLUMN array_index INTEGER NOT NULL DEFAULT 0;
	CREATE INDEX jobs_array ON jobs (array_job) WHERE array_job <> '';`,
	// 9: jobs' energy accounts.
	`CREATE TABLE job_energy (
		job           TEXT NOT NULL,
		attempt       INTEGER NOT NULL,
		site          TEXT NOT NULL,
		energy_j      REAL NOT NULL,
		facility_j    REAL NOT NULL,
		accelerator_s REAL NOT NULL,
		cost_usd      REAL NOT NULL,
		co2_g         REAL NOT NULL,
		source        TEXT NOT NULL,
		samples       INTEGER NOT NULL,
		PRIMARY KEY (job, attempt)
	);`,
	// 10: grid events.
	`CREATE TABLE grid_events (
		id       TEXT PRIMARY KEY,
		start_ns INTEGER NOT NULL,
		state    TEXT NOT NULL,
		data     TEXT NOT NULL,
		version  INTEGER NOT NULL
	);`,
	// 11: tenants' quotas by accelerator model and of power.
	`ALTER TABLE tenants ADD COLUMN model_quotas TEXT NOT NULL DEFAULT '';
	ALTER TABLE tenants ADD COLUMN power_quota_kw REAL NOT NULL DEFAULT 0;`,
	// 12: the change sequence of jobs (JobChanges): every transaction
	// that writes jobs stamps them with the next number.
	`ALTER TABLE jobs ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
	CREATE INDEX jobs_seq ON jobs (seq);`,
	// 13: jobs counted by tenant and state as they are written, so that
	// JobCounts reads a few rows, not every job.
	`CREATE TABLE job_counts (
		tenant       TEXT NOT NULL,
		state        TEXT NOT NULL,
		jobs         INTEGER NOT NULL,
		accelerators INTEGER NOT NULL,
		PRIMARY KEY (tenant, state)
	);
	INSERT INTO job_counts SELECT tenant, state, COUNT(*), COALESCE(SUM(accelerators), 0) FROM jobs GROUP BY tenant, state;
	CREATE TRIGGER job_counts_insert AFTER INSERT ON jobs BEGIN
		INSERT INTO job_counts (tenant, state, jobs, accelerators) VALUES (NEW.tenant, NEW.state, 1, NEW.accelerators)
		ON CONFLICT (tenant, state) DO UPDATE SET jobs = jobs + 1, accelerators = accelerators + excluded.accelerators;
	END;
	CREATE TRIGGER job_counts_update AFTER UPDATE OF state ON jobs WHEN OLD.state <> NEW.state BEGIN
		UPDATE job_counts SET jobs = jobs - 1, accelerators = accelerators - OLD.accelerators
			WHERE tenant = OLD.tenant AND state = OLD.state;
		INSERT INTO job_counts (tenant, state, jobs, accelerators) VALUES (NEW.tenant, NEW.state, 1, NEW.accelerators)
		ON CONFLICT (tenant, state) DO UPDATE SET jobs = jobs + 1, accelerators = accelerators + excluded.accelerators;
	END;
	CREATE TRIGGER job_counts_delete AFTER DELETE ON jobs BEGIN
		UPDATE job_counts SET jobs = jobs - 1, accelerators = accelerators - OLD.accelerators
			WHERE tenant = OLD.tenant AND state = OLD.state;
	END;`,
	// 14: the spec's priority, written with the job (a job's spec never
	// changes), and the queue in the order of the priority and backfill
	// policies, so that a new leader reads the head of the queue first.
	`ALTER TABLE jobs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
	UPDATE jobs SET priority = COALESCE(json_extract(spec, '$.priority'), 0) WHERE spec LIKE '%"priority":%';
	CREATE INDEX jobs_queue ON jobs (state, priority DESC, id);`,
}
