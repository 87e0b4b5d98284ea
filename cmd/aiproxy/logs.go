package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/logquery"
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
	User             string  `json:"user,omitempty"`
	ClientKey        string  `json:"client_key,omitempty"`
	Stream           bool    `json:"stream,omitempty"`
	PromptTokens     int     `json:"prompt_tokens"`
	CompletionTokens int     `json:"completion_tokens"`
	CostUSD          float64 `json:"cost_usd"`
	RequestTime      float64 `json:"request_time,omitempty"`
	TimeToFirstToken float64 `json:"time_to_first_token,omitempty"`
	Content          string  `json:"content,omitempty"`
}

func newLogRow(r logquery.Row) logRow {
	return logRow{ID: r.ID, CreatedAt: r.CreatedAt.UTC().Format(accesslog.TimeLayout), RequestID: r.RequestID,
		Direction: r.Direction, StatusCode: r.StatusCode, Provider: r.Provider, Model: r.Model, User: r.User,
		ClientKey: r.ClientKey, Stream: r.Stream, PromptTokens: r.PromptTokens, CompletionTokens: r.CompletionTokens,
		CostUSD: r.CostUSD, RequestTime: r.RequestTime, TimeToFirstToken: r.TimeToFirstToken, Content: r.Content}
}

// rowFilterFlags are the flags that select rows of the access log, shared by the logs,
// stats, export and reprice commands.
type rowFilterFlags struct {
	db                                                  string
	requestID, model, provider, user, clientKey, dir, q string
	status                                              int
	since                                               time.Duration
}

// addRowFilterFlags declares the filter flags on fs; since is --since's default.
func addRowFilterFlags(fs *flag.FlagSet, since time.Duration) *rowFilterFlags {
	f := &rowFilterFlags{since: since}
	fs.StringVar(&f.db, "db", "aiproxy.db", "access log database: SQLite path or postgres:// URL")
	fs.StringVar(&f.requestID, "request-id", "", "only the rows of this request id")
	fs.StringVar(&f.model, "model", "", "only rows of this model")
	fs.StringVar(&f.provider, "provider", "", "only rows of this provider")
	fs.StringVar(&f.user, "user", "", "only rows of this user")
	fs.StringVar(&f.clientKey, "client-key", "", "only rows of this client key")
	fs.StringVar(&f.dir, "direction", "", "only rows of this direction: request, response or error")
	fs.StringVar(&f.q, "grep", "", "only rows whose content contains this text (ASCII case ignored)")
	fs.IntVar(&f.status, "status", 0, "only rows with this status code")
	usage := "only rows newer than this, e.g. 24h or 7d"
	if since > 0 {
		usage += "; 0 for all (default " + strings.TrimSuffix(since.String(), "0m0s") + ")"
	}
	fs.Var(daysVar(&f.since), "since", usage)
	return f
}

// filter returns the logquery filter of the flags, with --since counted back from now.
func (f *rowFilterFlags) filter(now time.Time) logquery.Filter {
	lf := logquery.Filter{RequestID: f.requestID, Model: f.model, Provider: f.provider, User: f.user,
		ClientKey: f.clientKey, Direction: f.dir, Status: f.status, Text: f.q}
	if f.since > 0 {
		lf.Since = now.Add(-f.since)
	}
	return lf
}

// openLog opens the access log that --db names, for queries.
func openLog(dsn string) (accesslog.Store, *sql.DB, logquery.Dialect, error) {
	store, err := accesslog.Open(dsn)
	if err != nil {
		return nil, nil, 0, err
	}
	db, d, err := logquery.FromStore(store)
	if err != nil {
		store.Close()
		return nil, nil, 0, err
	}
	return store, db, d, nil
}

// logs is the `aiproxy logs` command: the newest rows of the access log, filtered, and with
// --follow the rows written from then on, until interrupted.
func logs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("aiproxy logs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rf := addRowFilterFlags(fs, 0)
	limit := fs.Int("limit", 20, "at most this many rows, newest first")
	asJSON := fs.Bool("json", false, "print JSON lines instead of a table")
	follow := fs.Bool("follow", false, "after the newest rows (oldest of them first), print new rows as they are written, until interrupted")
	poll := fs.Duration("poll", 500*time.Millisecond, "with --follow, how often to look for new rows")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("logs: unexpected argument %q", fs.Arg(0))
	}
	if *limit <= 0 {
		return errors.New("logs: --limit must be positive")
	}
	if *poll <= 0 {
		return errors.New("logs: --poll must be positive")
	}
	store, db, dialect, err := openLog(rf.db)
	if err != nil {
		return err
	}
	defer store.Close()
	f := rf.filter(time.Now())
	f.Limit = *limit

	if !*follow {
		rows, err := logquery.List(ctx, db, dialect, f)
		if err != nil {
			return fmt.Errorf("logs: %w", err)
		}
		if *asJSON {
			return printJSONRows(stdout, rows)
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(logHeader, "\t"))
		for _, r := range rows {
			fmt.Fprintln(tw, strings.Join(logCells(r), "\t"))
		}
		return tw.Flush()
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The last id first: a row written while the newest are listed is either among them or
	// after the id followed from.
	after, err := logquery.LastID(ctx, db)
	if err != nil {
		return fmt.Errorf("logs: %w", err)
	}
	rows, err := logquery.List(ctx, db, dialect, f)
	if err != nil {
		return fmt.Errorf("logs: %w", err)
	}
	show := func(r logquery.Row) error {
		if *asJSON {
			return printJSONRows(stdout, []logquery.Row{r})
		}
		_, err := fmt.Fprintf(stdout, followLine, toAny(logCells(r))...)
		return err
	}
	if !*asJSON {
		fmt.Fprintf(stdout, followLine, toAny(logHeader)...)
	}
	for i := len(rows) - 1; i >= 0; i-- {
		after = max(after, rows[i].ID)
		if err := show(rows[i]); err != nil {
			return err
		}
	}
	f.AfterID = after
	err = logquery.Follow(ctx, db, dialect, f, *poll, show)
	if ctx.Err() != nil {
		return nil // interrupted, which is how following ends
	}
	return fmt.Errorf("logs: %w", err)
}

// logHeader names the columns of the logs table.
var logHeader = []string{"CREATED (UTC)", "REQUEST ID", "DIRECTION", "STATUS", "MODEL", "TOKENS IN/OUT", "COST USD", "SECONDS", "CONTENT"}

// followLine lays out one line of the table that --follow prints as rows arrive, in fixed
// widths since later rows cannot realign earlier ones.
const followLine = "%-26s  %-32s  %-9s  %6s  %-24s  %13s  %10s  %8s  %s\n"

// logCells are the cells of one row of the logs table.
func logCells(r logquery.Row) []string {
	return []string{r.CreatedAt.UTC().Format(accesslog.TimeLayout), r.RequestID, r.Direction, fmt.Sprint(r.StatusCode),
		r.Model, fmt.Sprintf("%d/%d", r.PromptTokens, r.CompletionTokens), fmt.Sprintf("%.6f", r.CostUSD),
		fmt.Sprintf("%.3f", r.RequestTime), clip(r.Content, 60)}
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// printJSONRows prints rows as JSON lines.
func printJSONRows(w io.Writer, rows []logquery.Row) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, r := range rows {
		if err := enc.Encode(newLogRow(r)); err != nil {
			return err
		}
	}
	return nil
}

// clip shortens s to n runes on one line.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
