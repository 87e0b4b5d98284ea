package fakefault

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestPad(t *testing.T) {
	tests := []struct {
		s    string
		n    int
		want string
	}{
		{"abc", 2, "abc"},
		{"abc", 3, "abc"},
		{"ab", 5, "ab..."},
		{"", 2, ".."},
		{"éé", 3, "éé."},
	}
	for _, tt := range tests {
		if got := Pad(tt.s, tt.n); got != tt.want {
			t.Errorf("Pad(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
		}
	}
}

func TestSplit(t *testing.T) {
	tests := []struct {
		s    string
		n    int
		want []string
	}{
		{"abcdef", 3, []string{"ab", "cd", "ef"}},
		{"abcde", 2, []string{"ab", "cde"}},
		{"abc", 1, []string{"abc"}},
		{"ab", 5, []string{"a", "b"}},
		{"", 3, []string{""}},
		{"héllo wörld", 4, []string{"hé", "llo", " wö", "rld"}},
		{"abc", 0, []string{"abc"}},
	}
	for _, tt := range tests {
		if got := Split(tt.s, tt.n); !slices.Equal(got, tt.want) {
			t.Errorf("Split(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
		}
	}
}

func FuzzSplit(f *testing.F) {
	f.Add("Hello! You said: hi", 5)
	f.Add("héllo", 3)
	f.Add("", 1)
	f.Fuzz(func(t *testing.T, s string, n int) {
		n = n%64 + 1
		if n < 1 {
			n += 64
		}
		pieces := Split(s, n)
		if got := strings.Join(pieces, ""); got != s {
			t.Fatalf("Split(%q, %d) joins to %q", s, n, got)
		}
		want := min(n, max(utf8.RuneCountInString(s), 1))
		if len(pieces) != want {
			t.Fatalf("Split(%q, %d) gives %d pieces, want %d", s, n, len(pieces), want)
		}
		for _, p := range pieces {
			if p == "" && s != "" {
				t.Fatalf("Split(%q, %d) gives an empty piece: %q", s, n, pieces)
			}
		}
		if padded := Pad(s, n); len(Split(padded, n)) != n {
			t.Fatalf("Split(Pad(%q, %d)) does not give %d pieces", s, n, n)
		}
	})
}
