package main

import (
	"net/http"
	"path/filepath"
	"regexp"
	"testing"
)

func getStatus(t *testing.T, url, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestDashboardMounted(t *testing.T) {
	db := filepath.Join(t.TempDir(), "aiproxy.db")
	t.Setenv("AIPROXY_ADMIN_TOKEN", "admin-token-0123456789")
	pr := startProcess(t, "--port", "0", "--db", db, "--openai-api-key", "sk-up")
	base := "http://" + pr.addr
	if code := getStatus(t, base+"/dashboard/api/storage", ""); code != http.StatusUnauthorized {
		t.Fatalf("dashboard API without the token: %d", code)
	}
	if code := getStatus(t, base+"/dashboard/api/storage", "admin-token-0123456789"); code != http.StatusOK {
		t.Fatalf("dashboard API with the token: %d", code)
	}
	if code := getStatus(t, base+"/healthz", ""); code != http.StatusOK {
		t.Fatalf("the proxy behind the dashboard's mux: %d", code)
	}
}

func TestDashboardOnAdminAddr(t *testing.T) {
	db := filepath.Join(t.TempDir(), "aiproxy.db")
	pr := startProcess(t, "--port", "0", "--db", db, "--openai-api-key", "sk-up", "--admin-addr", "127.0.0.1:0")
	pr.waitLog("dashboard listening", 1)
	m := regexp.MustCompile(`"dashboard listening" addr=http://(\S+?)/dashboard/`).FindStringSubmatch(pr.log())
	if m == nil {
		t.Fatalf("no admin address in the log:\n%s", pr.log())
	}
	if code := getStatus(t, "http://"+m[1]+"/dashboard/api/storage", ""); code != http.StatusOK {
		t.Fatalf("dashboard on the admin address: %d", code)
	}
	if code := getStatus(t, "http://"+pr.addr+"/dashboard/api/storage", ""); code != http.StatusNotFound {
		t.Fatalf("dashboard still on the proxy's address: %d", code)
	}
}

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8000": true, "[::1]:8000": true, "localhost:8000": true, "127.1.2.3:80": true,
		"0.0.0.0:8000": false, "[::]:8000": false, "10.0.0.5:8000": false, ":8000": false, "example.com:80": false, "nonsense": false,
	} {
		if got := loopback(addr); got != want {
			t.Errorf("loopback(%q) = %v", addr, got)
		}
	}
}
