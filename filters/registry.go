package filters

import (
	"fmt"
	"slices"
	"strings"
)

// Env is what some built-in filters need from the program that builds them.
type Env struct {
	// Source is where the replay filter reads logged responses; *aiproxy.Proxy is one.
	Source RecordSource
}

// Validator is implemented by the built-in filters whose options can be wrong. New calls
// it; a program that builds a filter itself can call it to see errors before the first
// request does.
type Validator interface {
	Validate() error
}

// builtins makes an empty filter of each name the configuration knows.
var builtins = map[string]func(env Env) any{
	"ban_users":      func(Env) any { return &BanUsers{} },
	"require_user":   func(Env) any { return &RequireUser{} },
	"models":         func(Env) any { return &Models{} },
	"max_tokens":     func(Env) any { return &MaxTokens{} },
	"block_patterns": func(Env) any { return &BlockPatterns{} },
	"redact":         func(Env) any { return &Redact{} },
	"replay":         func(env Env) any { return &Replay{Source: env.Source} },
}

// Names returns the names of the built-in filters, sorted.
func Names() []string {
	names := make([]string, 0, len(builtins))
	for n := range builtins {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// New builds the built-in filter called name, as a configuration file names it ("ban_users",
// "require_user", "models", "max_tokens", "block_patterns", "redact", "replay"), and
// returns it ready for Proxy.AddFilter.
//
// decode fills the filter's options: it is called once with a pointer to the filter (a
// *BanUsers, *Models, ...), whose exported fields carry yaml and json tags, and should
// decode strictly, refusing unknown keys (with go.yaml.in/yaml/v3: a yaml.Node's Decode
// through a Decoder with KnownFields(true)). A nil decode leaves the defaults. The options
// are then validated: a bad regular expression, an empty list of users or an unknown kind
// is an error that names the filter. env supplies what a filter needs from the program:
// the replay filter reads logged responses from env.Source.
//
// Options that apply to every filter, such as how it fails or its time limit, are the
// caller's: they must be removed before decode is called.
func New(name string, decode func(opts any) error, env Env) (any, error) {
	mk, ok := builtins[name]
	if !ok {
		return nil, fmt.Errorf("unknown filter %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	f := mk(env)
	if decode != nil {
		if err := decode(f); err != nil {
			return nil, fmt.Errorf("filter %s: %w", name, err)
		}
	}
	if r, ok := f.(*Replay); ok && r.Source == nil {
		r.Source = env.Source
	}
	if v, ok := f.(Validator); ok {
		if err := v.Validate(); err != nil {
			return nil, err
		}
	}
	return f, nil
}
