package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/aiproxy-go/aiproxy/logquery"
)

// export is the `aiproxy export` command: every column of the selected rows, oldest first,
// as JSON Lines or CSV, streamed from the database.
func export(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("aiproxy export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rf := addRowFilterFlags(fs, 0)
	format := fs.String("format", "jsonl", "jsonl (one JSON object a row) or csv (a header, then one line a row)")
	output := fs.String("output", "-", "file to write, - for standard output; a file appears only once complete")
	limit := fs.Int("limit", 0, "at most this many rows (default all)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("export: unexpected argument %q", fs.Arg(0))
	}
	var newEncoder func(io.Writer) rowEncoder
	switch *format {
	case "jsonl":
		newEncoder = newJSONLEncoder
	case "csv":
		newEncoder = newCSVEncoder
	default:
		return fmt.Errorf("export: --format %q: want jsonl or csv", *format)
	}
	if *limit < 0 {
		return errors.New("export: --limit must not be negative")
	}
	store, db, dialect, err := openLog(rf.db)
	if err != nil {
		return err
	}
	defer store.Close()
	f := rf.filter(time.Now())
	f.Limit = *limit

	write := func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 64<<10)
		enc := newEncoder(bw)
		if err := logquery.Export(ctx, db, dialect, f, enc.row); err != nil {
			return err
		}
		if err := enc.close(); err != nil {
			return err
		}
		return bw.Flush()
	}
	if *output == "-" {
		return write(stdout)
	}
	// Written beside the destination and renamed over it at the end, so that an interrupted
	// export never leaves a file that looks complete. The log holds prompts: owner only.
	tmp, err := os.CreateTemp(filepath.Dir(*output), "."+filepath.Base(*output)+".*")
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("export: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := os.Rename(tmp.Name(), *output); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

// rowEncoder writes exported rows in one format.
type rowEncoder interface {
	row(r logquery.Row) error
	close() error
}

// jsonlEncoder writes each row as one JSON object: logquery.Row's fields, the custom
// columns under "extra".
type jsonlEncoder struct{ enc *json.Encoder }

func newJSONLEncoder(w io.Writer) rowEncoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &jsonlEncoder{enc}
}

func (e *jsonlEncoder) row(r logquery.Row) error { return e.enc.Encode(&r) }
func (e *jsonlEncoder) close() error             { return nil }

// csvEncoder writes a header of the column names, logquery.Columns then the custom columns
// in alphabetical order, and one record a row. Times are RFC 3339 in UTC; a NULL is empty
// text or 0.
type csvEncoder struct {
	w     *csv.Writer
	extra []string // custom columns, known at the first row
	rec   []string
	wrote bool // the header
}

func newCSVEncoder(w io.Writer) rowEncoder { return &csvEncoder{w: csv.NewWriter(w)} }

func (e *csvEncoder) header(r *logquery.Row) error {
	e.wrote = true
	if r != nil {
		for k := range r.Extra {
			e.extra = append(e.extra, k)
		}
		slices.Sort(e.extra)
	}
	return e.w.Write(append(slices.Clone(logquery.Columns), e.extra...))
}

func (e *csvEncoder) row(r logquery.Row) error {
	if !e.wrote {
		if err := e.header(&r); err != nil {
			return err
		}
	}
	num := func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
	e.rec = append(e.rec[:0],
		strconv.FormatInt(r.ID, 10), r.CreatedAt.UTC().Format(time.RFC3339Nano), r.RequestID, r.Direction,
		strconv.Itoa(r.StatusCode), r.Provider, r.Endpoint, strconv.FormatBool(r.Stream), r.Model, r.User,
		r.ClientKey, r.UpstreamRequestID, strconv.Itoa(r.PromptTokens), strconv.Itoa(r.CompletionTokens),
		strconv.Itoa(r.CachedTokens), strconv.Itoa(r.ReasoningTokens), strconv.FormatBool(r.TokensEstimated),
		num(r.CostUSD), num(r.RequestTime), num(r.RequestTimeAPI), num(r.TimeToFirstToken), r.Content,
		r.FunctionCall, r.ToolCalls, r.RawBody, r.RawHeaders, r.UpstreamBody, r.ChunkTimes,
	)
	for _, k := range e.extra {
		v := r.Extra[k]
		switch x := v.(type) {
		case nil:
			e.rec = append(e.rec, "")
		case time.Time:
			e.rec = append(e.rec, x.UTC().Format(time.RFC3339Nano))
		case float64:
			e.rec = append(e.rec, num(x))
		default:
			e.rec = append(e.rec, fmt.Sprint(x))
		}
	}
	return e.w.Write(e.rec)
}

func (e *csvEncoder) close() error {
	if !e.wrote {
		if err := e.header(nil); err != nil {
			return err
		}
	}
	e.w.Flush()
	return e.w.Error()
}
