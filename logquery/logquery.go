// Package logquery answers questions about the access log: the rows that match a filter
// (List, Follow, Export), the traffic, errors, tokens, cost and latency of each model,
// provider, user or client key (Stats), and the recomputation of cost after a price change
// (Reprice). The `aiproxy logs`, `stats`, `export` and `reprice` commands and the dashboard
// share it.
//
// Every function takes the store's *sql.DB and its Dialect, which FromStore returns, and works
// the same on SQLite and PostgreSQL: the same filters, the same percentiles, the same rows.
package logquery

import (
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"

	"github.com/aiproxy-go/aiproxy/accesslog"
)

// Dialect is the SQL spoken by the database that holds the access log.
type Dialect int

// The dialects of the stores AIProxy ships.
const (
	SQLite   Dialect = iota + 1 // modernc.org/sqlite; created_at is text in accesslog.TimeLayout
	Postgres                    // pgx; created_at is a timestamp
)

// String returns "sqlite" or "postgres".
func (d Dialect) String() string {
	switch d {
	case SQLite:
		return "sqlite"
	case Postgres:
		return "postgres"
	}
	return "Dialect(" + strconv.Itoa(int(d)) + ")"
}

// FromStore returns the database of an access-log store, for queries, and its dialect.
func FromStore(store accesslog.Store) (*sql.DB, Dialect, error) {
	switch s := store.(type) {
	case *accesslog.SQLiteStore:
		return s.DB(), SQLite, nil
	case *accesslog.PostgresStore:
		return s.DB(), Postgres, nil
	}
	if s, ok := store.(interface{ DB() *sql.DB }); ok {
		d, err := DialectOf(s.DB())
		return s.DB(), d, err
	}
	return nil, 0, fmt.Errorf("logquery: a %T store cannot be queried", store)
}

// DialectOf tells the dialect of a database opened with the modernc.org/sqlite driver or
// with pgx's database/sql driver.
func DialectOf(db *sql.DB) (Dialect, error) {
	switch db.Driver().(type) {
	case *sqlite.Driver:
		return SQLite, nil
	case *stdlib.Driver:
		return Postgres, nil
	}
	return 0, fmt.Errorf("logquery: unknown database driver %T", db.Driver())
}

// Filter selects rows of the access log. The zero value selects every row; each field that
// is set narrows the selection, and all of them must hold.
type Filter struct {
	Since time.Time // created_at at or after Since
	Until time.Time // created_at before Until

	RequestID string // request_id
	Model     string // model
	Provider  string // provider
	User      string // user
	ClientKey string // client_key
	Direction string // direction: request, response or error
	Status    int    // status_code

	// Text is a substring of content, matched without regard to the case of ASCII letters.
	Text string

	// AfterID keeps only the rows with a larger id, those written after it.
	AfterID int64

	// Limit caps the rows of List (DefaultLimit when 0) and of Export (no cap when 0).
	// Stats and Reprice ignore it.
	Limit int
}

// DefaultLimit is the number of rows List returns when Filter.Limit is 0.
const DefaultLimit = 100

// query builds the text and arguments of one statement in a dialect.
type query struct {
	d     Dialect
	args  []any
	where []string
}

// arg adds v to the arguments and returns its placeholder.
func (q *query) arg(v any) string {
	q.args = append(q.args, v)
	if q.d == Postgres {
		return "$" + strconv.Itoa(len(q.args))
	}
	return "?"
}

// timeArg adds a time as created_at holds it and returns its placeholder.
func (q *query) timeArg(t time.Time) string {
	if q.d == SQLite {
		// Text in one fixed layout compares as the times do, and uses the created_at index.
		return q.arg(t.UTC().Format(accesslog.TimeLayout))
	}
	return q.arg(t.UTC())
}

// cond adds a condition of the WHERE clause.
func (q *query) cond(c string) { q.where = append(q.where, c) }

// whereClause returns " WHERE ..." of the conditions, or "".
func (q *query) whereClause() string {
	if len(q.where) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(q.where, " AND ")
}

// filter adds the conditions of f.
func (q *query) filter(f Filter) error {
	if q.d != SQLite && q.d != Postgres {
		return fmt.Errorf("logquery: unknown dialect %v", q.d)
	}
	if !f.Since.IsZero() {
		q.cond("created_at >= " + q.timeArg(f.Since))
	}
	if !f.Until.IsZero() {
		q.cond("created_at < " + q.timeArg(f.Until))
	}
	for _, c := range []struct{ col, v string }{
		{"request_id", f.RequestID},
		{"model", f.Model},
		{"provider", f.Provider},
		{`"user"`, f.User},
		{"client_key", f.ClientKey},
		{"direction", f.Direction},
	} {
		if c.v != "" {
			q.cond(c.col + " = " + q.arg(c.v))
		}
	}
	if f.Status != 0 {
		q.cond("status_code = " + q.arg(f.Status))
	}
	if f.Text != "" {
		op := "LIKE" // SQLite's LIKE ignores the case of ASCII letters
		if q.d == Postgres {
			op = "ILIKE"
		}
		q.cond("content " + op + " " + q.arg("%"+escapeLike(f.Text)+"%") + ` ESCAPE '\'`)
	}
	if f.AfterID > 0 {
		q.cond("id > " + q.arg(f.AfterID))
	}
	return nil
}

// escapeLike makes s match itself in a LIKE pattern with '\' as the escape character.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// errNoDB is returned for a nil database.
var errNoDB = errors.New("logquery: no database")
