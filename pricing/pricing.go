// Package pricing holds the price table of LLM models and computes what an exchange cost.
//
// Default returns the table built into the binary (prices.yaml, USD per million tokens, with
// the source and date of each provider's block). An operator corrects or extends it with a
// file in the same format: Load parses it strictly and Table.With lays it over the default.
//
// A model name is resolved by exact match first, then with its dated or version suffixes,
// Bedrock region prefix and path prefix (openai/, models/) stripped, and last by the longest
// known prefix, so "gpt-4o-2024-08-06", "openai/gpt-4o" and "gpt-4o-search-preview" all find
// "gpt-4o", while a snapshot priced differently ("gpt-4o-2024-05-13") is listed by its own
// name. An unknown model has no price: Lookup and Cost report false rather than guess.
package pricing

import (
	"bytes"
	"cmp"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// Price is what a model costs, in USD per million tokens.
type Price struct {
	Input  float64 `yaml:"input"`  // a prompt token not read from or written to a cache
	Output float64 `yaml:"output"` // a completion token, reasoning tokens included
	// CachedInput is a prompt token read from the provider's cache; 0 bills it as Input.
	CachedInput float64 `yaml:"cached_input"`
	// CacheWrite is a prompt token written to the cache where the provider charges for it
	// (Anthropic's 5-minute cache write); 0 bills it as Input.
	CacheWrite float64 `yaml:"cache_write"`
	// LongContext, when its Above is set, replaces the prices above for a request whose
	// prompt is longer than Above tokens (Gemini 2.5 Pro, Claude Sonnet 4 with 1M context).
	LongContext LongContext `yaml:"long_context"`
}

// LongContext are the prices of a request whose prompt (cached tokens included) has more than
// Above tokens, in USD per million tokens. A zero Above means the model has no such tier.
type LongContext struct {
	Above       int     `yaml:"above"`
	Input       float64 `yaml:"input"`
	Output      float64 `yaml:"output"`
	CachedInput float64 `yaml:"cached_input"`
	CacheWrite  float64 `yaml:"cache_write"`
}

// Usage is the token count of one exchange as the provider reported it.
type Usage struct {
	Input      int // prompt tokens, cached and cache-written ones included
	Output     int // completion tokens, reasoning ones included
	Cached     int // prompt tokens read from the cache, billed at CachedInput instead of Input
	Reasoning  int // output tokens spent on reasoning; informational, billed as Output
	CacheWrite int // prompt tokens written to the cache, billed at CacheWrite; 0 when unknown
}

// Cost returns what u costs at p, in USD. Counts that do not add up (more cached tokens than
// prompt tokens) are clamped rather than billed twice.
func (p Price) Cost(u Usage) float64 {
	in, out, cached, write := max(u.Input, 0), max(u.Output, 0), max(u.Cached, 0), max(u.CacheWrite, 0)
	cached = min(cached, in)
	write = min(write, in-cached)
	plain := in - cached - write

	inP, outP, cachedP, writeP := p.Input, p.Output, p.CachedInput, p.CacheWrite
	if lc := p.LongContext; lc.Above > 0 && in > lc.Above {
		inP, outP, cachedP, writeP = lc.Input, lc.Output, lc.CachedInput, lc.CacheWrite
	}
	if cachedP == 0 {
		cachedP = inP
	}
	if writeP == 0 {
		writeP = inP
	}
	usd := float64(plain)*inP + float64(cached)*cachedP + float64(write)*writeP + float64(out)*outP
	return usd / 1e6
}

// Table is a price table: the models of each provider. It is immutable, and safe for
// concurrent use.
type Table struct {
	blocks map[string]*block
	names  []string // provider names in order, for models of providers the table does not name
}

// block is one provider's prices.
type block struct {
	Source  string           `yaml:"source"`
	Checked string           `yaml:"checked"`
	Note    string           `yaml:"note"`
	Inherit string           `yaml:"inherit"`
	Models  map[string]Price `yaml:"models"`

	byLength []string // model names, longest first, for the prefix match
}

//go:embed prices.yaml
var defaultYAML []byte

var defaultTable = sync.OnceValue(func() *Table {
	t, err := Load(bytes.NewReader(defaultYAML))
	if err != nil {
		// The embedded file is checked by the package's tests; this is a build defect.
		panic("pricing: embedded prices.yaml: " + err.Error())
	}
	return t
})

// Default returns the price table built into AIProxy. It is shared; With returns a new table.
func Default() *Table { return defaultTable() }

// Load reads a price table in the format of the default one (YAML, or JSON): a map from
// provider name to a block with optional source, checked, note and inherit, and models, a map
// from model name to input, output, cached_input, cache_write and long_context prices in USD
// per million tokens. Unknown keys, negative or non-finite prices are errors. Names are case
// insensitive. An empty input is an empty table.
func Load(r io.Reader) (*Table, error) {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	var raw map[string]*block
	if err := dec.Decode(&raw); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("pricing: %w", err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("pricing: more than one YAML document")
	}
	t := &Table{blocks: make(map[string]*block, len(raw))}
	for name, b := range raw {
		key := strings.ToLower(strings.TrimSpace(name))
		if key == "" {
			return nil, errors.New("pricing: a provider has an empty name")
		}
		if _, dup := t.blocks[key]; dup {
			return nil, fmt.Errorf("pricing: provider %q is listed twice", key)
		}
		if b == nil {
			b = &block{}
		}
		nb := &block{Source: b.Source, Checked: b.Checked, Note: b.Note,
			Inherit: strings.ToLower(strings.TrimSpace(b.Inherit)), Models: make(map[string]Price, len(b.Models))}
		if nb.Inherit == key {
			return nil, fmt.Errorf("pricing: provider %q inherits from itself", key)
		}
		for model, p := range b.Models {
			m := strings.ToLower(strings.TrimSpace(model))
			if m == "" {
				return nil, fmt.Errorf("pricing: provider %q has a model with an empty name", key)
			}
			if _, dup := nb.Models[m]; dup {
				return nil, fmt.Errorf("pricing: model %q of provider %q is listed twice", m, key)
			}
			if err := p.check(); err != nil {
				return nil, fmt.Errorf("pricing: %s %s: %w", key, m, err)
			}
			nb.Models[m] = p
		}
		t.blocks[key] = nb
	}
	t.index()
	return t, nil
}

func (p Price) check() error {
	lc := p.LongContext
	for _, v := range []float64{p.Input, p.Output, p.CachedInput, p.CacheWrite,
		lc.Input, lc.Output, lc.CachedInput, lc.CacheWrite} {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("price %v is not a non-negative number", v)
		}
	}
	if lc.Above < 0 {
		return fmt.Errorf("long_context above %d is negative", lc.Above)
	}
	return nil
}

