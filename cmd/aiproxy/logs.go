package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aiproxy-go/aiproxy/accesslog"
)

// logRow is one row as `aiproxy logs` shows it.
type logRow struct {
	ID               int64   `json:"id"`
	CreatedAt        string  `json:"created_at"`
	RequestID        string  `json:"request_id"`
	Direction        string  `json:"direction"`
	StatusCode       int     `json:"status_code,omitempty"`
	Provider         string  `json:"provider,omitempty"`
	Model            string  `json:"model,omitempty"`
	PromptTokens     int     `json:"prompt_tokens"`
	CompletionTokens int     `json:"completion_tokens"`
	CostUSD          float64 `json:"cost_usd"`
	RequestTime      float64 `json:"request_time,omitempty"`
	Content          string  `json:"content,omitempty"`
}

// logs is the `aiproxy logs` command: the newest rows of the access log, filtered.
func logs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("aiproxy logs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "aiproxy.db", "access log database: SQLite path or postgres:// URL")
	requestID := fs.String("request-id", "", "only the rows of this request id")
	model := fs.String("model", "", "only rows of this model")
	status := fs.Int("status", 0, "only rows with this status code")
	limit := fs.Int("limit", 20, "at most this many rows, newest first")
	asJSON := fs.Bool("json", false, "print JSON lines instead of a table")
	var since time.Duration
	fs.Var(daysVar(&since), "since", "only rows newer than this, e.g. 24h or 7d")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *limit <= 0 {
		return errors.New("logs: --limit must be positive")
	}
	store, err := accesslog.Open(*db)
	if err != nil {
		return err
	}
	defer store.Close()
	conn, pg, err := readDB(store)
	if err != nil {
		return err
	}
	var where []string
	var params []any
	add := func(cond string, v any) {
		params = append(params, v)
		ph := "?"
		if pg {
			ph = fmt.Sprintf("$%d", len(params))
		}
		where = append(where, strings.ReplaceAll(cond, "?", ph))
	}
	if *requestID != "" {
		add("request_id = ?", *requestID)
	}
	if *model != "" {
		add("model = ?", *model)
	}
	if *status != 0 {
		add("status_code = ?", *status)
	}
	if since > 0 {
		cutoff := time.Now().Add(-since).UTC()
		if pg {
			add("created_at >= ?", cutoff)
		} else {
			add("created_at >= ?", cutoff.Format(accesslog.TimeLayout))
		}
	}
	q := `SELECT id, created_at, request_id, direction, COALESCE(status_code, 0), COALESCE(provider, ''),
COALESCE(model, ''), COALESCE(prompt_tokens, 0), COALESCE(completion_tokens, 0), COALESCE(cost_usd, 0),
COALESCE(request_time, 0), COALESCE(content, '') FROM accesslog`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += fmt.Sprintf(" ORDER BY id DESC LIMIT %d", *limit)
	rows, err := conn.QueryContext(ctx, q, params...)
	if err != nil {
		return fmt.Errorf("logs: %w", err)
	}
	defer rows.Close()
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	if !*asJSON {
		fmt.Fprintln(tw, "CREATED (UTC)\tREQUEST ID\tDIRECTION\tSTATUS\tMODEL\tTOKENS IN/OUT\tCOST USD\tSECONDS\tCONTENT")
	}
	enc := json.NewEncoder(stdout)
	for rows.Next() {
		var r logRow
		var created any
		if err := rows.Scan(&r.ID, &created, &r.RequestID, &r.Direction, &r.StatusCode, &r.Provider, &r.Model,
			&r.PromptTokens, &r.CompletionTokens, &r.CostUSD, &r.RequestTime, &r.Content); err != nil {
			return fmt.Errorf("logs: %w", err)
		}
		r.CreatedAt = timeText(created)
		if *asJSON {
			if err := enc.Encode(&r); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%d/%d\t%.6f\t%.3f\t%s\n", r.CreatedAt, r.RequestID, r.Direction, r.StatusCode,
			r.Model, r.PromptTokens, r.CompletionTokens, r.CostUSD, r.RequestTime, clip(r.Content, 60))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("logs: %w", err)
	}
	if !*asJSON {
		return tw.Flush()
	}
	return nil
}

// readDB returns the store's database for queries and whether it speaks PostgreSQL.
func readDB(store accesslog.Store) (*sql.DB, bool, error) {
	switch s := store.(type) {
	case *accesslog.SQLiteStore:
		return s.DB(), false, nil
	case *accesslog.PostgresStore:
		return s.DB(), true, nil
	}
	return nil, false, fmt.Errorf("%T cannot be queried", store)
}

// timeText shows a created_at value from either database the same way.
func timeText(v any) string {
	switch t := v.(type) {
	case time.Time:
		return t.UTC().Format(accesslog.TimeLayout)
	case []byte:
		return string(t)
	case string:
		return t
	}
	return fmt.Sprint(v)
}

// clip shortens s to n runes on one line.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
