package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/internal/fakeanthropic"
	"github.com/aiproxy-go/aiproxy/internal/fakeazure"
	"github.com/aiproxy-go/aiproxy/internal/fakebedrock"
	"github.com/aiproxy-go/aiproxy/internal/fakegemini"
	"github.com/aiproxy-go/aiproxy/internal/fakeupstream"
)

// TestMain lets a test run this very binary as the aiproxy command, to send it real signals.
func TestMain(m *testing.M) {
	if os.Getenv("AIPROXY_RUN_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

func TestVersionAndHelp(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"version"}, &out, &errOut); err != nil || !strings.Contains(out.String(), aiproxy.Version) {
		t.Fatalf("version: %q %v", out.String(), err)
	}
	out.Reset()
	err := run(context.Background(), []string{"--help"}, &out, &errOut)
	if err == nil {
		t.Fatal("--help returned no error")
	}
	for _, flag := range []string{"--openai-api-key", "--openai-base-url", "--db", "--max-retries", "--max-body-size", "--config", "--host", "--port", "--stream-idle-timeout", "--connect-timeout", "--response-header-timeout"} {
		if !strings.Contains(errOut.String(), flag+"\n") {
			t.Errorf("--help does not explain %s", flag)
		}
	}
}

func TestFlagsAndConfig(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "aiproxy.yaml")
	t.Setenv("TEST_KEY", "sk-from-env-file")
	t.Setenv("OPENAI_API_KEY", "sk-from-env")
	os.WriteFile(cfgPath, []byte("listen: 127.0.0.1:9001\ndatabase: x.db\nmax_retries: 2\nproviders:\n  openai:\n    api_key: ${TEST_KEY}\n    base_url: http://127.0.0.1:1/v1\ntimeouts:\n  stream_idle: 7s\n"), 0o600)

	cfg, err := parseFlags([]string{"--config", cfgPath, "--port", "9002", "--connection_str", "y.db"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:9002" || cfg.Database != "y.db" || cfg.MaxRetries != 2 || cfg.Providers.OpenAI.APIKey != "sk-from-env-file" || time.Duration(cfg.Timeouts.StreamIdle) != 7*time.Second {
		t.Fatalf("config %+v %+v", cfg, cfg.Providers.OpenAI)
	}
	cfg, err = parseFlags([]string{"--openai_api_key", "sk-flag", "--host", "0.0.0.0"}, io.Discard)
	if err != nil || cfg.Providers.OpenAI.APIKey != "sk-flag" || cfg.Listen != "0.0.0.0:8000" || cfg.Database != "aiproxy.db" {
		t.Fatalf("flags: %+v %v", cfg, err)
	}
	cfg, _ = parseFlags(nil, io.Discard)
	if cfg.Providers.OpenAI.APIKey != "sk-from-env" {
		t.Fatalf("env key not used: %q", cfg.Providers.OpenAI.APIKey)
	}

	os.WriteFile(cfgPath, []byte("listen: 127.0.0.1:9001\nlisten_typo: 1\n"), 0o600)
	if _, err := parseFlags([]string{"--config", cfgPath}, io.Discard); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("unknown key error %v does not name its line", err)
	}
	if _, err := parseFlags([]string{"--max-retries", "x"}, io.Discard); err == nil {
		t.Fatal("bad flag value accepted")
	}
}