// index sorts what the lookups walk.
func (t *Table) index() {
	t.names = t.names[:0]
	for name, b := range t.blocks {
		t.names = append(t.names, name)
		b.byLength = b.byLength[:0]
		for m := range b.Models {
			b.byLength = append(b.byLength, m)
		}
		sort.Slice(b.byLength, func(i, j int) bool {
			if len(b.byLength[i]) != len(b.byLength[j]) {
				return len(b.byLength[i]) > len(b.byLength[j])
			}
			return b.byLength[i] < b.byLength[j]
		})
	}
	sort.Strings(t.names)
}

// With returns a new table: t with the providers and models of overrides laid over it. A
// model in overrides replaces the same model of t; a provider's source, checked, note and
// inherit replace t's when set. Neither table changes.
func (t *Table) With(overrides *Table) *Table {
	if overrides == nil || len(overrides.blocks) == 0 {
		return t
	}
	out := &Table{blocks: make(map[string]*block)}
	if t != nil {
		for name, b := range t.blocks {
			out.blocks[name] = b.clone()
		}
	}
	for name, o := range overrides.blocks {
		b := out.blocks[name]
		if b == nil {
			out.blocks[name] = o.clone()
			continue
		}
		b.Source = cmp.Or(o.Source, b.Source)
		b.Checked = cmp.Or(o.Checked, b.Checked)
		b.Note = cmp.Or(o.Note, b.Note)
		b.Inherit = cmp.Or(o.Inherit, b.Inherit)
		for m, p := range o.Models {
			b.Models[m] = p
		}
	}
	out.index()
	return out
}

func (b *block) clone() *block {
	nb := *b
	nb.byLength = nil
	nb.Models = make(map[string]Price, len(b.Models))
	for m, p := range b.Models {
		nb.Models[m] = p
	}
	return &nb
}

// Lookup returns the price of a model served by a provider ("openai", "azure", "anthropic",
// "bedrock", "gemini", or a name an override file added). A provider the table does not name
// (an OpenAI-compatible server under its own name, say) is looked up in every block, in
// alphabetical order. An unknown model returns false.
func (t *Table) Lookup(provider, model string) (Price, bool) {
	if t == nil {
		return Price{}, false
	}
	cands := candidates(model)
	if len(cands) == 0 {
		return Price{}, false
	}
	var chain []*block
	if b := t.blocks[strings.ToLower(provider)]; b != nil {
		chain = t.chain(b)
	} else {
		for _, name := range t.names {
			chain = append(chain, t.blocks[name])
		}
	}
	for _, c := range cands {
		for _, b := range chain {
			if p, ok := b.Models[c]; ok {
				return p, true
			}
		}
	}
	for _, c := range cands {
		best, bestLen := Price{}, 0
		for _, b := range chain {
			if m, ok := b.prefixOf(c); ok && len(m) > bestLen {
				best, bestLen = b.Models[m], len(m)
			}
		}
		if bestLen > 0 {
			return best, true
		}
	}
	return Price{}, false
}

// chain returns b and the blocks it inherits from, nearest first.
func (t *Table) chain(b *block) []*block {
	chain := []*block{b}
	for len(chain) < 8 {
		next := t.blocks[chain[len(chain)-1].Inherit]
		if next == nil || containsBlock(chain, next) {
			break
		}
		chain = append(chain, next)
	}
	return chain
}

func containsBlock(chain []*block, b *block) bool {
	for _, c := range chain {
		if c == b {
			return true
		}
	}
	return false
}

// prefixOf returns the longest model name of b that starts name and ends at a word boundary
// of it, so "gpt-4o" is a prefix of "gpt-4o-search-preview" but not of "gpt-4.1", and "o1" is
// not a prefix of "o1x".
func (b *block) prefixOf(name string) (string, bool) {
	for _, m := range b.byLength {
		if len(m) > len(name) || !strings.HasPrefix(name, m) {
			continue
		}
		if len(m) == len(name) || strings.IndexByte("-:@_/", name[len(m)]) >= 0 {
			return m, true
		}
	}
	return "", false
}

// Cost returns what usage u of a model costs in USD, and false when the model has no price.
func (t *Table) Cost(provider, model string, u Usage) (usd float64, ok bool) {
	p, ok := t.Lookup(provider, model)
	if !ok {
		return 0, false
	}
	return p.Cost(u), true
}
