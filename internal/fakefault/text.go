package fakefault

import (
	"strings"
	"unicode/utf8"
)

// Pad returns s padded with "." so that it can be cut into n non-empty
// pieces.
func Pad(s string, n int) string {
	if c := utf8.RuneCountInString(s); c < n {
		s += strings.Repeat(".", n-c)
	}
	return s
}

// Split cuts s into n pieces of nearly equal length in runes, none empty
// when s has at least n runes (see Pad); it gives fewer pieces when s has
// fewer runes, and one, maybe empty, when n is below 1.
func Split(s string, n int) []string {
	runes := utf8.RuneCountInString(s)
	if n > runes {
		n = max(runes, 1)
	}
	n = max(n, 1)
	pieces := make([]string, 0, n)
	start, i, r := 0, 0, 0
	for k := 1; k < n; k++ {
		end := runes * k / n
		for r < end {
			_, size := utf8.DecodeRuneInString(s[i:])
			i += size
			r++
		}
		pieces = append(pieces, s[start:i])
		start = i
	}
	return append(pieces, s[start:])
}
