// Package budget keeps what each client key spends per UTC day in a database table, so that
// the spend is shared by every proxy instance using the database and survives restarts.
//
// A request is admitted with Reserve, which sets aside an estimate of its cost; its real cost
// replaces the reservation when it is known (Settle). Admission is one conditional UPDATE of
// the key's row for the day (spent + reserved + estimate <= limit), which the database applies
// atomically, so concurrent requests, from one instance or many, cannot together reserve more
// than the budget. As long as each request's real cost stays within its estimate, the spend
// cannot exceed the budget either.
//
// A reservation whose request never settles (the process died mid-request) is released by
// Sweep once it is older than the reservation TTL; until then it holds budget back, which
// errs on the side of spending less.
//
// Amounts are stored as integers of nano-USD (1e-9 USD), so sums are exact: a cost is
// rounded to the nearest nano-USD and an estimate rounded up.
package budget

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"regexp"
	"time"
)

// Defaults of Options.
const (
	DefaultTable          = "aiproxy_budget"
	DefaultReservationTTL = time.Hour
)

// Options configures a Ledger.
type Options struct {
	// Table names the table of spend per key and day; the reservations are kept in the
	// table of the same name with "_reservation" appended. Empty means DefaultTable.
	Table string
	// ReservationTTL is the age past which Sweep releases a reservation that was never
	// settled. It must be longer than the longest request; zero means
	// DefaultReservationTTL.
	ReservationTTL time.Duration
	// Now is the clock; nil means time.Now. Tests set it.
	Now func() time.Time
}

// Ledger is the spend of every client key, per UTC day, in a database. It is safe for
// concurrent use, and several processes may share one database.
type Ledger struct {
	db  *sql.DB
	ttl time.Duration
	now func() time.Time

	// SQL statements, with the table names filled in.
	ensureRow, reserve, record, release, charge, spend, expired string
	// The statements of Reserve, which runs on the request path, prepared once.
	ensureStmt, reserveStmt, recordStmt *sql.Stmt
}

// Spend is a key's spend on one day.
type Spend struct {
	SpentUSD    float64 // real cost of the settled requests
	ReservedUSD float64 // estimates of the requests admitted and not yet settled
}

// Settlement is the real cost of one request, replacing its reservation.
type Settlement struct {
	RequestID string
	// Key is the client key's name, used only when the reservation is gone (released by
	// Sweep): the cost then goes to the key's current day.
	Key     string
	CostUSD float64
}

var tableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,50}$`)

// Open returns a ledger over db, creating its two tables when they do not exist. The SQL is
// the same for SQLite (modernc.org/sqlite) and PostgreSQL (pgx's database/sql driver); with
// SQLite, db should wait for locks (a busy_timeout), as the access log's pools do.
func Open(ctx context.Context, db *sql.DB, opts Options) (*Ledger, error) {
	table := opts.Table
	if table == "" {
		table = DefaultTable
	}
	if !tableName.MatchString(table) {
		return nil, fmt.Errorf("budget: table name %q is not a plain identifier", table)
	}
	l := &Ledger{db: db, ttl: opts.ReservationTTL, now: opts.Now}
	if l.ttl <= 0 {
		l.ttl = DefaultReservationTTL
	}
	if l.now == nil {
		l.now = time.Now
	}
	res := table + "_reservation"
	schema := []string{
		`CREATE TABLE IF NOT EXISTS ` + table + ` (
			client_key TEXT NOT NULL,
			day TEXT NOT NULL,
			spent_nusd BIGINT NOT NULL DEFAULT 0,
			reserved_nusd BIGINT NOT NULL DEFAULT 0,
			PRIMARY KEY (client_key, day))`,
		`CREATE TABLE IF NOT EXISTS ` + res + ` (
			request_id TEXT PRIMARY KEY,
			client_key TEXT NOT NULL,
			day TEXT NOT NULL,
			amount_nusd BIGINT NOT NULL,
			created_at BIGINT NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS ` + res + `_created_at ON ` + res + ` (created_at)`,
	}
	for _, s := range schema {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return nil, fmt.Errorf("budget: create tables: %w", err)
		}
	}
	l.ensureRow = `INSERT INTO ` + table + ` (client_key, day, spent_nusd, reserved_nusd) VALUES ($1, $2, 0, 0)
		ON CONFLICT (client_key, day) DO NOTHING`
	l.reserve = `UPDATE ` + table + ` SET reserved_nusd = reserved_nusd + $3
		WHERE client_key = $1 AND day = $2 AND spent_nusd + reserved_nusd < $4 AND spent_nusd + reserved_nusd + $3 <= $4`
	l.record = `INSERT INTO ` + res + ` (request_id, client_key, day, amount_nusd, created_at) VALUES ($1, $2, $3, $4, $5)`
	l.release = `DELETE FROM ` + res + ` WHERE request_id = $1 RETURNING client_key, day, amount_nusd`
	l.charge = `UPDATE ` + table + ` SET
		reserved_nusd = CASE WHEN reserved_nusd > $3 THEN reserved_nusd - $3 ELSE 0 END,
		spent_nusd = spent_nusd + $4
		WHERE client_key = $1 AND day = $2`
	l.spend = `SELECT spent_nusd, reserved_nusd FROM ` + table + ` WHERE client_key = $1 AND day = $2`
	l.expired = `DELETE FROM ` + res + ` WHERE created_at < $1 RETURNING client_key, day, amount_nusd`
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{{&l.ensureStmt, l.ensureRow}, {&l.reserveStmt, l.reserve}, {&l.recordStmt, l.record}} {
		st, err := db.PrepareContext(ctx, p.sql)
		if err != nil {
			l.Close()
			return nil, fmt.Errorf("budget: prepare: %w", err)
		}
		*p.stmt = st
	}
	return l, nil
}

// Close releases the ledger's prepared statements; the database stays open.
func (l *Ledger) Close() error {
	var errs []error
	for _, st := range []*sql.Stmt{l.ensureStmt, l.reserveStmt, l.recordStmt} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// Day is the UTC day of t as the ledger stores it, "2006-01-02".
func Day(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// NextDay returns the start of the UTC day after t's: when a budget exhausted at t renews.
func NextDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC)
}

// nano converts USD to nano-USD, rounding up when up is set and to the nearest otherwise.
func nano(usd float64, up bool) int64 {
	if usd <= 0 || math.IsNaN(usd) {
		return 0
	}
	v := usd * 1e9
	if up {
		v = math.Ceil(v - 1e-6) // tolerate float noise just above an integer
	} else {
		v = math.Round(v)
	}
	return int64(min(v, math.MaxInt64/4))
}

func usd(n int64) float64 { return float64(n) / 1e9 }

// Reserve sets aside estimateUSD of key's budget for today (UTC) for the request requestID,
// when the day's spent and reserved amounts plus the estimate fit within limitUSD (and
// something is left when the estimate is zero). It reports whether the request was
// admitted; a refusal reserves nothing.
func (l *Ledger) Reserve(ctx context.Context, requestID, key string, limitUSD, estimateUSD float64) (bool, error) {
	now := l.now()
	day := Day(now)
	est, limit := nano(estimateUSD, true), nano(limitUSD, false)
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("budget: reserve: %w", err)
	}
	defer tx.Rollback()
	reserve := tx.StmtContext(ctx, l.reserveStmt)
	n, err := affected(reserve.ExecContext(ctx, key, day, est, limit))
	if err == nil && n == 0 {
		// Refused, or the key has no row for today yet: make sure it has one and ask again.
		if _, err := tx.StmtContext(ctx, l.ensureStmt).ExecContext(ctx, key, day); err != nil {
			return false, fmt.Errorf("budget: reserve: %w", err)
		}
		n, err = affected(reserve.ExecContext(ctx, key, day, est, limit))
	}
	if err != nil {
		return false, fmt.Errorf("budget: reserve: %w", err)
	}
	if n == 0 {
		return false, nil
	}
	if _, err := tx.StmtContext(ctx, l.recordStmt).ExecContext(ctx, requestID, key, day, est, now.Unix()); err != nil {
		return false, fmt.Errorf("budget: reserve: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("budget: reserve: %w", err)
	}
	return true, nil
}

// affected returns the rows an Exec changed.
func affected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// Settle replaces the reservations of the requests with their real costs, in one
// transaction. The cost of a request whose reservation is gone goes to its key's current
// day; a request that never reserved must not be settled (its cost would be charged).
func (l *Ledger) Settle(ctx context.Context, settlements ...Settlement) error {
	if len(settlements) == 0 {
		return nil
	}
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("budget: settle: %w", err)
	}
	defer tx.Rollback()
	for _, s := range settlements {
		var key, day string
		var amount int64
		err := tx.QueryRowContext(ctx, l.release, s.RequestID).Scan(&key, &day, &amount)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			key, day, amount = s.Key, Day(l.now()), 0
			if _, err := tx.ExecContext(ctx, l.ensureRow, key, day); err != nil {
				return fmt.Errorf("budget: settle: %w", err)
			}
		case err != nil:
			return fmt.Errorf("budget: settle: %w", err)
		}
		if _, err := tx.ExecContext(ctx, l.charge, key, day, amount, nano(s.CostUSD, false)); err != nil {
			return fmt.Errorf("budget: settle: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("budget: settle: %w", err)
	}
	return nil
}

// Sweep releases the reservations older than the reservation TTL, whose requests never
// settled, and returns how many it released.
func (l *Ledger) Sweep(ctx context.Context) (int, error) {
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("budget: sweep: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, l.expired, l.now().Add(-l.ttl).Unix())
	if err != nil {
		return 0, fmt.Errorf("budget: sweep: %w", err)
	}
	type stale struct {
		key, day string
		amount   int64
	}
	var all []stale
	for rows.Next() {
		var s stale
		if err := rows.Scan(&s.key, &s.day, &s.amount); err != nil {
			rows.Close()
			return 0, fmt.Errorf("budget: sweep: %w", err)
		}
		all = append(all, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("budget: sweep: %w", err)
	}
	for _, s := range all {
		if _, err := tx.ExecContext(ctx, l.charge, s.key, s.day, s.amount, 0); err != nil {
			return 0, fmt.Errorf("budget: sweep: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("budget: sweep: %w", err)
	}
	return len(all), nil
}

// Spend returns key's spend on the UTC day of t; a day without requests spent nothing.
func (l *Ledger) Spend(ctx context.Context, key string, t time.Time) (Spend, error) {
	var spent, reserved int64
	err := l.db.QueryRowContext(ctx, l.spend, key, Day(t)).Scan(&spent, &reserved)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return Spend{}, fmt.Errorf("budget: spend: %w", err)
	}
	return Spend{SpentUSD: usd(spent), ReservedUSD: usd(reserved)}, nil
}
