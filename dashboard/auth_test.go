package dashboard_test

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/aiproxy-go/aiproxy/dashboard"
)

func TestAdminToken(t *testing.T) {
	const token = "admin-token-for-tests"
	e := newSQLiteEnv(t, dashboard.Options{AdminToken: token})
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(c *http.Client, path string, header ...string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, e.dashURL+path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}

	for _, path := range []string{"/api/overview", "/api/logs", "/api/logs/x", "/api/storage", "/api/tail"} {
		if st := get(noRedirect, path).StatusCode; st != http.StatusUnauthorized {
			t.Errorf("%s without token: %d", path, st)
		}
		if st := get(noRedirect, path, "Authorization", "Bearer wrong").StatusCode; st != http.StatusUnauthorized {
			t.Errorf("%s with a wrong token: %d", path, st)
		}
	}
	if st := get(noRedirect, "/api/storage", "Authorization", "Bearer "+token).StatusCode; st != http.StatusOK {
		t.Errorf("with the token: %d", st)
	}
	if resp := get(noRedirect, "/"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/dashboard/login" {
		t.Errorf("page without token: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// Scripts and styles hold no data and load on the login page.
	if st := get(noRedirect, "/static/app.js").StatusCode; st != http.StatusOK {
		t.Errorf("app.js: %d", st)
	}

	// The login form: a wrong token is refused, the right one sets a session cookie.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: noRedirect.CheckRedirect}
	post := func(tok string) *http.Response {
		resp, err := browser.PostForm(e.dashURL+"/login", url.Values{"token": {tok}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if st := post("guess").StatusCode; st != http.StatusUnauthorized {
		t.Errorf("wrong token: %d", st)
	}
	resp := post(token)
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "aiproxy_dashboard" {
			session = c
		}
	}
	if resp.StatusCode != http.StatusSeeOther || session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode ||
		strings.Contains(session.Value, token) || session.Path != "/dashboard/" {
		t.Fatalf("login: %d, cookie %+v", resp.StatusCode, session)
	}
	if st := get(browser, "/api/storage").StatusCode; st != http.StatusOK {
		t.Errorf("with the session cookie: %d", st)
	}
	if st := get(browser, "/").StatusCode; st != http.StatusOK {
		t.Errorf("page with the session cookie: %d", st)
	}
	// Sign out clears it.
	r, err := browser.Post(e.dashURL+"/logout", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if st := get(browser, "/api/storage").StatusCode; st != http.StatusUnauthorized {
		t.Errorf("after sign out: %d", st)
	}
}

func TestOpenWithoutToken(t *testing.T) {
	e := newSQLiteEnv(t, dashboard.Options{})
	resp, err := http.Get(e.dashURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/dashboard/" {
		t.Errorf("GET /dashboard: %d at %s", resp.StatusCode, resp.Request.URL.Path)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("content security policy %q", csp)
	}
}
