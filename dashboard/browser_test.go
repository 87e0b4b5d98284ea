package dashboard_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/aiproxy-go/aiproxy/dashboard"
)

const chromiumPath = "/usr/bin/chromium"

// browser starts headless Chromium, or skips the test when it is missing (fails when
// AIPROXY_TEST_BROWSER=1 says it must be there).
func browser(t *testing.T) context.Context {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("AIPROXY_TEST_BROWSER") == "1" {
			t.Fatalf("AIPROXY_TEST_BROWSER=1 but %s: %v", chromiumPath, err)
		}
		t.Skipf("no %s", chromiumPath)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	ctx, cancel3 := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancel3)
	return ctx
}

// artifacts is where screenshots go: $AIPROXY_TEST_ARTIFACTS, or a temporary directory.
func artifacts(t *testing.T) string {
	dir := os.Getenv("AIPROXY_TEST_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	dir = filepath.Join(dir, "dashboard")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

// js evaluates a JavaScript expression in the page and returns its value.
func js[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// open shows a page of the dashboard and waits until it has its data.
func open(t *testing.T, ctx context.Context, url, page string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.Query(`body[data-ready="`+page+`"]`)); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
}

// waitFor waits until a JavaScript expression is true.
func waitFor(t *testing.T, ctx context.Context, expr string) {
	t.Helper()
	for {
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(20*time.Second)))
		if err == nil {
			return
		}
		// A navigation replaced the page the poll ran in: poll the new one.
		if ctx.Err() == nil && (strings.Contains(err.Error(), "Cannot find context") || strings.Contains(err.Error(), "context was destroyed") || strings.Contains(err.Error(), "navigated or closed")) {
			continue
		}
		t.Fatalf("wait for %s: %v", expr, err)
	}
}

