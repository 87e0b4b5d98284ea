package filters

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/aiproxy-go/aiproxy"
)

// Models rewrites the model a request asks for and refuses models that are not allowed.
//
// Rewrite comes first: the request's model is replaced (Exchange.SetModel, which changes the
// body or, for Bedrock and Gemini, the path) by the value of its exact name in Rewrite, or
// else by the value of the longest glob key that matches it. Deny and Allow then apply to
// the model that goes upstream, so a rewrite can send a denied name to an allowed model.
// Globs follow path.Match: '*' matches any run of characters except '/', '?' one
// character, '[...]' a class. Requests that name no model (listing models, files) pass.
type Models struct {
	// Rewrite maps a model name, or a glob, to the model to use instead.
	Rewrite map[string]string `yaml:"rewrite" json:"rewrite,omitempty"`
	// Deny lists globs of models that are refused with 403.
	Deny []string `yaml:"deny" json:"deny,omitempty"`
	// Allow, when not empty, lists globs of the only models that are let through; any
	// other is refused with 403.
	Allow []string `yaml:"allow" json:"allow,omitempty"`
	// Message is the error message; "{model}" in it becomes the model's name. Default
	// "the model {model} is not allowed".
	Message string `yaml:"message" json:"message,omitempty"`

	once  sync.Once
	globs []string // glob keys of Rewrite, longest first
}

var _ aiproxy.RequestFilter = (*Models)(nil)

// Validate reports a malformed glob or an empty rewrite target.
func (f *Models) Validate() error {
	for _, list := range [][]string{f.Deny, f.Allow} {
		for _, g := range list {
			if _, err := path.Match(g, ""); err != nil {
				return fmt.Errorf("models: glob %q: %w", g, err)
			}
		}
	}
	for from, to := range f.Rewrite {
		if _, err := path.Match(from, ""); err != nil {
			return fmt.Errorf("models: rewrite glob %q: %w", from, err)
		}
		if to == "" {
			return fmt.Errorf("models: rewrite of %q names no model", from)
		}
	}
	return nil
}

// FilterRequest rewrites the model, then refuses it with 403 when it is denied or not
// allowed.
func (f *Models) FilterRequest(_ context.Context, x *aiproxy.Exchange) (*aiproxy.Reply, error) {
	model := x.Model()
	if model == "" {
		return nil, nil
	}
	if to, ok := f.rewrite(model); ok && to != model {
		if err := x.SetModel(to); err != nil {
			return nil, fmt.Errorf("models: rewrite %q to %q: %w", model, to, err)
		}
		model = x.Model()
	}
	denied := matchAny(f.Deny, model)
	if !denied && len(f.Allow) > 0 {
		denied = !matchAny(f.Allow, model)
	}
	if !denied {
		return nil, nil
	}
	msg := f.Message
	if msg == "" {
		msg = "the model {model} is not allowed"
	}
	return nil, &aiproxy.Error{Status: http.StatusForbidden, Type: "permission_error", Code: "model_not_allowed",
		Message: strings.ReplaceAll(msg, "{model}", model)}
}

// rewrite returns the model that replaces model, if any.
func (f *Models) rewrite(model string) (string, bool) {
	if len(f.Rewrite) == 0 {
		return "", false
	}
	if to, ok := f.Rewrite[model]; ok {
		return to, true
	}
	f.once.Do(func() {
		for k := range f.Rewrite {
			if strings.ContainsAny(k, `*?[\`) {
				f.globs = append(f.globs, k)
			}
		}
		slices.SortFunc(f.globs, func(a, b string) int {
			return cmp.Or(cmp.Compare(len(b), len(a)), strings.Compare(a, b))
		})
	})
	for _, g := range f.globs {
		if ok, _ := path.Match(g, model); ok {
			return f.Rewrite[g], true
		}
	}
	return "", false
}

// matchAny reports whether name matches one of the globs.
func matchAny(globs []string, name string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}
