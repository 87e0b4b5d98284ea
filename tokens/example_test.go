package tokens_test

import (
	"fmt"

	"github.com/aiproxy-go/aiproxy/tokens"
)

func Example() {
	fmt.Println(tokens.EncodingFor("openai/gpt-4o-mini"), tokens.Count("gpt-4o-mini", "hello world"))
	fmt.Println(tokens.EncodingFor("gpt-4-turbo"), tokens.Count("gpt-4-turbo", "tiktoken is great!"))

	// A system and a user message: their texts plus the chat framing.
	fmt.Println(tokens.CountMessages("gpt-4o", []string{"You are terse.", "hello world"}))
	// Output:
	// o200k_base 2
	// cl100k_base 6
	// 17
}
