package clientkey

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"path"
	"strings"
)

// Key is one client key: a name, one or more credentials that identify it, and what it may
// do. The zero value of each limit means no limit.
type Key struct {
	// Name identifies the key in the log (client_key), in counters and in error messages.
	// It is not secret.
	Name string
	// Key is the key in clear, as clients send it (a Bearer token, api-key, x-api-key,
	// x-goog-api-key or Gemini's key query parameter).
	Key string
	// KeySHA256 is the hex SHA-256 of the key, for configurations that should not hold the
	// key itself (`printf %s "$KEY" | sha256sum`).
	KeySHA256 string
	// AWSAccessKeyID and AWSSecretAccessKey are a pair that Bedrock clients sign their
	// requests with (SigV4); the proxy verifies the signature, then signs anew with its own
	// credentials.
	AWSAccessKeyID     string
	AWSSecretAccessKey string

	// Models are the models the key may ask for, as path.Match patterns ("gpt-4o*",
	// "anthropic.claude-*"). Empty allows every model. Requests that name no model (listing
	// models, say) are not restricted.
	Models []string
	// RequestsPerMinute limits requests; TokensPerMinute limits prompt and completion tokens
	// (an estimate of the prompt is charged at admission, corrected with the real count
	// when the response is logged).
	RequestsPerMinute int64
	TokensPerMinute   int64
	// BudgetUSDPerDay limits the cost of the key's requests per UTC day. It needs a
	// budget.Ledger in the Guard's options.
	BudgetUSDPerDay float64
}

// entry is a validated key.
type entry struct {
	Key
	rpmKey, tpmKey string // counter names
}

// keyset is an immutable set of keys, indexed by credential.
type keyset struct {
	byDigest    map[[sha256.Size]byte]*entry
	byAccessKey map[string]*entry
	byName      map[string]*entry
}

// newKeyset validates keys and indexes them.
func newKeyset(keys []Key, budget bool) (*keyset, error) {
	ks := &keyset{byDigest: map[[sha256.Size]byte]*entry{}, byAccessKey: map[string]*entry{}, byName: map[string]*entry{}}
	names := map[string]bool{}
	for i, k := range keys {
		if k.Name == "" {
			return nil, fmt.Errorf("clientkey: key %d has no name", i+1)
		}
		if names[k.Name] {
			return nil, fmt.Errorf("clientkey: key name %q is used twice", k.Name)
		}
		names[k.Name] = true
		e := &entry{Key: k, rpmKey: "{" + k.Name + "}:rpm", tpmKey: "{" + k.Name + "}:tpm"}
		ks.byName[k.Name] = e
		e.Models = append([]string(nil), k.Models...)
		if k.Key == "" && k.KeySHA256 == "" && k.AWSAccessKeyID == "" {
			return nil, fmt.Errorf("clientkey: key %q has no credential: set key, key_sha256 or an aws access key pair", k.Name)
		}
		var digests [][sha256.Size]byte
		if k.Key != "" {
			digests = append(digests, sha256.Sum256([]byte(k.Key)))
		}
		if k.KeySHA256 != "" {
			b, err := hex.DecodeString(strings.TrimSpace(k.KeySHA256))
			if err != nil || len(b) != sha256.Size {
				return nil, fmt.Errorf("clientkey: key %q: key_sha256 is not 64 hex digits", k.Name)
			}
			digests = append(digests, [sha256.Size]byte(b))
		}
		for _, d := range digests {
			if other, dup := ks.byDigest[d]; dup && other != e {
				return nil, fmt.Errorf("clientkey: keys %q and %q have the same key", other.Name, k.Name)
			}
			ks.byDigest[d] = e
		}
		if (k.AWSAccessKeyID == "") != (k.AWSSecretAccessKey == "") {
			return nil, fmt.Errorf("clientkey: key %q: set both aws_access_key_id and aws_secret_access_key", k.Name)
		}
		if k.AWSAccessKeyID != "" {
			if other, dup := ks.byAccessKey[k.AWSAccessKeyID]; dup {
				return nil, fmt.Errorf("clientkey: keys %q and %q have the same aws access key id", other.Name, k.Name)
			}
			ks.byAccessKey[k.AWSAccessKeyID] = e
		}
		for _, m := range k.Models {
			if _, err := path.Match(m, ""); err != nil {
				return nil, fmt.Errorf("clientkey: key %q: model pattern %q: %w", k.Name, m, err)
			}
		}
		if k.RequestsPerMinute < 0 || k.TokensPerMinute < 0 {
			return nil, fmt.Errorf("clientkey: key %q: a rate limit is negative", k.Name)
		}
		if k.BudgetUSDPerDay < 0 || math.IsNaN(k.BudgetUSDPerDay) || math.IsInf(k.BudgetUSDPerDay, 0) {
			return nil, fmt.Errorf("clientkey: key %q: budget_usd_per_day is not a non-negative number", k.Name)
		}
		if k.BudgetUSDPerDay > 0 && !budget {
			return nil, fmt.Errorf("clientkey: key %q has a budget but the guard has no budget ledger", k.Name)
		}
	}
	return ks, nil
}

// allows reports whether the key may ask for model.
func (e *entry) allows(model string) bool {
	if len(e.Models) == 0 || model == "" {
		return true
	}
	for _, p := range e.Models {
		if ok, _ := path.Match(p, model); ok {
			return true
		}
	}
	return false
}

// errNoCredential is returned when a request carries no credential at all.
var errNoCredential = errors.New("no client key")
