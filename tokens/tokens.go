// Package tokens estimates token counts offline, for the log rows of exchanges whose provider
// reported no usage (a stream cut short, an upstream without usage, a reply made by a filter).
//
// Counting uses OpenAI's BPE vocabularies (cl100k_base and o200k_base), compiled into the
// binary by github.com/tiktoken-go/tokenizer: nothing is fetched at run time. Counts are exact
// for OpenAI models and an estimate for every other model family, whose tokenizers differ.
//
// The functions are safe for concurrent use. The first count with a given encoding builds its
// codec, which takes tens of milliseconds and a few megabytes; later counts reuse it.
package tokens

import (
	"strings"
	"sync"

	"github.com/tiktoken-go/tokenizer"
)

// Names of the encodings returned by EncodingFor.
const (
	O200kBase  = "o200k_base"  // GPT-4o, GPT-4.1, GPT-4.5, GPT-5, the o-series, and the default
	Cl100kBase = "cl100k_base" // GPT-4, GPT-3.5, the embedding models, and the estimate for Claude and kin
)

// Chat framing per OpenAI's cookbook ("How to count tokens with tiktoken"): every message is
// wrapped as <|start|>{role}\n{content}<|end|>\n, which costs 3 tokens plus the role, and the
// reply is primed with <|start|>assistant<|message|>, 3 more. The role names (system, user,
// assistant, tool, developer) are one token each in both encodings, so the per-message
// overhead is 4 when the texts passed in do not include the role.
const (
	tokensPerMessage = 3 + 1
	tokensPerReply   = 3
)

// EncodingFor returns the name of the encoding used to count tokens for model: O200kBase or
// Cl100kBase. Matching ignores case, a provider or path prefix ("openai/gpt-4o",
// "models/gemini-2.0-flash"), a fine-tune wrapper ("ft:gpt-4o-mini-2024-07-18:org::id") and
// version tags after "@" or ":" (Vertex, Bedrock, Ollama); dated suffixes such as Azure's
// "gpt-4o-2024-08-06" or "gpt-35-turbo-0613" match by prefix.
//
// Non-OpenAI models get an estimate: Claude, Llama, Mistral, Qwen and DeepSeek count with
// cl100k_base, whose size and merges are closest to their tokenizers (Llama 3's and Qwen's
// vocabularies extend cl100k's); any model not recognised counts with o200k_base, the
// encoding of every current OpenAI model.
func EncodingFor(model string) string {
	m := baseModel(model)
	for _, p := range o200kPrefixes {
		if strings.HasPrefix(m, p) {
			return O200kBase
		}
	}
	if m == "gpt-4" || m == "gpt-3.5" || m == "gpt-35" {
		return Cl100kBase
	}
	for _, p := range cl100kPrefixes {
		if strings.HasPrefix(m, p) {
			return Cl100kBase
		}
	}
	// Vendors prefix family names (Bedrock's "us.anthropic.claude-...", "meta.llama3-..."),
	// so families are found anywhere in the name.
	for _, f := range cl100kFamilies {
		if strings.Contains(m, f) {
			return Cl100kBase
		}
	}
	return O200kBase
}

// o200kPrefixes are checked before cl100kPrefixes so that "gpt-4o" and "gpt-4.1" are not
// taken for "gpt-4".
var o200kPrefixes = []string{
	"gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "chatgpt-4o",
	"o1", "o3", "o4", "gpt-oss", "codex-",
}

var cl100kPrefixes = []string{
	"gpt-4-", "gpt-3.5-", "gpt-35-", // gpt-35-turbo is Azure's spelling
	"text-embedding-3", "text-embedding-ada-002",
	"davinci-002", "babbage-002",
}

var cl100kFamilies = []string{
	"claude", "llama", "mistral", "mixtral", "codestral", "ministral", "qwen", "deepseek",
}

// baseModel reduces a model name as clients and gateways spell it to OpenAI's own spelling.
func baseModel(model string) string {
	m := strings.ToLower(strings.TrimSpace(model))
	if rest, ok := strings.CutPrefix(m, "ft:"); ok {
		// ft:<base>:<org>:<suffix>:<id>
		m, _, _ = strings.Cut(rest, ":")
	}
	if i := strings.LastIndexByte(m, '/'); i >= 0 {
		m = m[i+1:]
	}
	m, _, _ = strings.Cut(m, "@")
	m, _, _ = strings.Cut(m, ":")
	return m
}

// Count returns the number of tokens of text for model, as encoded by EncodingFor(model).
// Special-token markers such as "<|endoftext|>" count as ordinary text, which is how the APIs
// treat them in user input.
func Count(model, text string) int {
	if text == "" {
		return 0
	}
	return countWith(EncodingFor(model), text)
}

// CountMessages estimates the prompt tokens of a chat request whose messages have the given
// texts (one per message, without the role): the tokens of each text, plus the framing
// OpenAI documents for chat models, 3 tokens per message and 1 for its role, plus 3 that
// prime the reply. Tools, images and names are not counted. No messages count as 0.
func CountMessages(model string, texts []string) int {
	if len(texts) == 0 {
		return 0
	}
	enc := EncodingFor(model)
	n := tokensPerReply
	for _, t := range texts {
		n += tokensPerMessage
		if t != "" {
			n += countWith(enc, t)
		}
	}
	return n
}

type lazyCodec struct {
	once  sync.Once
	codec tokenizer.Codec
}

// Each vocabulary costs megabytes and tens of milliseconds to load, so a codec is built once,
// on first use, and shared: tokenizer codecs hold no per-call state.
var (
	o200k  lazyCodec
	cl100k lazyCodec
)

func codecFor(enc string) tokenizer.Codec {
	lc, name := &o200k, tokenizer.O200kBase
	if enc == Cl100kBase {
		lc, name = &cl100k, tokenizer.Cl100kBase
	}
	lc.once.Do(func() {
		// Get fails only for an encoding the library lacks; both used here are compiled in,
		// and countWith copes with a nil codec regardless.
		lc.codec, _ = tokenizer.Get(name)
	})
	return lc.codec
}

func countWith(enc, text string) int {
	c := codecFor(enc)
	if c == nil {
		return roughCount(text)
	}
	n, err := c.Count(text)
	if err != nil {
		// Only a regexp failure can land here; an estimate beats a zero in the log.
		return roughCount(text)
	}
	return n
}

// roughCount is OpenAI's rule of thumb of about four bytes of English per token.
func roughCount(text string) int {
	return (len(text) + 3) / 4
}

// Estimate is a fast, generous estimate of the tokens of text, for admission decisions on
// the request path (rate limits, budget reservations) that the real count corrects later:
// one token per three bytes, which is above the real count for English prose and code and
// close to it for other scripts. It costs nothing next to Count's byte-pair encoding.
func Estimate(text string) int {
	return (len(text) + 2) / 3
}
