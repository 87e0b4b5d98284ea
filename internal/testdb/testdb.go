// Package testdb gives tests a PostgreSQL schema of their own in the database that
// AIPROXY_TEST_POSTGRES names, so that tests run in parallel and again without meeting each
// other's tables. Without the variable the test is skipped.
package testdb

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

// EnvPostgres is the variable that names the test database.
const EnvPostgres = "AIPROXY_TEST_POSTGRES"

// Postgres creates a schema named prefix_<random> in the test database, dropped with
// everything in it when the test ends, and returns a DSN whose search_path is that schema
// and the schema's name. It skips the test when EnvPostgres is not set.
func Postgres(tb testing.TB, prefix string) (dsn, schema string) {
	tb.Helper()
	base := os.Getenv(EnvPostgres)
	if base == "" {
		tb.Skip(EnvPostgres + " is not set")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		tb.Fatalf("open %s: %v", EnvPostgres, err)
	}
	schema = fmt.Sprintf("%s_%016x", prefix, rand.Uint64())
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		admin.Close()
		tb.Fatalf("create schema %s: %v", schema, err)
	}
	tb.Cleanup(func() {
		if _, err := admin.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	return WithSearchPath(tb, base, schema), schema
}

// WithSearchPath adds search_path=schema to a URL or keyword/value DSN.
func WithSearchPath(tb testing.TB, dsn, schema string) string {
	tb.Helper()
	if !strings.Contains(dsn, "://") {
		return dsn + " search_path=" + schema
	}
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatalf("%s is not a URL", EnvPostgres)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
