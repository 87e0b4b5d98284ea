package logquery_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to create and drop test schemas

	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/internal/testdb"
	"github.com/aiproxy-go/aiproxy/logquery"
)

// testDB is an access log opened for one test.
type testDB struct {
	store   accesslog.Store
	db      *sql.DB
	dialect logquery.Dialect
}

// forEachDB runs body as a subtest on a new SQLite file and, when AIPROXY_TEST_POSTGRES is
// set, on a new schema of that PostgreSQL database, dropped at the end.
func forEachDB(t *testing.T, body func(t *testing.T, tdb testDB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		body(t, openTestDB(t, filepath.Join(t.TempDir(), "aiproxy.db")))
	})
	t.Run("postgres", func(t *testing.T) {
		body(t, openTestDB(t, postgresTestDSN(t)))
	})
}

func openTestDB(t testing.TB, dsn string) testDB {
	t.Helper()
	store, err := accesslog.Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	db, d, err := logquery.FromStore(store)
	if err != nil {
		t.Fatal(err)
	}
	return testDB{store: store, db: db, dialect: d}
}

// postgresTestDSN returns the DSN of a schema of its own (internal/testdb), or skips.
func postgresTestDSN(t testing.TB) string {
	t.Helper()
	dsn, _ := testdb.Postgres(t, "logquery")
	return dsn
}

// insert stores records, failing the test on error.
func (tdb testDB) insert(t testing.TB, recs ...*accesslog.Record) {
	t.Helper()
	if err := tdb.store.Insert(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
}
