package fakefault

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestSleep(t *testing.T) {
	if !Sleep(context.Background(), time.Millisecond) {
		t.Error("a wait that passed reports false")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Sleep(ctx, time.Hour) {
		t.Error("a wait whose context ended reports true")
	}
	f := New(5)
	if !f.WaitDelay(ctx) {
		t.Error("WaitDelay without x-fake-delay reports false")
	}
	f.Delay = time.Hour
	if f.WaitDelay(ctx) {
		t.Error("WaitDelay whose context ended reports true")
	}
}

// serve runs h under a real server, which Abort needs, and returns its URL.
func serve(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func get(t *testing.T, url string) (string, error) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestWriteBody(t *testing.T) {
	const body = "0123456789"
	tests := []struct {
		cutAfter int
		want     string
		cut      bool
	}{
		{-1, body, false},
		{0, "", true},
		{4, "0123", true},
		{10, body, false},
		{11, body, false},
	}
	for _, tt := range tests {
		f := New(5)
		f.CutAfter = tt.cutAfter
		if f.Cuts(len(body)) != tt.cut {
			t.Errorf("cut after %d: Cuts = %v", tt.cutAfter, !tt.cut)
		}
		url := serve(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "10")
			w.WriteHeader(http.StatusOK)
			f.WriteBody(w, []byte(body))
		})
		got, err := get(t, url)
		if got != tt.want || (err != nil) != tt.cut {
			t.Errorf("cut after %d: got %q, %v; want %q, cut %v", tt.cutAfter, got, err, tt.want, tt.cut)
		}
	}
}

func TestStream(t *testing.T) {
	events := []string{"data: 1\n\n", "data: 2\n\n", "data: 3\n\n"}
	tests := []struct {
		cutAfter int
		want     string
	}{
		{-1, strings.Join(events, "")},
		{3, strings.Join(events, "")},
		{1, events[0]},
		{0, ""},
	}
	for _, tt := range tests {
		f := New(5)
		f.CutAfter, f.ChunkDelay = tt.cutAfter, time.Millisecond
		url := serve(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			s := f.StartStream(r.Context(), w)
			for i, ev := range events {
				if err := s.Send([]byte(ev)); err != nil {
					t.Errorf("Send: %v", err)
				}
				if s.Sent() != i+1 {
					t.Errorf("Sent = %d after %d events", s.Sent(), i+1)
				}
			}
		})
		got, err := get(t, url)
		cut := tt.cutAfter >= 0 && tt.cutAfter < len(events)
		if got != tt.want || (err != nil) != cut {
			t.Errorf("cut after %d: got %q, %v; want %q, cut %v", tt.cutAfter, got, err, tt.want, cut)
		}
	}
}

// TestStreamClientGone checks that StartStream flushes the headers before
// any event, and that a client that goes away ends the wait between two
// events.
func TestStreamClientGone(t *testing.T) {
	sendErr := make(chan error, 1)
	started := make(chan struct{})
	f := New(5)
	f.ChunkDelay = time.Hour
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		s := f.StartStream(r.Context(), w)
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Error("the client did not get the headers of the stream")
		}
		if err := s.SendBuffered([]byte("data: 1\n\n")); err != nil || s.Sent() != 1 {
			t.Errorf("SendBuffered: %v, sent %d", err, s.Sent())
		}
		s.Flush()
		sendErr <- s.Send([]byte("data: 2\n\n"))
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	close(started)
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "data: 1\n" {
		t.Fatalf("first event %q, %v", line, err)
	}
	cancel()
	select {
	case err := <-sendErr:
		if !errors.Is(err, ErrClientGone) {
			t.Errorf("Send after the client went away: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Send still waits after the client went away")
	}
}