// TestGracefulDrain stops the proxy with SIGTERM in the middle of a load and checks that
// every request that got an answer has its rows.
func TestGracefulDrain(t *testing.T) {
	fake := fakeupstream.NewOpenAI(fakeupstream.OpenAIOptions{APIKey: "sk-up"})
	up := httptest.NewServer(fake)
	defer up.Close()
	dir := t.TempDir()
	db := filepath.Join(dir, "aiproxy.db")

	jsonl := filepath.Join(dir, "aiproxy.jsonl")
	cmd := exec.Command(os.Args[0], "--port", "0", "--db", db, "--log-jsonl", jsonl, "--openai-api-key", "sk-up", "--openai-base-url", up.URL+"/v1")
	cmd.Env = append(os.Environ(), "AIPROXY_RUN_MAIN=1")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	addrRe := regexp.MustCompile(`addr=http://(\S+)`)
	sc := bufio.NewScanner(stderr)
	var addr string
	var logLines []string
	for sc.Scan() {
		logLines = append(logLines, sc.Text())
		if m := addrRe.FindStringSubmatch(sc.Text()); m != nil {
			addr = m[1]
			break
		}
	}
	if addr == "" {
		t.Fatalf("proxy did not start: %s", strings.Join(logLines, "\n"))
	}
	go func() {
		for sc.Scan() {
		}
	}()

	var wg sync.WaitGroup
	var mu sync.Mutex
	answered := 0
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf(`{"model":"m","stream":%v,"messages":[{"role":"user","content":"n%d"}]}`, i%2 == 0, i)
			req, _ := http.NewRequest("POST", "http://"+addr+"/v1/chat/completions", strings.NewReader(body))
			req.Header.Set("x-fake-chunk-delay", "10ms")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode == 200 && len(b) > 0 {
				mu.Lock()
				answered++
				mu.Unlock()
			}
		}()
	}
	// Signal while requests are in flight.
	deadline := time.Now().Add(5 * time.Second)
	for fake.Hits() < 10 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("proxy exit: %v", err)
	}
	if answered == 0 {
		t.Fatal("no request answered")
	}
	conn, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var complete int
	if err := conn.QueryRow(`SELECT COUNT(*) FROM (SELECT request_id FROM accesslog GROUP BY request_id HAVING SUM(direction='request')=1 AND SUM(direction='response')=1)`).Scan(&complete); err != nil {
		t.Fatal(err)
	}
	if complete != answered {
		t.Fatalf("%d requests answered, %d have both rows", answered, complete)
	}
	var rows int
	if err := conn.QueryRow(`SELECT COUNT(*) FROM accesslog`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	lines, err := os.ReadFile(jsonl)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(lines, []byte("\n")); n != rows {
		t.Fatalf("jsonl sink has %d lines, database %d rows", n, rows)
	}
}

