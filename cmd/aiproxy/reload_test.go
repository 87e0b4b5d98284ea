package main

import (
	"bufio"
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

	"github.com/aiproxy-go/aiproxy/internal/fakeupstream"
)

// process is the aiproxy binary (this test binary, re-executed) running with a config file.
type process struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string
	mu   sync.Mutex
	logs []string
	news chan struct{}
}

func startProcess(t *testing.T, args ...string) *process {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "AIPROXY_RUN_MAIN=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pr := &process{t: t, cmd: cmd, news: make(chan struct{}, 1)}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
		}
	})
	addrc := make(chan string, 1)
	go func() {
		addrRe := regexp.MustCompile(`addr=http://(\S+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			pr.mu.Lock()
			pr.logs = append(pr.logs, line)
			pr.mu.Unlock()
			select {
			case pr.news <- struct{}{}:
			default:
			}
			if m := addrRe.FindStringSubmatch(line); m != nil {
				addrc <- m[1]
			}
		}
		close(addrc)
	}()
	select {
	case a, ok := <-addrc:
		if !ok {
			t.Fatalf("aiproxy exited before listening:\n%s", pr.log())
		}
		pr.addr = a
	case <-time.After(30 * time.Second):
		t.Fatalf("aiproxy did not start:\n%s", pr.log())
	}
	return pr
}

func (pr *process) log() string {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return strings.Join(pr.logs, "\n")
}

// waitLog waits until the log has n lines containing sub.
func (pr *process) waitLog(sub string, n int) {
	pr.t.Helper()
	deadline := time.After(20 * time.Second)
	for strings.Count(pr.log(), sub) < n {
		select {
		case <-pr.news:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			pr.t.Fatalf("no %q in the log:\n%s", sub, pr.log())
		}
	}
}

// chat sends a chat completion with the key and user and returns the status and body.
func (pr *process) chat(key, user string) (int, string) {
	pr.t.Helper()
	body := fmt.Sprintf(`{"model":"gpt-4o-mini","user":%q,"messages":[{"role":"user","content":"hi"}]}`, user)
	req, _ := http.NewRequest(http.MethodPost, "http://"+pr.addr+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		pr.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

const reloadConfigTemplate = `listen: 127.0.0.1:0
database: %s
providers:
  openai:
    api_key: sk-upstream-0123456789
    base_url: %s/v1
client_keys:
  - name: team-a
    key: %s
filters:
  - ban_users: {users: [%s], message: "you can't use this service"}
`

func TestSIGHUPReloadsKeysAndFilters(t *testing.T) {
	fake := fakeupstream.NewOpenAI(fakeupstream.OpenAIOptions{APIKey: "sk-upstream-0123456789"})
	up := httptest.NewServer(fake)
	defer up.Close()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "aiproxy.yaml")
	write := func(text string) {
		if err := os.WriteFile(cfgPath, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	db := filepath.Join(dir, "aiproxy.db")
	write(fmt.Sprintf(reloadConfigTemplate, db, up.URL, "sk-team-a-old-0123", "uezo"))
	pr := startProcess(t, "--config", cfgPath)

	if code, body := pr.chat("", "alice"); code != http.StatusUnauthorized || !strings.Contains(body, `"error"`) {
		t.Fatalf("no key: %d %s", code, body)
	}
	if code, body := pr.chat("sk-team-a-old-0123", "alice"); code != http.StatusOK {
		t.Fatalf("valid key: %d %s", code, body)
	}
	if code, body := pr.chat("sk-team-a-old-0123", "uezo"); code != http.StatusForbidden || !strings.Contains(body, "you can't use this service") {
		t.Fatalf("banned user: %d %s", code, body)
	}

	// A new key and a new ban, while requests keep coming.
	write(fmt.Sprintf(reloadConfigTemplate, db, up.URL, "sk-team-a-new-4567", "bob"))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var failed sync.Map
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 200; i++ {
			select {
			case <-stop:
				return
			default:
			}
			// One of the two keys is valid at any moment: nothing but 200 or 401 may come back.
			key := []string{"sk-team-a-old-0123", "sk-team-a-new-4567"}[i%2]
			if code, body := pr.chat(key, "carol"); code != http.StatusOK && code != http.StatusUnauthorized {
				failed.Store(i, fmt.Sprintf("%d %s", code, body))
			}
		}
	}()
	if err := pr.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	pr.waitLog("config reloaded", 1)
	close(stop)
	wg.Wait()
	failed.Range(func(k, v any) bool { t.Errorf("request %v during the reload: %v", k, v); return true })

	if code, _ := pr.chat("sk-team-a-old-0123", "alice"); code != http.StatusUnauthorized {
		t.Fatalf("rotated-out key: %d", code)
	}
	if code, body := pr.chat("sk-team-a-new-4567", "alice"); code != http.StatusOK {
		t.Fatalf("new key: %d %s", code, body)
	}
	if code, _ := pr.chat("sk-team-a-new-4567", "bob"); code != http.StatusForbidden {
		t.Fatalf("newly banned user: %d", code)
	}
	if code, _ := pr.chat("sk-team-a-new-4567", "uezo"); code != http.StatusOK {
		t.Fatalf("user no longer banned: %d", code)
	}

	// An invalid file is refused with its error; the running configuration stays.
	write("client_keys:\n  - name: x\n    key: k\n    colour: red\n")
	if err := pr.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	pr.waitLog("config reload refused", 1)
	if !strings.Contains(pr.log(), "colour") {
		t.Fatalf("the refusal does not say what is wrong:\n%s", pr.log())
	}
	if code, body := pr.chat("sk-team-a-new-4567", "alice"); code != http.StatusOK {
		t.Fatalf("after a refused reload: %d %s", code, body)
	}
	if strings.Contains(pr.log(), "sk-team-a-new-4567") || strings.Contains(pr.log(), "sk-upstream-0123456789") {
		t.Fatal("a key reached the proxy's log")
	}
}
