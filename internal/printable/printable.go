// Package printable keeps text the run does not control (addresses,
// labels, Google's messages, source values) from acting on the terminal
// or the page that shows it. It only rewrites text, losing nothing.
package printable

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Acts reports whether a terminal, or the bidi algorithm, acts on r
// rather than showing it: controls (C0, DEL, C1: U+009B is a CSI),
// format characters (bidi overrides and isolates, zero-width spaces, the
// BOM) and the line and paragraph separators. The zero-width joiner and
// non-joiner are shown as they are: emoji sequences and Persian or Indic
// names are written with them, and they move nothing on the screen.
func Acts(r rune) bool {
	if r < utf8.RuneSelf {
		return r < 0x20 || r == 0x7f
	}
	if r == '\u200c' || r == '\u200d' {
		return false
	}
	return unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)
}

// Text is s as a terminal can show it and do nothing else with:
// addresses, labels, Google's messages and source values are typed by
// other people, and an escape sequence, a carriage return, a backspace, a
// bidi override or a zero-width character in one would rewrite the screen,
// hide a line or show another name than the one the plan acts on. Each
// such rune (and each byte that is not UTF-8) is written as its Go escape,
// \x1b, \r, \u202e; everything else is left as it is.
func Text(s string) string {
	if !strings.ContainsFunc(s, Acts) && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for s != "" {
		r, size := utf8.DecodeRuneInString(s)
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[0])
		case Acts(r):
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[:size])
		}
		s = s[size:]
	}
	return b.String()
}

// JSON is encoded JSON with every rune Acts reports, beyond what
// encoding/json escapes already (C0 controls), written as a \u escape:
// the same document to a decoder, and nothing a terminal acts on when it
// is shown. Such runes can only be inside strings, where \u escapes them.
func JSON(b []byte) []byte {
	i := 0
	for i < len(b) && b[i] < utf8.RuneSelf && b[i] != 0x7f {
		i++
	}
	if i == len(b) {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	for i = 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r >= 0x20 && Acts(r) && !(r == utf8.RuneError && size == 1) {
			for _, u := range utf16Units(r) {
				out = append(out, `\u`...)
				out = append(out, hex4(u)...)
			}
		} else {
			out = append(out, b[i:i+size]...)
		}
		i += size
	}
	return out
}

func utf16Units(r rune) []rune {
	if r < 0x10000 {
		return []rune{r}
	}
	r -= 0x10000
	return []rune{0xd800 + r>>10, 0xdc00 + r&0x3ff}
}

func hex4(u rune) string {
	s := strconv.FormatInt(int64(u), 16)
	for len(s) < 4 {
		s = "0" + s
	}
	return s
}
