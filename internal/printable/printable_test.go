package printable

import (
	"encoding/json"
	"testing"
)

func TestJSON(t *testing.T) {
	for _, tc := range []struct{ name, value, want string }{
		{"plain", "alice@example.com", `"alice@example.com"`},
		{"letters", "Équipe 東京", `"Équipe 東京"`},
		{"DEL and C1", "a\x7fb\u009b2J\u0085", `"a\u007fb\u009b2J\u0085"`},
		{"bidi and zero width", "\u202egnp.exe\u200b\u2066", `"\u202egnp.exe\u200b\u2066"`},
		{"outside the BMP", "x\U000E0001y", `"x\udb40\udc01y"`},
		{"joiners in emoji and names", "👩\u200d💻 می\u200cخواهم", "\"👩\u200d💻 می\u200cخواهم\""},
		{"C0 as encoding/json writes it", "a\x1bb", `"a\u001bb"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc, err := json.Marshal(tc.value)
			if err != nil {
				t.Fatal(err)
			}
			got := JSON(enc)
			if string(got) != tc.want {
				t.Errorf("JSON(%s) = %s, want %s", enc, got, tc.want)
			}
			var back string
			if err := json.Unmarshal(got, &back); err != nil || back != tc.value {
				t.Errorf("decodes to %q, %v; want %q", back, err, tc.value)
			}
		})
	}
}

// The zero-width joiner and non-joiner are part of how emoji and Persian
// or Indic names are written; Text leaves them, and still escapes the
// zero-width space beside them.
func TestTextKeepsJoiners(t *testing.T) {
	in := "👩\u200d💻 می\u200cخواهم a\u200bb"
	want := "👩\u200d💻 می\u200cخواهم a\\u200bb"
	if got := Text(in); got != want {
		t.Errorf("Text(%q) = %q, want %q", in, got, want)
	}
}
