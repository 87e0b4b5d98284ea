package fakefault

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

func TestRecorder(t *testing.T) {
	var rc Recorder[int]
	if rc.Requests() != nil || rc.Hits() != 0 {
		t.Fatalf("zero value: %v, %d hits", rc.Requests(), rc.Hits())
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			rc.Hit()
			if i%2 == 0 {
				rc.Record(i)
			}
		})
	}
	wg.Wait()
	got := rc.Requests()
	if rc.Hits() != 8 || len(got) != 4 {
		t.Fatalf("%d hits, requests %v", rc.Hits(), got)
	}
	got[0] = -1
	if rc.Requests()[0] == -1 {
		t.Error("Requests does not return a copy")
	}
	rc.Reset()
	if rc.Requests() != nil || rc.Hits() != 0 {
		t.Errorf("after Reset: %v, %d hits", rc.Requests(), rc.Hits())
	}
}

func TestNewRecorded(t *testing.T) {
	r := httptest.NewRequest("POST", "/v1/chat?x=1", nil)
	r.Header.Set("Authorization", "Bearer k")
	rec := NewRecorded(r, []byte("body"))
	r.Header.Set("Authorization", "changed")
	if rec.Method != "POST" || rec.Path != "/v1/chat" || rec.RawQuery != "x=1" || string(rec.Body) != "body" ||
		rec.Header.Get("Authorization") != "Bearer k" {
		t.Errorf("got %+v", rec)
	}
}

func TestNotify(t *testing.T) {
	r := httptest.NewRequest("POST", "/", strings.NewReader("consumed"))
	_, _ = io.ReadAll(r.Body)
	Notify(nil, r, []byte("body")) // no callback: nothing to do
	var seen string
	Notify(func(r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		seen = string(b)
	}, r, []byte("body"))
	if seen != "body" {
		t.Errorf("the callback read %q", seen)
	}
}
