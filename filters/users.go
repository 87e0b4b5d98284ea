package filters

import (
	"context"
	"errors"
	"net/http"
	"sync"

	"github.com/aiproxy-go/aiproxy"
)

// DefaultBanMessage is BanUsers' message when it has none.
const DefaultBanMessage = "you can't use this service"

// DefaultRequireUserMessage is RequireUser's message when it has none.
const DefaultRequireUserMessage = "user is required"

// BanUsers refuses, with 403 and its message, every request whose user is in Users. The
// user is the one the provider reads from the request (Exchange.User): OpenAI's "user"
// field, Anthropic's metadata.user_id (also in a Bedrock InvokeModel body). The name of
// the client key (Exchange.ClientKey) is not matched: ban a key by removing it from the
// client keys. Names are compared exactly, case included.
type BanUsers struct {
	// Users are the banned users. It must not be empty when built from the config.
	Users []string `yaml:"users" json:"users"`
	// Message is the error message the client gets. Default DefaultBanMessage.
	Message string `yaml:"message" json:"message,omitempty"`

	once sync.Once
	set  map[string]struct{}
}

var _ aiproxy.RequestFilter = (*BanUsers)(nil)

// Validate reports an empty Users list.
func (f *BanUsers) Validate() error {
	if len(f.Users) == 0 {
		return errors.New("ban_users: users is empty: name at least one user")
	}
	return nil
}

// FilterRequest refuses a banned user with 403.
func (f *BanUsers) FilterRequest(_ context.Context, x *aiproxy.Exchange) (*aiproxy.Reply, error) {
	u := x.User()
	if u == "" {
		return nil, nil
	}
	f.once.Do(func() {
		f.set = make(map[string]struct{}, len(f.Users))
		for _, name := range f.Users {
			f.set[name] = struct{}{}
		}
	})
	if _, banned := f.set[u]; !banned {
		return nil, nil
	}
	return nil, &aiproxy.Error{Status: http.StatusForbidden, Type: "permission_error", Code: "user_banned",
		Message: messageOr(f.Message, DefaultBanMessage)}
}

// RequireUser refuses, with 400 and its message, every request that names no user
// (Exchange.User is empty: see BanUsers for where the user comes from). Requests without a
// body, such as listing models, are let through.
type RequireUser struct {
	// Message is the error message the client gets. Default DefaultRequireUserMessage.
	Message string `yaml:"message" json:"message,omitempty"`
}

var _ aiproxy.RequestFilter = (*RequireUser)(nil)

// FilterRequest refuses a request without a user with 400.
func (f *RequireUser) FilterRequest(_ context.Context, x *aiproxy.Exchange) (*aiproxy.Reply, error) {
	if x.User() != "" || len(x.Request.Body) == 0 {
		return nil, nil
	}
	return nil, &aiproxy.Error{Status: http.StatusBadRequest, Type: "invalid_request_error", Code: "user_required",
		Message: messageOr(f.Message, DefaultRequireUserMessage)}
}

func messageOr(msg, def string) string {
	if msg == "" {
		return def
	}
	return msg
}
