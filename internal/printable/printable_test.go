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
