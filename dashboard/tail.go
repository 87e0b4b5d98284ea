package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

const (
	// tailBacklog is how many rows a tail without after_id starts with.
	tailBacklog = 50
	// tailBatch bounds the rows read by one poll.
	tailBatch = 500
	// tailLookback is how far below the highest id seen each poll looks again. Several
	// instances writing to one PostgreSQL take ids from one sequence but commit in any order,
	// so a row may become visible after rows with higher ids.
	tailLookback = 1000
	// tailKeepAlive is how often an idle tail sends a comment, so proxies keep it open.
	tailKeepAlive = 15 * time.Second
)

// tail streams new rows of the log as server-sent events: each event is one LogRow in JSON
// ("event: row", with the row's id as the event id). It polls the database every
// TailInterval, so it sees the rows of every instance that writes to it.
func (h *Handler) tail(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	after := int64(-1)
	s := r.URL.Query().Get("after_id")
	if s == "" {
		s = r.Header.Get("Last-Event-ID")
	}
	if s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "after_id: want a row id"})
			return
		}
		after = n
	}
	if after < 0 {
		var maxID int64
		if err := h.db.QueryRowContext(ctx, "SELECT COALESCE(MAX(id), 0) FROM accesslog").Scan(&maxID); err != nil {
			h.logger.Error("dashboard tail failed", "error", err)
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "the access log could not be read"})
			return
		}
		after = max(0, maxID-tailBacklog)
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, "retry: %d\n\n", h.opts.TailInterval.Milliseconds()*2)
	rc.Flush()

	t := &tailer{h: h, high: after, seen: map[int64]bool{}}
	tick := time.NewTicker(h.opts.TailInterval)
	defer tick.Stop()
	idle := time.Now()
	for {
		rows, err := t.poll(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			h.logger.Warn("dashboard tail poll failed", "error", err)
		}
		for _, row := range rows {
			b, _ := json.Marshal(row)
			fmt.Fprintf(w, "id: %d\nevent: row\ndata: %s\n\n", row.ID, b)
		}
		switch {
		case len(rows) > 0:
			idle = time.Now()
			if rc.Flush() != nil {
				return
			}
		case time.Since(idle) > tailKeepAlive:
			idle = time.Now()
			fmt.Fprint(w, ": keep-alive\n\n")
			if rc.Flush() != nil {
				return
			}
		}
		if len(rows) == tailBatch {
			continue // more are waiting
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// tailer remembers which rows a tail sent.
type tailer struct {
	h    *Handler
	high int64          // highest id sent, or the starting point
	low  int64          // ids at or below low are never sent
	seen map[int64]bool // ids sent above low

	started bool
}

// poll returns the rows not sent yet, in id order.
func (t *tailer) poll(ctx context.Context) ([]LogRow, error) {
	if !t.started {
		// Nothing at or below where the client asked is sent.
		t.started, t.low = true, t.high
	}
	from := max(t.low, t.high-tailLookback)
	w := &where{d: t.h.d}
	w.add("id > ?", from)
	q := "SELECT " + logColumns + " FROM accesslog" + w.String() + fmt.Sprintf(" ORDER BY id LIMIT %d", tailBatch+len(t.seen))
	rows, err := t.h.db.QueryContext(ctx, q, w.args...)
	if err != nil {
		return nil, fmt.Errorf("tail: %w", err)
	}
	defer rows.Close()
	var out []LogRow
	for rows.Next() {
		r, err := scanLogRow(rows)
		if err != nil {
			return nil, fmt.Errorf("tail: %w", err)
		}
		if t.seen[r.ID] {
			continue
		}
		t.seen[r.ID] = true
		out = append(out, r)
		t.high = max(t.high, r.ID)
		if len(out) == tailBatch {
			break
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("tail: %w", err)
	}
	// Forget what fell out of the window.
	floor := t.high - tailLookback
	if floor > t.low {
		t.low = floor
		for id := range t.seen {
			if id <= floor {
				delete(t.seen, id)
			}
		}
	}
	return out, nil
}