// TestServeH2C sends a stream over HTTP/2 cleartext (prior knowledge) and one over HTTP/1.1
// to the same port.
func TestServeH2C(t *testing.T) {
	fake := fakeupstream.NewOpenAI(fakeupstream.OpenAIOptions{})
	up := httptest.NewServer(fake)
	defer up.Close()
	cfg, err := parseFlags([]string{"--port", "0", "--db", filepath.Join(t.TempDir(), "a.db"), "--openai-base-url", up.URL + "/v1"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, io.Discard, func(a string) { addrc <- a }) }()
	addr := <-addrc
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	h2 := &http.Transport{Protocols: new(http.Protocols)}
	h2.Protocols.SetUnencryptedHTTP2(true)
	for name, client := range map[string]*http.Client{"h2c": {Transport: h2}, "http1": http.DefaultClient} {
		req, _ := http.NewRequest("POST", "http://"+addr+"/v1/chat/completions",
			strings.NewReader(`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		wantMajor := map[string]int{"h2c": 2, "http1": 1}[name]
		if err != nil || resp.ProtoMajor != wantMajor || !strings.HasSuffix(string(body), "data: [DONE]\n\n") {
			t.Fatalf("%s: proto %s, err %v, body %q", name, resp.Proto, err, body)
		}
	}
}

// TestAllProvidersOnePort configures every provider in one YAML file and calls each through
// the same port, then checks the rows name the right provider.
func TestAllProvidersOnePort(t *testing.T) {
	oa := fakeupstream.NewOpenAI(fakeupstream.OpenAIOptions{APIKey: "sk-oa"})
	groq := fakeupstream.NewOpenAI(fakeupstream.OpenAIOptions{APIKey: "gsk-groq"})
	az := fakeazure.New(fakeazure.Options{APIKey: "az-key"})
	an := fakeanthropic.New(fakeanthropic.Options{APIKey: "sk-ant"})
	br := fakebedrock.New(fakebedrock.Options{AccessKeyID: "AKIDPROXY", SecretAccessKey: "proxy-secret", Region: "us-east-1"})
	gm := fakegemini.New(fakegemini.Options{APIKey: "gm-key"})
	urls := map[string]string{}
	for name, h := range map[string]http.Handler{"oa": oa, "groq": groq, "az": az, "an": an, "br": br, "gm": gm} {
		s := httptest.NewServer(h)
		defer s.Close()
		urls[name] = s.URL
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "aiproxy.yaml")
	yaml := fmt.Sprintf(`listen: 127.0.0.1:0
database: %s
providers:
  openai: {api_key: sk-oa, base_url: %s/v1}
  azure: {endpoint: %s, api_key: az-key}
  anthropic: {api_key: sk-ant, base_url: %s}
  bedrock: {region: us-east-1, endpoint: %s, access_key_id: AKIDPROXY, secret_access_key: proxy-secret}
  gemini: {api_key: gm-key, base_url: %s}
  openai_compatible:
    - {name: groq, base_url: %s/v1, api_key: gsk-groq}
`, filepath.Join(dir, "a.db"), urls["oa"], urls["az"], urls["an"], urls["br"], urls["gm"], urls["groq"])
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := parseFlags([]string{"--config", cfgPath}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, io.Discard, func(a string) { addrc <- a }) }()
	base := "http://" + <-addrc

	chat := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`
	calls := []struct {
		provider, path, body string
		header               []string
		hits                 func() int
	}{
		{"openai", "/v1/chat/completions", chat, nil, oa.Hits},
		{"groq", "/groq/v1/chat/completions", chat, nil, groq.Hits},
		{"azure", "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21", chat, []string{"api-key", "client"}, az.Hits},
		{"anthropic", "/v1/messages", `{"model":"claude-sonnet-4-5","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}`, []string{"anthropic-version", "2023-06-01", "x-api-key", "client"}, an.Hits},
		{"bedrock", "/model/anthropic.claude-3-5-sonnet-20240620-v1:0/converse", `{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`, nil, br.Hits},
		{"gemini", "/v1beta/models/gemini-2.5-flash:generateContent", `{"contents":[{"parts":[{"text":"hi"}]}]}`, []string{"x-goog-api-key", "client"}, gm.Hits},
	}
	ids := map[string]string{}
	for _, c := range calls {
		req, _ := http.NewRequest("POST", base+c.path, strings.NewReader(c.body))
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(c.header); i += 2 {
			req.Header.Set(c.header[i], c.header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || c.hits() != 1 {
			t.Errorf("%s: status %d, upstream hits %d: %s", c.provider, resp.StatusCode, c.hits(), b)
		}
		ids[c.provider] = resp.Header.Get(aiproxy.HeaderRequestID)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	conn, err := sql.Open("sqlite", filepath.Join(dir, "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for prov, id := range ids {
		var got string
		var n int
		if err := conn.QueryRow(`SELECT MIN(provider), COUNT(*) FROM accesslog WHERE request_id = ? AND direction = 'response'`, id).Scan(&got, &n); err != nil || got != prov || n != 1 {
			t.Errorf("%s: logged provider %q (%d rows, %v)", prov, got, n, err)
		}
	}
}

func TestRefusesUpstreamPointingAtItself(t *testing.T) {
	cfg, err := parseFlags([]string{"--port", "18377", "--db", filepath.Join(t.TempDir(), "a.db"), "--anthropic-base-url", "http://localhost:18377"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	err = serve(context.Background(), cfg, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "own address") {
		t.Fatalf("serve = %v", err)
	}
}

// TestServePostgres logs into PostgreSQL through --db, as several instances would.
func TestServePostgres(t *testing.T) {
	dsn := os.Getenv("AIPROXY_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("AIPROXY_TEST_POSTGRES not set")
	}
	up := httptest.NewServer(fakeupstream.NewOpenAI(fakeupstream.OpenAIOptions{}))
	defer up.Close()
	var ids []string
	for instance := range 2 {
		cfg, err := parseFlags([]string{"--port", "0", "--connection_str", dsn, "--openai-base-url", up.URL + "/v1"}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		addrc := make(chan string, 1)
		done := make(chan error, 1)
		go func() { done <- serve(ctx, cfg, io.Discard, func(a string) { addrc <- a }) }()
		var addr string
		select {
		case addr = <-addrc:
		case err := <-done:
			t.Fatalf("instance %d: %v", instance, err)
		}
		resp, err := http.Post("http://"+addr+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"pg"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		ids = append(ids, resp.Header.Get(aiproxy.HeaderRequestID))
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, id := range ids {
		var n int
		var content string
		if err := db.QueryRow(`SELECT COUNT(*), MAX(CASE WHEN direction = 'response' THEN content END) FROM accesslog WHERE request_id = $1`, id).Scan(&n, &content); err != nil {
			t.Fatal(err)
		}
		if n != 2 || content != "Hello! You said: pg" {
			t.Errorf("request %s: %d rows, content %q", id, n, content)
		}
	}
}

func TestPruneCommand(t *testing.T) {
	db := filepath.Join(t.TempDir(), "a.db")
	store, err := accesslog.OpenSQLite(db)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	store.Insert(context.Background(), []*accesslog.Record{
		{RequestID: "old", CreatedAt: now.Add(-100 * 24 * time.Hour), Direction: "request", Content: "old"},
		{RequestID: "mid", CreatedAt: now.Add(-10 * 24 * time.Hour), Direction: "request", Content: "mid"},
		{RequestID: "new", CreatedAt: now, Direction: "request", Content: "new"},
	})
	store.Close()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"prune", "--db", db, "--older-than", "90d", "--content-older-than", "7d"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "deleted 1 rows") || !strings.Contains(out.String(), "blanked the content of 2 rows") {
		t.Fatalf("prune said %q", out.String())
	}
	store, _ = accesslog.OpenSQLite(db)
	defer store.Close()
	for id, want := range map[string]string{"old": "-", "mid": "", "new": "new"} {
		recs, _ := store.Records(context.Background(), id, "")
		got := "-"
		if len(recs) == 1 {
			got = recs[0].Content
		}
		if got != want {
			t.Errorf("%s: content %q, want %q", id, got, want)
		}
	}
	if err := run(context.Background(), []string{"prune", "--db", db}, io.Discard, io.Discard); err == nil {
		t.Error("prune without an age succeeded")
	}
}

func TestLogsCommand(t *testing.T) {
	dbs := map[string]string{"sqlite": filepath.Join(t.TempDir(), "a.db")}
	if dsn := os.Getenv("AIPROXY_TEST_POSTGRES"); dsn != "" {
		dbs["postgres"] = dsn
	}
	for name, db := range dbs {
		t.Run(name, func(t *testing.T) {
			store, err := accesslog.Open(db)
			if err != nil {
				t.Fatal(err)
			}
			id := fmt.Sprintf("logs-%s-%d", name, time.Now().UnixNano())
			now := time.Now()
			err = store.Insert(context.Background(), []*accesslog.Record{
				{RequestID: id, CreatedAt: now.Add(-48 * time.Hour), Direction: "request", Model: "gpt-4o", Content: "old question"},
				{RequestID: id, CreatedAt: now, Direction: "request", Model: "gpt-4o", Content: "new question"},
				{RequestID: id, CreatedAt: now, Direction: "response", StatusCode: 200, Model: "gpt-4o", Content: "an answer\nover lines", PromptTokens: 5, CompletionTokens: 7, CostUSD: 0.25},
			})
			store.Close()
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if err := run(context.Background(), []string{"logs", "--db", db, "--request-id", id, "--since", "1d"}, &out, io.Discard); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(lines) != 3 || !strings.Contains(lines[1], "an answer over lines") || !strings.Contains(lines[1], "5/7") || !strings.Contains(lines[2], "new question") {
				t.Fatalf("table:\n%s", out.String())
			}
			out.Reset()
			if err := run(context.Background(), []string{"logs", "--db", db, "--request-id", id, "--status", "200", "--json"}, &out, io.Discard); err != nil {
				t.Fatal(err)
			}
			var r logRow
			if err := json.Unmarshal(out.Bytes(), &r); err != nil || r.CostUSD != 0.25 || r.Direction != "response" || r.CreatedAt == "" {
				t.Fatalf("json %q: %+v %v", out.String(), r, err)
			}
		})
	}
}
