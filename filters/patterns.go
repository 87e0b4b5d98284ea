package filters

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/aiproxy-go/aiproxy"
)

// DefaultBlockMessage is BlockPatterns' message when it has none.
const DefaultBlockMessage = "the request was blocked by the proxy's content policy"

// BlockPatterns refuses a request whose text matches one of its regular expressions.
//
// The text is every string value of the JSON body that goes upstream (as the filters before
// this one left it), after its escapes are decoded: messages, contents, prompt, input,
// system and instructions, but also tool definitions and any other string. Object keys are
// not searched. Each string is searched on its own, so a match never spans two of them. A
// body that is not JSON is searched as text when it is valid UTF-8, and not at all
// otherwise (audio, images).
type BlockPatterns struct {
	// Patterns are regular expressions in Go syntax; (?i) makes one case-insensitive.
	Patterns []string `yaml:"patterns" json:"patterns"`
	// Message is the error message the client gets. Default DefaultBlockMessage.
	Message string `yaml:"message" json:"message,omitempty"`
	// Status is the HTTP status of the refusal. Default 400.
	Status int `yaml:"status" json:"status,omitempty"`

	once sync.Once
	re   *regexp.Regexp // all patterns as one alternation
	err  error
}

var _ aiproxy.RequestFilter = (*BlockPatterns)(nil)

// Validate compiles the patterns and reports the first that does not compile, no patterns
// at all, or a status that is not a 4xx or 5xx.
func (f *BlockPatterns) Validate() error {
	_, err := f.compiled()
	return err
}

func (f *BlockPatterns) compiled() (*regexp.Regexp, error) {
	f.once.Do(func() { f.re, f.err = compilePatterns(f.Patterns, f.Status) })
	return f.re, f.err
}

func compilePatterns(patterns []string, status int) (*regexp.Regexp, error) {
	if len(patterns) == 0 {
		return nil, errors.New("block_patterns: patterns is empty: give at least one regular expression")
	}
	if status != 0 && (status < 400 || status > 599) {
		return nil, fmt.Errorf("block_patterns: status %d is not an error status (400-599)", status)
	}
	groups := make([]string, len(patterns))
	for i, p := range patterns {
		if _, err := regexp.Compile(p); err != nil {
			return nil, fmt.Errorf("block_patterns: pattern %q: %w", p, err)
		}
		// Flags set inside a group, such as (?i), end with the group.
		groups[i] = "(?:" + p + ")"
	}
	return regexp.Compile(strings.Join(groups, "|"))
}

// FilterRequest refuses the request when its text matches.
func (f *BlockPatterns) FilterRequest(_ context.Context, x *aiproxy.Exchange) (*aiproxy.Reply, error) {
	re, err := f.compiled()
	if err != nil {
		return nil, misconfigured("block_patterns", err)
	}
	body := x.Request.Body
	if len(body) == 0 {
		return nil, nil
	}
	matched := false
	if isJSONBody(x) {
		eachString(body, func(s []byte) bool {
			matched = re.Match(s)
			return !matched
		})
	} else if utf8.Valid(body) {
		matched = re.Match(body)
	}
	if !matched {
		return nil, nil
	}
	status := f.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	return nil, &aiproxy.Error{Status: status, Code: "content_blocked",
		Message: messageOr(f.Message, DefaultBlockMessage)}
}
