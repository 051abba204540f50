package postgres

// migrations are applied in order, each once; schema_migrations records
// the versions applied. Never edit a released migration: add a new one.
// Keys use the "C" collation: byte order, the order of the SQLite backend
// and the one job IDs sort by time in, served straight from the indexes.
var migrations = []string{
	// 1: the initial schema.
	`CREATE TABLE jobs (
		id           TEXT COLLATE "C" PRIMARY KEY,
		tenant       TEXT COLLATE "C" NOT NULL,
		state        TEXT NOT NULL,
		spec         TEXT NOT NULL,
		reasons      TEXT NOT NULL DEFAULT '',
		placement    TEXT NOT NULL DEFAULT '',
		attempts     INTEGER NOT NULL DEFAULT 0,
		accelerators INTEGER NOT NULL,
		submitted_at BIGINT NOT NULL,
		started_at   BIGINT NOT NULL DEFAULT 0,
		ended_at     BIGINT NOT NULL DEFAULT 0,
		idem_key     TEXT,
		request_hash TEXT NOT NULL DEFAULT '',
		version      BIGINT NOT NULL
	);
	CREATE UNIQUE INDEX jobs_idem ON jobs (tenant, idem_key);
	CREATE INDEX jobs_state ON jobs (state, id);
	CREATE INDEX jobs_tenant ON jobs (tenant, id);
	CREATE TABLE allocations (
		job_id       TEXT COLLATE "C" NOT NULL REFERENCES jobs (id),
		node         TEXT COLLATE "C" NOT NULL,
		accelerators TEXT NOT NULL,
		PRIMARY KEY (job_id, node)
	);
	CREATE INDEX allocations_node ON allocations (node);
	CREATE TABLE nodes (
		name          TEXT COLLATE "C" PRIMARY KEY,
		model         TEXT NOT NULL,
		accelerators  INTEGER NOT NULL,
		address       TEXT NOT NULL DEFAULT '',
		labels        TEXT NOT NULL DEFAULT '',
		state         TEXT NOT NULL,
		registered_at BIGINT NOT NULL,
		heartbeat_at  BIGINT NOT NULL,
		draw_w        DOUBLE PRECISION NOT NULL DEFAULT -1,
		version       BIGINT NOT NULL
	);
	CREATE TABLE events (
		seq     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		time    BIGINT NOT NULL,
		kind    TEXT NOT NULL,
		job     TEXT NOT NULL DEFAULT '',
		node    TEXT NOT NULL DEFAULT '',
		message TEXT NOT NULL DEFAULT ''
	);
	CREATE INDEX events_job ON events (job, seq);
	CREATE TABLE tokens (
		id         TEXT COLLATE "C" PRIMARY KEY,
		hash       TEXT NOT NULL UNIQUE,
		role       TEXT NOT NULL,
		tenant     TEXT NOT NULL DEFAULT '',
		name       TEXT NOT NULL DEFAULT '',
		created_at BIGINT NOT NULL
	);
	CREATE TABLE leases (
		name       TEXT PRIMARY KEY,
		holder     TEXT NOT NULL,
		epoch      BIGINT NOT NULL,
		expires_at BIGINT NOT NULL
	);`,
	// 2: find silent nodes without scanning them all.
	`CREATE INDEX nodes_heartbeat ON nodes (heartbeat_at) WHERE state <> 'lost';`,
	// 3: the power controller's per-accelerator cap of a running job.
	`ALTER TABLE jobs ADD COLUMN cap_w DOUBLE PRECISION NOT NULL DEFAULT 0;`,
	// 4: the drain intent, kept while a node is lost and re-registers.
	`ALTER TABLE nodes ADD COLUMN drained BOOLEAN NOT NULL DEFAULT false;
	UPDATE nodes SET drained = true WHERE state = 'draining';`,
	// 5: node credentials and join tokens limited to a node prefix; the
	// output of jobs' processes; the times a job's processes failed.
	`ALTER TABLE tokens ADD COLUMN node TEXT COLLATE "C" NOT NULL DEFAULT '',
		ADD COLUMN node_prefix TEXT NOT NULL DEFAULT '';
	CREATE INDEX tokens_node ON tokens (node);
	CREATE TABLE job_logs (
		seq     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		job     TEXT COLLATE "C" NOT NULL,
		attempt INTEGER NOT NULL,
		node    TEXT COLLATE "C" NOT NULL,
		off     BIGINT NOT NULL,
		data    BYTEA NOT NULL,
		UNIQUE (job, attempt, node, off)
	);
	CREATE INDEX job_logs_job ON job_logs (job, seq);
	ALTER TABLE jobs ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;`,
	// 6: tenants managed at run time.
	`CREATE TABLE tenants (
		name       TEXT COLLATE "C" PRIMARY KEY,
		weight     DOUBLE PRECISION NOT NULL,
		quota      INTEGER NOT NULL DEFAULT 0,
		updated_at BIGINT NOT NULL
	);`,
	// 7: jobs held out of the queue until released.
	`ALTER TABLE jobs ADD COLUMN held BOOLEAN NOT NULL DEFAULT false;`,
	// 8: job arrays.
	`ALTER TABLE jobs ADD COLUMN array_job TEXT COLLATE "C" NOT NULL DEFAULT '',
		ADD COLUMN array_index INTEGER NOT NULL DEFAULT 0;
	CREATE INDEX jobs_array ON jobs (array_job) WHERE array_job <> '';`,
	// 9: jobs' energy accounts.
	`CREATE TABLE job_energy (
		job           TEXT COLLATE "C" NOT NULL,
		attempt       INTEGER NOT NULL,
		site          TEXT NOT NULL,
		energy_j      DOUBLE PRECISION NOT NULL,
		facility_j    DOUBLE PRECISION NOT NULL,
		accelerator_s DOUBLE PRECISION NOT NULL,
		cost_usd      DOUBLE PRECISION NOT NULL,
		co2_g         DOUBLE PRECISION NOT NULL,
		source        TEXT NOT NULL,
		samples       INTEGER NOT NULL,
		PRIMARY KEY (job, attempt)
	);`,
	// 10: grid events.
	`CREATE TABLE grid_events (
		id       TEXT COLLATE "C" PRIMARY KEY,
		start_ns BIGINT NOT NULL,
		state    TEXT NOT NULL,
		data     TEXT NOT NULL,
		version  BIGINT NOT NULL
	);`,
	// 11: tenants' quotas by accelerator model and of power.
	`ALTER TABLE tenants ADD COLUMN model_quotas TEXT NOT NULL DEFAULT '',
		ADD COLUMN power_quota_kw DOUBLE PRECISION NOT NULL DEFAULT 0;`,
	// 12: the change sequence of jobs (JobChanges): the ID of the
	// transaction that last wrote each job.
	`ALTER TABLE jobs ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
	ALTER TABLE jobs ALTER COLUMN seq SET DEFAULT pg_current_xact_id()::text::bigint;
	CREATE INDEX jobs_seq ON jobs (seq);`,
	// 13: jobs counted by tenant and state as they are written, so that
	// JobCounts reads a few rows, not every job. Each write adds a delta
	// row (no two transactions update one row, so none waits for
	// another); JobCounts folds the deltas into job_counts now and then.
	// Writers wait while the jobs are counted and the triggers made, so
	// that none is missed by both (an older replica may still write).
	`LOCK TABLE jobs IN SHARE ROW EXCLUSIVE MODE;
	CREATE TABLE job_counts (
		tenant       TEXT COLLATE "C" NOT NULL,
		state        TEXT NOT NULL,
		jobs         BIGINT NOT NULL,
		accelerators BIGINT NOT NULL,
		PRIMARY KEY (tenant, state)
	);
	CREATE TABLE job_count_deltas (
		tenant       TEXT COLLATE "C" NOT NULL,
		state        TEXT NOT NULL,
		jobs         BIGINT NOT NULL,
		accelerators BIGINT NOT NULL
	);
	INSERT INTO job_counts SELECT tenant, state, COUNT(*), COALESCE(SUM(accelerators), 0) FROM jobs GROUP BY tenant, state;
	CREATE FUNCTION job_counts_delta() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		IF TG_OP IN ('UPDATE', 'DELETE') THEN
			INSERT INTO job_count_deltas VALUES (OLD.tenant, OLD.state, -1, -OLD.accelerators);
		END IF;
		IF TG_OP IN ('INSERT', 'UPDATE') THEN
			INSERT INTO job_count_deltas VALUES (NEW.tenant, NEW.state, 1, NEW.accelerators);
		END IF;
		RETURN NULL;
	END $$;
	CREATE TRIGGER job_counts_write AFTER INSERT OR DELETE ON jobs
		FOR EACH ROW EXECUTE FUNCTION job_counts_delta();
	CREATE TRIGGER job_counts_state AFTER UPDATE OF state ON jobs
		FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state) EXECUTE FUNCTION job_counts_delta();`,
	// 14: the spec's priority, set from the spec as a job is inserted,
	// whoever inserts it (a job's spec never changes), and the queue in
	// the order of the priority and backfill policies, so that a new
	// leader reads the head of the queue first. The spec is JSON text as
	// encoding/json writes it: a quoted key followed by a colon and a
	// digit is a key of a number, never text inside a string (whose
	// quotes are escaped), and spec has no other key "priority" with a
	// number. It is matched as text, not parsed: jsonb refuses \u0000,
	// which old specs may hold. ALTER TABLE locks the table: no job is
	// inserted between the backfill and the trigger.
	`ALTER TABLE jobs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
	CREATE FUNCTION spec_priority(spec TEXT) RETURNS INTEGER LANGUAGE SQL IMMUTABLE
		RETURN COALESCE(substring(spec FROM '"priority":(-?[0-9]+)')::integer, 0);
	UPDATE jobs SET priority = spec_priority(spec) WHERE spec LIKE '%"priority":%';
	CREATE FUNCTION jobs_priority() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		NEW.priority := spec_priority(NEW.spec);
		RETURN NEW;
	END $$;
	CREATE TRIGGER jobs_priority BEFORE INSERT ON jobs FOR EACH ROW EXECUTE FUNCTION jobs_priority();
	CREATE INDEX jobs_queue ON jobs (state, priority DESC, id);`,
}
