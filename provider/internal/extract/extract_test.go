package extract

import "testing"

func TestJoiner(t *testing.T) {
	var j Joiner
	for _, s := range []string{"", "a", "", "b c"} {
		j.Add(s)
	}
	if j.String() != "a\nb c" {
		t.Fatalf("%q", j.String())
	}
}

func TestDecodeLenient(t *testing.T) {
	var v struct {
		A int    `json:"a"`
		B string `json:"b"`
	}
	if !DecodeLenient([]byte(`{"a":"not a number","b":"kept"}`), &v) || v.B != "kept" {
		t.Fatalf("type mismatch spoiled the body: %+v", v)
	}
	if DecodeLenient([]byte(`{"a":`), &v) {
		t.Fatal("invalid JSON accepted")
	}
}