func TestBrowser(t *testing.T) {
	ctx := browser(t)
	const token = "browser-admin-token"
	e := newSQLiteEnv(t, dashboard.Options{AdminToken: token, Retention: 7 * 24 * time.Hour})
	e.fill()
	shots := artifacts(t)
	shot := func(name string) {
		t.Helper()
		buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ready := func(page string) string { return `document.body.dataset.ready === "` + page + `"` }
	x := expect(e.exchangeRows())

	// Signing in with the admin token leads to the overview.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.dashURL+"/"),
		chromedp.WaitVisible("#token"),
		chromedp.SendKeys("#token", token),
		chromedp.Submit("#token"),
	); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	waitFor(t, ctx, ready("overview"))

	t.Run("overview", func(t *testing.T) {
		for id, want := range map[string]int64{"requests": x.requests, "success": x.success, "client_4xx": x.c4,
			"server_5xx": x.c5, "input_tokens": x.in, "output_tokens": x.out} {
			got := js[string](t, ctx, `document.getElementById("kpi-`+id+`").dataset.value`)
			if got != strconv.FormatInt(want, 10) {
				t.Errorf("%s shows %s, rows say %d", id, got, want)
			}
		}
		for id, want := range map[string]float64{"cost_usd": x.cost, "avg_latency": x.avgRT} {
			got, _ := strconv.ParseFloat(js[string](t, ctx, `document.getElementById("kpi-`+id+`").dataset.value`), 64)
			if !closeTo(got, want, 1e-9) {
				t.Errorf("%s shows %v, rows say %v", id, got, want)
			}
		}
		text := js[string](t, ctx, `document.getElementById("kpi-requests").textContent`)
		bars := js[int](t, ctx, `document.querySelectorAll("#chart-requests rect").length`)
		groups := js[int](t, ctx, `document.querySelectorAll("#breakdown tbody tr").length`)
		shot("overview")
		if text != strconv.FormatInt(x.requests, 10) || bars == 0 || groups != 3 {
			t.Errorf("requests text %q, %d bars, %d models", text, bars, groups)
		}
		// Breaking down by user, then clicking a user, filters the figures.
		if err := chromedp.Do(ctx, chromedp.SetValue("#by", "user"), chromedp.Click("#apply")); err != nil {
			t.Fatal(err)
		}
		waitFor(t, ctx, ready("overview")+` && !!document.querySelector('#breakdown tr[data-key="bob"]')`)
		if err := chromedp.Do(ctx, chromedp.Click(`#breakdown tr[data-key="bob"]`)); err != nil {
			t.Fatal(err)
		}
		waitFor(t, ctx, ready("overview")+` && (document.body.dataset.route || "").includes("user=bob")`)
		bob := js[string](t, ctx, `document.getElementById("kpi-requests").dataset.value`)
		shot("overview-bob")
		n := 0
		for _, r := range e.exchangeRows() {
			if r.user == "bob" {
				n++
			}
		}
		if bob != strconv.Itoa(n) {
			t.Errorf("bob: %s requests, rows say %d", bob, n)
		}
	})

	t.Run("logs", func(t *testing.T) {
		open(t, ctx, e.dashURL+"/#/logs", "logs")
		rows := js[int](t, ctx, `document.querySelectorAll("#logs tbody tr").length`)
		shot("logs")
		if err := chromedp.Do(ctx, chromedp.SetValue("#l-status", "error"), chromedp.Click("#l-apply")); err != nil {
			t.Fatal(err)
		}
		waitFor(t, ctx, `(document.body.dataset.route || "").includes("status=error") && `+ready("logs"))
		errs := js[int](t, ctx, `document.querySelectorAll("#logs tbody tr").length`)
		if rows != len(traffic) || int64(errs) != x.c4+x.c5 {
			t.Errorf("%d rows and %d errors shown, want %d and %d", rows, errs, len(traffic), x.c4+x.c5)
		}
	})

	t.Run("request", func(t *testing.T) {
		id := e.ids[3] // a stream
		open(t, ctx, e.dashURL+"/#/request/"+id, "request")
		replay := js[string](t, ctx, `document.getElementById("replay").textContent`)
		chunks := js[int](t, ctx, `document.querySelectorAll("#chunk-timeline line.chunk").length`)
		out := js[string](t, ctx, `document.querySelector('[data-direction="response"] dd[data-field="output tokens"]').textContent`)
		shot("request")
		recs, err := e.store.Records(context.Background(), id, "response")
		if err != nil || len(recs) != 1 {
			t.Fatal(err, len(recs))
		}
		if chunks != len(recs[0].ChunkTimes) || out != strconv.Itoa(recs[0].CompletionTokens) {
			t.Errorf("%d chunks and %s output tokens shown, rows say %d and %d", chunks, out, len(recs[0].ChunkTimes), recs[0].CompletionTokens)
		}
		if want := "x-aiproxy-replay: " + id; !strings.Contains(replay, want) {
			t.Errorf("replay %q lacks %q", replay, want)
		}
	})

	t.Run("tail", func(t *testing.T) {
		var total int
		e.db.QueryRow("SELECT COUNT(*) FROM accesslog").Scan(&total)
		backlog := min(total, 50)
		open(t, ctx, e.dashURL+"/#/tail", "tail")
		waitFor(t, ctx, fmt.Sprintf(`document.getElementById("tail-count").textContent === "%d"`, backlog))
		id := e.send(traffic[0])
		e.settle(id)
		waitFor(t, ctx, fmt.Sprintf(`document.querySelector("#tail tbody tr").dataset.requestId === %q`, id))
		n := js[string](t, ctx, `document.getElementById("tail-count").textContent`)
		shot("tail")
		if n != strconv.Itoa(backlog+2) {
			t.Errorf("tail shows %s rows, want %d", n, backlog+2)
		}
	})

	t.Run("storage", func(t *testing.T) {
		var total int
		e.db.QueryRow("SELECT COUNT(*) FROM accesslog").Scan(&total)
		open(t, ctx, e.dashURL+"/#/storage", "storage")
		rows := js[string](t, ctx, `document.getElementById("st-rows").dataset.value`)
		retention := js[string](t, ctx, `document.getElementById("st-retention").textContent`)
		shot("storage")
		if rows != strconv.Itoa(total) || retention != "7 days" {
			t.Errorf("storage shows %s rows, retention %q; want %d, 7 days", rows, retention, total)
		}
	})
}
