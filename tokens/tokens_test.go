package tokens

import (
	"strings"
	"sync"
	"testing"
)

func TestEncodingFor(t *testing.T) {
	tests := []struct {
		model string
		want  string
	}{
		{"gpt-4o", O200kBase},
		{"gpt-4o-mini-2024-07-18", O200kBase},
		{"gpt-4o-2024-08-06", O200kBase},
		{"chatgpt-4o-latest", O200kBase},
		{"gpt-4.1-nano", O200kBase},
		{"gpt-4.5-preview", O200kBase},
		{"gpt-5", O200kBase},
		{"gpt-5-mini-2025-08-07", O200kBase},
		{"o1", O200kBase},
		{"o1-preview-2024-09-12", O200kBase},
		{"o3-mini", O200kBase},
		{"o4-mini", O200kBase},
		{"gpt-oss-120b", O200kBase},
		{"gpt-4", Cl100kBase},
		{"gpt-4-0613", Cl100kBase},
		{"gpt-4-32k", Cl100kBase},
		{"gpt-4-turbo-2024-04-09", Cl100kBase},
		{"gpt-3.5-turbo", Cl100kBase},
		{"gpt-3.5-turbo-instruct", Cl100kBase},
		{"gpt-35-turbo-16k", Cl100kBase}, // Azure spelling
		{"text-embedding-3-small", Cl100kBase},
		{"text-embedding-3-large", Cl100kBase},
		{"text-embedding-ada-002", Cl100kBase},

		// Spellings of gateways and clouds.
		{"openai/gpt-4o", O200kBase},
		{"openai/gpt-4", Cl100kBase},
		{"  GPT-4-Turbo  ", Cl100kBase},
		{"ft:gpt-4o-mini-2024-07-18:acme::9a8b7c", O200kBase},
		{"ft:gpt-3.5-turbo-0125:acme:support:abc123", Cl100kBase},
		{"azure/gpt-35-turbo", Cl100kBase},

		// Other families: an estimate.
		{"claude-sonnet-4-5-20250929", Cl100kBase},
		{"anthropic/claude-3-5-haiku", Cl100kBase},
		{"us.anthropic.claude-3-7-sonnet-20250219-v1:0", Cl100kBase},
		{"claude-3-5-sonnet@20240620", Cl100kBase},
		{"meta-llama/Llama-3.3-70B-Instruct", Cl100kBase},
		{"mistral-large-latest", Cl100kBase},
		{"qwen2.5:7b", Cl100kBase},
		{"deepseek-chat", Cl100kBase},

		// Unknown: the encoding of current OpenAI models.
		{"", O200kBase},
		{"my-deployment", O200kBase},
		{"models/gemini-2.0-flash", O200kBase},
	}
	for _, tt := range tests {
		if got := EncodingFor(tt.model); got != tt.want {
			t.Errorf("EncodingFor(%q) = %q, want %q", tt.model, got, tt.want)
		}
	}
}

func TestCount(t *testing.T) {
	tests := []struct {
		model, text string
		want        int
	}{
		{"gpt-4", "", 0},
		{"gpt-4", "hello world", 2},
		{"gpt-4o", "hello world", 2},
		// The examples of OpenAI's cookbook "How to count tokens with tiktoken".
		{"gpt-3.5-turbo", "tiktoken is great!", 6},
		{"gpt-4o", "tiktoken is great!", 6},
		{"gpt-4", "antidisestablishmentarianism", 6},
		// o200k's larger vocabulary holds whole Japanese words that cl100k splits.
		{"gpt-4", "こんにちは世界", 4},
		{"gpt-4o", "こんにちは世界", 2},
		// Special tokens in user text are ordinary text: "<", "|", "endo", "ft", "ext", "|", ">".
		{"gpt-4", "<|endoftext|>", 7},
		// Whitespace and newlines merge into one token.
		{"gpt-4", "  \n\n", 1},
	}
	for _, tt := range tests {
		if got := Count(tt.model, tt.text); got != tt.want {
			t.Errorf("Count(%q, %q) = %d, want %d", tt.model, tt.text, got, tt.want)
		}
	}
}

func TestCountInvalidUTF8(t *testing.T) {
	// Bodies are logged as received, so broken UTF-8 reaches the counter; it must count
	// something rather than fail.
	if n := Count("gpt-4o", "ok \xff\xfe ok"); n <= 0 {
		t.Errorf("Count of invalid UTF-8 = %d, want > 0", n)
	}
}

func TestCountMessages(t *testing.T) {
	if got := CountMessages("gpt-4o", nil); got != 0 {
		t.Errorf("CountMessages(nil) = %d, want 0", got)
	}
	// Cookbook arithmetic: per message 3 + role (1) + content; 3 to prime the reply.
	// "hello world" is 2 tokens and "" is 0: (4+2) + (4+0) + 3 = 13.
	if got := CountMessages("gpt-4o", []string{"hello world", ""}); got != 13 {
		t.Errorf("CountMessages = %d, want 13", got)
	}
	// Framing grows with each message, whatever its text.
	one := CountMessages("gpt-4o", []string{"Hello!"})
	if want := Count("gpt-4o", "Hello!") + tokensPerMessage + tokensPerReply; one != want {
		t.Errorf("CountMessages(one) = %d, want %d", one, want)
	}
}

func TestCountConcurrent(t *testing.T) {
	texts := map[string]string{
		"gpt-4":  "hello world",
		"gpt-4o": "tiktoken is great!",
		"claude": "antidisestablishmentarianism",
	}
	want := map[string]int{"gpt-4": 2, "gpt-4o": 6, "claude": 6}
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for range 16 {
		for model, text := range texts {
			wg.Go(func() {
				for range 20 {
					if got := Count(model, text); got != want[model] {
						errs <- model
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for m := range errs {
		t.Errorf("concurrent Count for %s gave a wrong count", m)
	}
}

// tenKB is about 10 KB of English prose with code and numbers mixed in, the shape of a
// typical prompt.
var tenKB = func() string {
	const para = "The quick brown fox jumps over the lazy dog. In 2024, 17 of 23 requests " +
		"returned `{\"status\": \"ok\"}` within 350ms; the rest timed out.\n"
	return strings.Repeat(para, 10*1024/len(para)+1)[:10*1024]
}()

func BenchmarkCount10KB(b *testing.B) {
	for _, model := range []string{"gpt-4", "gpt-4o"} {
		b.Run(EncodingFor(model), func(b *testing.B) {
			Count(model, "warm up")
			b.SetBytes(int64(len(tenKB)))
			b.ReportAllocs()
			for b.Loop() {
				Count(model, tenKB)
			}
		})
	}
}

func TestEstimateIsGenerous(t *testing.T) {
	for _, text := range []string{
		"The quick brown fox jumps over the lazy dog. ",
		"func main() { fmt.Println(\"hello, world\") }\n",
		strings.Repeat("Tokens per minute are charged with this estimate at admission. ", 40),
	} {
		if est, real := Estimate(text), Count("gpt-4o", text); est < real {
			t.Errorf("Estimate %d below Count %d for %q", est, real, text[:20])
		}
	}
	if Estimate("") != 0 || Estimate("abc") != 1 || Estimate("abcd") != 2 {
		t.Error("Estimate rounding")
	}
}
