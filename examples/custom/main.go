// Command custom is a custom AIProxy entrypoint: the Go version of the original AIProxy's
// run.py. It adds a banned-user filter, a model overwrite filter, the replay filter and a
// custom log column, then serves on 127.0.0.1:8080.
//
//	OPENAI_API_KEY=sk-... go run ./examples/custom
package main

import (
	"context"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/aiproxy-go/aiproxy"
	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/filters"
	"github.com/aiproxy-go/aiproxy/provider"
	"github.com/aiproxy-go/aiproxy/provider/openai"
)

// BannedUsers answers banned users itself, as the original's BannedUserFilter did.
type BannedUsers struct{ Users []string }

var _ aiproxy.RequestFilter = (*BannedUsers)(nil)

// FilterRequest replies instead of the upstream for a missing or banned user.
func (f *BannedUsers) FilterRequest(ctx context.Context, x *aiproxy.Exchange) (*aiproxy.Reply, error) {
	user := x.User()
	if user == "" {
		return &aiproxy.Reply{Text: "user is required"}, nil
	}
	for _, banned := range f.Users {
		if user == banned {
			return &aiproxy.Reply{Text: "you can't use this service"}, nil
		}
	}
	return nil, nil
}

// ModelOverwrite forces every request onto one model family, as the original's
// ModelOverwriteFilter did.
type ModelOverwrite struct{ Prefix, Model string }

// FilterRequest rewrites the model of the request body.
func (f *ModelOverwrite) FilterRequest(ctx context.Context, x *aiproxy.Exchange) (*aiproxy.Reply, error) {
	if x.Model() == "" || strings.HasPrefix(x.Model(), f.Prefix) {
		return nil, nil
	}
	body, err := x.JSON()
	if err != nil {
		return nil, err
	}
	log.Printf("change model from %s to %s", x.Model(), f.Model)
	body["model"] = f.Model
	return nil, x.SetJSON(body)
}

// appUser is a custom log column: the application's user id from the x-user-id header,
// else the request's user field. (The original needed a custom column for the user; the
// user column is built in here, so this one shows the mechanism on a header.)
var appUser = accesslog.Column{
	Name: "app_user",
	Type: accesslog.Text,
	Value: func(r *accesslog.Record) any {
		if r.Direction != accesslog.DirectionRequest {
			return nil
		}
		if id := r.RawHeaders.Get("X-User-Id"); id != "" {
			return id
		}
		return r.User
	},
}

// newProxy builds the customised proxy over the store.
func newProxy(store accesslog.Store, apiKey, baseURL string) (*aiproxy.Proxy, error) {
	p, err := aiproxy.New(aiproxy.Options{
		Providers: []provider.Provider{openai.New(openai.Options{APIKey: apiKey, BaseURL: baseURL})},
		Store:     store,
		Writer:    accesslog.WriterOptions{Columns: []accesslog.Column{appUser}},
		Secrets:   []string{apiKey},
	})
	if err != nil {
		return nil, err
	}
	for _, f := range []any{
		&filters.Replay{Source: p},
		&BannedUsers{Users: []string{"uezo"}},
		&ModelOverwrite{Prefix: "gpt-4o-mini", Model: "gpt-4o-mini"},
	} {
		if err := p.AddFilter(f); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func main() {
	store, err := accesslog.OpenSQLite("aiproxy.db", appUser)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	p, err := newProxy(store, os.Getenv("OPENAI_API_KEY"), os.Getenv("OPENAI_BASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: p, ReadHeaderTimeout: 30 * time.Second}
	go func() {
		if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
			log.Fatal(err)
		}
	}()
	log.Print("custom aiproxy on http://127.0.0.1:8080")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	shut, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = srv.Shutdown(shut)
	if err := p.Close(shut); err != nil {
		log.Print(err)
	}
}
