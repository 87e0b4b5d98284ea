package logquery

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/aiproxy-go/aiproxy/pricing"
)

// RepriceBatch is how many rows Reprice reads, and updates in one transaction, at a time.
const RepriceBatch = 1000

// RepriceResult counts what Reprice did.
type RepriceResult struct {
	Rows      int64   // response and error rows read
	Changed   int64   // rows whose cost differs at the new prices (updated unless a dry run)
	Unpriced  int64   // rows whose model the table has no price for; their cost is kept
	BeforeUSD float64 // total cost of the rows read, as stored
	AfterUSD  float64 // total cost of the same rows at the new prices
}

// Reprice recomputes cost_usd of the response and error rows that f selects (f.Limit
// aside) from their provider, model and token columns at prices, as the proxy computes it
// when it logs a row (pricing.Table.CostOfCounts), and stores it unless dryRun. A row whose
// model has no price keeps its cost. A cost of 0 is stored as NULL, as the log writer does.
//
// Rows are read in id order, RepriceBatch at a time, and each batch's updates are committed
// in one transaction, so a large reprice never holds the database for long and can be
// cancelled through ctx; the batches committed before then stay.
func Reprice(ctx context.Context, db *sql.DB, d Dialect, prices *pricing.Table, f Filter, dryRun bool) (RepriceResult, error) {
	var res RepriceResult
	if db == nil {
		return res, errNoDB
	}
	if prices == nil {
		return res, errors.New("logquery: reprice: no price table")
	}
	f.Limit = 0
	for {
		q := query{d: d}
		if err := q.filter(f); err != nil {
			return res, err
		}
		q.cond("direction IN ('response', 'error')")
		text := `SELECT id, COALESCE(provider, ''), COALESCE(model, ''), COALESCE(prompt_tokens, 0),
COALESCE(completion_tokens, 0), COALESCE(cached_tokens, 0), COALESCE(reasoning_tokens, 0),
COALESCE(cost_usd, 0) FROM accesslog` + q.whereClause() + " ORDER BY id LIMIT " + strconv.Itoa(RepriceBatch)
		changes, n, err := repriceBatch(ctx, db, text, q.args, prices, &res, &f.AfterID)
		if err != nil {
			return res, fmt.Errorf("logquery: reprice: %w", err)
		}
		if !dryRun && len(changes) > 0 {
			if err := applyCosts(ctx, db, d, changes); err != nil {
				return res, fmt.Errorf("logquery: reprice: %w", err)
			}
		}
		if n < RepriceBatch {
			return res, nil
		}
	}
}

// costChange is the new cost of one row.
type costChange struct {
	id  int64
	usd float64
}

// repriceBatch reads one batch, adds it to res, moves after past it and returns the rows whose
// cost changes and how many rows it read.
func repriceBatch(ctx context.Context, db *sql.DB, text string, args []any, prices *pricing.Table, res *RepriceResult, after *int64) ([]costChange, int, error) {
	rows, err := db.QueryContext(ctx, text, args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var changes []costChange
	n := 0
	for rows.Next() {
		var (
			id                                    int64
			prov, model                           string
			prompt, completion, cached, reasoning int
			old                                   float64
		)
		if err := rows.Scan(&id, &prov, &model, &prompt, &completion, &cached, &reasoning, &old); err != nil {
			return nil, 0, err
		}
		n++
		*after = id
		res.Rows++
		res.BeforeUSD += old
		usd, ok := prices.CostOfCounts(prov, model, prompt, completion, cached, reasoning)
		if !ok {
			res.Unpriced++
			res.AfterUSD += old
			continue
		}
		res.AfterUSD += usd
		if usd != old {
			res.Changed++
			changes = append(changes, costChange{id, usd})
		}
	}
	return changes, n, rows.Err()
}

// costsPerStatement bounds the rows one UPDATE sets: two parameters each, well below the
// limits of both databases (32766 parameters in SQLite, 65535 in PostgreSQL).
const costsPerStatement = 500

// applyCosts stores the new costs in one transaction, a few hundred rows per UPDATE ... FROM
// (VALUES ...), which both databases run (VALUES' columns are column1, column2 in both), so
// that a reprice over PostgreSQL is not one round trip per row.
func applyCosts(ctx context.Context, db *sql.DB, d Dialect, changes []costChange) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for len(changes) > 0 {
		n := min(len(changes), costsPerStatement)
		q := query{d: d}
		var b strings.Builder
		b.WriteString("UPDATE accesslog SET cost_usd = v.column2 FROM (VALUES ")
		for i, c := range changes[:n] {
			if i > 0 {
				b.WriteString(", ")
			}
			var usd any // NULL for 0, as the writer stores an unknown or zero cost
			if c.usd != 0 {
				usd = c.usd
			}
			if d == Postgres {
				fmt.Fprintf(&b, "(%s::bigint, %s::double precision)", q.arg(c.id), q.arg(usd))
			} else {
				fmt.Fprintf(&b, "(%s, %s)", q.arg(c.id), q.arg(usd))
			}
		}
		b.WriteString(") AS v WHERE accesslog.id = v.column1")
		if _, err := tx.ExecContext(ctx, b.String(), q.args...); err != nil {
			return err
		}
		changes = changes[n:]
	}
	return tx.Commit()
}
