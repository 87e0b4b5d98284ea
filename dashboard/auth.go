package dashboard

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"html/template"
	"net/http"
	"strings"
)

// sessionCookie is the cookie the login form sets.
const sessionCookie = "aiproxy_dashboard"

// sessionValue is the cookie's value: a MAC of a fixed label under the admin token, so the
// cookie proves the token was known without holding the token itself. Changing the token ends
// every session.
func (h *Handler) sessionValue() string {
	m := hmac.New(sha256.New, []byte(h.opts.AdminToken))
	m.Write([]byte("aiproxy dashboard session v1"))
	return hex.EncodeToString(m.Sum(nil))
}

// allowed reports whether r carries the admin token, as a bearer token or a session cookie.
// Without a configured token everything is allowed.
func (h *Handler) allowed(r *http.Request) bool {
	if h.opts.AdminToken == "" {
		return true
	}
	if auth := r.Header.Get("Authorization"); auth != "" {
		scheme, tok, ok := strings.Cut(auth, " ")
		if ok && strings.EqualFold(scheme, "Bearer") && equalSecret(strings.TrimSpace(tok), h.opts.AdminToken) {
			return true
		}
	}
	if c, err := r.Cookie(sessionCookie); err == nil && equalSecret(c.Value, h.sessionValue()) {
		return true
	}
	return false
}

// equalSecret compares in time independent of where the strings differ.
func equalSecret(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// authorized answers 401 to a request without the admin token.
func (h *Handler) authorized(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !h.allowed(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="aiproxy dashboard"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "admin token required"})
			return
		}
		next(w, r)
	}
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>AIProxy dashboard: sign in</title><link rel="stylesheet" href="{{.Prefix}}/static/style.css"></head>
<body class="login"><form method="post" action="{{.Prefix}}/login" class="card login-form">
<h1>AIProxy</h1>
<label for="token">Admin token</label>
<input id="token" name="token" type="password" autocomplete="current-password" autofocus required>
{{if .Failed}}<p class="error" id="login-error">That token is not the admin token.</p>{{end}}
<button type="submit">Sign in</button>
</form></body></html>
`))

// loginForm shows the form that asks for the admin token.
func (h *Handler) loginForm(w http.ResponseWriter, r *http.Request) {
	if h.opts.AdminToken == "" {
		http.Redirect(w, r, h.opts.Prefix+"/", http.StatusSeeOther)
		return
	}
	h.renderLogin(w, http.StatusOK, false)
}

func (h *Handler) renderLogin(w http.ResponseWriter, status int, failed bool) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	loginPage.Execute(w, struct {
		Prefix string
		Failed bool
	}{h.opts.Prefix, failed})
}

// login checks the submitted token and sets the session cookie.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	if h.opts.AdminToken == "" {
		http.Redirect(w, r, h.opts.Prefix+"/", http.StatusSeeOther)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if err := r.ParseForm(); err != nil || !equalSecret(r.PostForm.Get("token"), h.opts.AdminToken) {
		h.renderLogin(w, http.StatusUnauthorized, true)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookie,
		Value:    h.sessionValue(),
		Path:     h.cookiePath(),
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteStrictMode,
	})
	http.Redirect(w, r, h.opts.Prefix+"/", http.StatusSeeOther)
}

// logout clears the session cookie.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: "", Path: h.cookiePath(), MaxAge: -1,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
	http.Redirect(w, r, h.opts.Prefix+"/login", http.StatusSeeOther)
}

func (h *Handler) cookiePath() string {
	if h.opts.Prefix == "" {
		return "/"
	}
	return h.opts.Prefix + "/"
}
