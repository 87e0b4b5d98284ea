package fakebedrock

import (
	"encoding/hex"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// replyPrefix starts every text reply.
const replyPrefix = "Hello! You said: "

const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// exchange is one request being answered.
type exchange struct {
	w       http.ResponseWriter
	r       *http.Request
	body    []byte
	modelID string
	op      string
	start   time.Time
	f       faults
}

func (x *exchange) stream() bool { return x.op == OpInvokeStream || x.op == OpConverseStream }

// newID returns prefix and n random characters of alphabet.
func newID(prefix string, n int, alphabet string) string {
	b := make([]byte, len(prefix)+n)
	copy(b, prefix)
	for i := len(prefix); i < len(b); i++ {
		b[i] = alphabet[rand.IntN(len(alphabet))]
	}
	return string(b)
}

// newRequestID returns an id in the shape of x-amzn-RequestId, a UUID.
func newRequestID() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(rand.IntN(256))
	}
	s := hex.EncodeToString(b[:])
	return s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}

// padding is the "p" field that Bedrock adds to stream events so that their length does not
// tell their content's.
func padding() string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	return letters[:1+rand.IntN(len(letters)-1)]
}

// words counts the words of s, the fake's unit of tokens.
func words(s string) int { return len(strings.Fields(s)) }

// cities give each tool call its own input.
var cities = []string{"Paris", "London", "Tokyo", "New York", "Berlin", "Madrid", "Rome", "Sydney"}

// call is one tool call of the fake's assistant.
type call struct {
	id, name, input string // input is a JSON object
}

// makeCalls returns the calls to make: x-fake-tool-calls of them, or one per tool when
// the last user text asks to "use tools".
func (f *faults) makeCalls(tools []string, last string, idPrefix string) []call {
	k := f.ToolCallCount(len(tools), last)
	calls := make([]call, k)
	for i := range calls {
		name := "get_weather"
		if len(tools) > 0 {
			name = tools[i%len(tools)]
		}
		calls[i] = call{id: newID(idPrefix, 22, alnum), name: name,
			input: `{"location":` + strconv.Quote(cities[i%len(cities)]) + `}`}
	}
	return calls
}

// chat plans the assistant's answer to a chat of these message texts, whose last user text
// is last, offering these tools: its text, its tool calls (ids starting with idPrefix),
// their usage and the stop reason.
func (f *faults) chat(texts []string, last string, tools []string, idPrefix string) (text string, calls []call, u usage, stop string) {
	calls = f.makeCalls(tools, last, idPrefix)
	if len(calls) == 0 || f.HasReply {
		text = f.ReplyText(replyPrefix + last)
	}
	stop = "end_turn"
	if len(calls) > 0 {
		stop = "tool_use"
	}
	return text, calls, f.newUsage(promptTokens(texts, len(tools)), text, calls), stop
}

// usage is the token count of one exchange.
type usage struct {
	input, output, cached int
}

// prompt counts a prompt of these texts and tools.
func promptTokens(texts []string, tools int) int {
	n := 3 + 20*tools
	for _, t := range texts {
		n += 4 + words(t)
	}
	return n
}

func (f *faults) newUsage(prompt int, reply string, calls []call) usage {
	u := usage{input: prompt, output: words(reply), cached: min(f.cachedTokens, prompt)}
	for _, c := range calls {
		u.output += 8 + (len(c.name)+len(c.input))/4
	}
	return u
}
